// Helper process for sqlite-job-store.test.ts: claims jobs until the queue is empty
// and prints the claimed ids as JSON. Usage: claim-worker.ts DB_PATH WORKER_ID
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';

const [dbPath, workerId] = process.argv.slice(2) as [string, string];
const store = new SqliteJobStore({ path: dbPath });
const claimed: string[] = [];
for (;;) {
  const job = await store.claimNext(workerId);
  if (!job) break;
  claimed.push(job.id);
  // Hold the job a moment so the processes overlap instead of one draining the queue alone.
  await new Promise((r) => setTimeout(r, 2));
  await store.markFinished(job.id, 'succeeded', { result: { by: workerId } });
}
await store.close();
process.stdout.write(JSON.stringify(claimed));
