// Helper process for runner-e2e.test.ts: runs a real Runner (real engine and
// kernels) on a SQLite file until killed, printing "started <id>" for each job it starts.
// Usage: runner-process.ts DB_PATH HOMES_DIR LEASE_MS
import { join } from 'node:path';
import { Runner } from '../../src/runner/runner.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';

const [dbPath, homes, leaseMs] = process.argv.slice(2) as [string, string, string];
const store = new SqliteJobStore({ path: dbPath });
const runner = new Runner({ store, homeFor: (u) => join(homes, u), concurrency: 1, pollIntervalMs: 50, leaseMs: Number(leaseMs) });
const origClaim = store.claimNext.bind(store);
store.claimNext = async (w: string) => {
  const job = await origClaim(w);
  if (job) process.stdout.write(`started ${job.id}\n`);
  return job;
};
await runner.start();
process.stdout.write('ready\n');
