/**
 * What `--role` changes in `hubmill serve` (see docs/architecture.md, "Roles"):
 *
 * - `all` (default): one node does everything (today's single process).
 * - `api`: answers HTTP; runs no kernel, claims no job, runs no schedule loop,
 *   keeps no warm pool and no fork server. Submissions are checked and
 *   enqueued; waits, cancels and SSE work for jobs some worker runs, through
 *   the store and the shared event bus (ApiRunner).
 * - `worker`: claims and runs jobs and fires schedules; its HTTP serves only
 *   /health and /metrics (http/role-gate.ts).
 *
 * The event bus is PostgreSQL's (NOTIFY + the job_events table) whenever a
 * database URL is configured, so nodes share live events; otherwise it lives in
 * this process. Everything here works with any JobStore.
 */
import type { Logger } from 'pino';
import type { Role } from './config.js';
import type { NodeIdentity } from './http/role-gate.js';
import { ApiRunner } from './runner/api-runner.js';
import { InProcessEventBus, type EventBus } from './runner/in-process-event-bus.js';
import { Runner, type RunnerOptions } from './runner/runner.js';
import type { JobRunner } from './runner/runner-api.js';
import type { Stores } from './store/open.js';
import { clientConfig } from './store/pg/connect.js';
import { PgEventBus } from './store/pg/pg-event-bus.js';
import { PgJobStore } from './store/pg/pg-job-store.js';

/** What a role does besides HTTP. */
export function roleRunsJobs(role: Role): boolean {
  return role !== 'api';
}

/** The event bus for this node's configuration, started. */
export async function openEventBus(stores: Stores, logger: Logger): Promise<EventBus> {
  if (!(stores.jobs instanceof PgJobStore)) {
    return new InProcessEventBus({
      onListenerError: (jobId, err) => logger.warn({ jobId, err: (err as Error).message }, 'job event listener failed'),
    });
  }
  // The store's pool, schema and LISTEN connection: events live beside the jobs (and its migrations made their tables).
  const jobs = stores.jobs;
  const bus = new PgEventBus({ connection: clientConfig(jobs.target), pool: jobs.pool, listener: jobs.listener, schema: jobs.schema, logger });
  try {
    await bus.start();
  } catch (err) {
    await bus.close().catch(() => undefined);
    throw err;
  }
  return bus;
}

/** The runner of a role: the full Runner for `all` and `worker`, the ApiRunner for `api`. */
export function createRoleRunner(role: Role, opts: RunnerOptions & { eventBus: EventBus }): { runner: JobRunner; node: NodeIdentity } {
  if (!roleRunsJobs(role)) return { runner: new ApiRunner(opts), node: { role, workerId: null } };
  const runner = new Runner(opts);
  return { runner, node: { role, workerId: runner.workerId } };
}
