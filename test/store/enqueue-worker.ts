// Helper process for sqlite-job-store.test.ts: submits COUNT jobs for one user under a
// run quota, all at once, and prints how many were accepted and refused as JSON.
// Usage: enqueue-worker.ts DB_PATH USERNAME MAX_ACTIVE COUNT
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { RunQuotaError } from '../../src/errors.js';

const [dbPath, username, maxActive, count] = process.argv.slice(2) as [string, string, string, string];
const store = new SqliteJobStore({ path: dbPath });
let accepted = 0;
let refused = 0;
for (let i = 0; i < Number(count); i++) {
  try {
    await store.enqueue({ username, notebook: `n${i}.ipynb`, parameters: {}, submitted_by: username, max_active: Number(maxActive) });
    accepted++;
  } catch (e) {
    if (!(e instanceof RunQuotaError)) throw e;
    refused++;
  }
  // Let the other processes interleave.
  await new Promise((r) => setImmediate(r));
}
await store.close();
process.stdout.write(JSON.stringify({ accepted, refused }));
