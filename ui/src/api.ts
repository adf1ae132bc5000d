/**
 * The page's configuration (a meta tag the server fills in) and the API calls.
 * The answers' types come from the server's TypeBox schemas (type-only imports:
 * nothing of the server is bundled), so a changed field fails `tsc -p ui`.
 */
import type { JobViewT, MeViewT, NotebookInfoT } from '../../src/http/schemas.js';
import type { ScheduleViewT } from '../../src/http/schedule-schemas.js';
import type { DeliveryViewT } from '../../src/http/routes/deliveries.js';
import { jsonText, RawJson } from './json-text';
// The server's one list of job states (job-states.ts imports nothing, so it bundles as is).
import { JOB_STATUSES as STATES, isTerminal, type JobStatus } from '../../src/job-states.js';

export interface HubConf {
  base_url: string;
  host: string;
  login: string;
}
export interface Conf {
  prefix: string;
  hub: HubConf | null;
}

export const conf: Conf = (() => {
  const meta = document.querySelector('meta[name="hubmill-config"]');
  try {
    return JSON.parse(meta?.getAttribute('content') ?? '') as Conf;
  } catch {
    return { prefix: '/', hub: null };
  }
})();

export { STATES, isTerminal, type JobStatus };

/** A job as the API answers it (GET /api/v1/jobs/{id}; JobView). */
export type Job = JobViewT;
/** The signed-in session (GET /ui/api/me; MeView). */
export type Me = MeViewT;
/** A notebook of a user's home (GET /api/v1/notebooks; NotebookInfo). */
export type NotebookInfo = NotebookInfoT;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The problem document, when the answer was one (e.g. `parameters` of a strict_parameters 422). */
    readonly problem: Record<string, unknown> | null = null,
  ) {
    super(message);
  }
}

let xsrf: string | null = null;
export function setXsrf(t: string | null): void {
  xsrf = t;
}

export const url = (path: string) => `${conf.prefix}${path}`;

export async function api<T>(path: string, init: { method?: string; body?: unknown; reviver?: Reviver } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (xsrf && init.method && init.method !== 'GET') headers['x-xsrf-token'] = xsrf;
  const res = await fetch(url(path), {
    method: init.method ?? 'GET',
    headers,
    // jsonText: parameters the form typed as floats or JSON keep their spelling (json-text.ts).
    body: init.body === undefined ? undefined : jsonText(init.body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text, init.reviver);
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const detail = (body as { detail?: string })?.detail ?? `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, detail, body && typeof body === 'object' ? (body as Record<string, unknown>) : null);
  }
  return body as T;
}

export const q = (params: Record<string, string | number | null | undefined>) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
};

export const listNotebooks = (user: string) => api<{ notebooks: NotebookInfo[]; truncated: boolean }>(`api/v1/notebooks${q({ username: user, limit: 2000 })}`);
export const listJobs = (p: { username?: string | null; status?: string; notebook?: string; schedule_id?: string; cursor?: string; limit?: number; shared?: boolean }) =>
  api<{ jobs: Job[]; next_cursor: string | null }>(
    `api/v1/jobs${q({ username: p.username, status: p.status, notebook: p.notebook, schedule_id: p.schedule_id, cursor: p.cursor, limit: p.limit ?? 50, shared: p.shared ? 'true' : null })}`,
  );
export const getJob = (id: string) => api<Job>(`api/v1/jobs/${encodeURIComponent(id)}`);

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;
/** Numbers whose JSON text says more than a JS number (`2.0`, digits beyond 2^53) kept as that text, where the browser tells the source. */
const keepNumberText: Reviver = (_key, value, context) =>
  typeof value === 'number' && context?.source !== undefined && context.source !== String(value) ? new RawJson(context.source) : value;
/**
 * A job's parameters as the server holds them, to send again (Rerun): the float 2.0 stays
 * `2.0` (with JSON.parse source text access: Chrome 114, Firefox 135, Safari 18.4; older browsers send 2).
 */
export const jobParameters = async (id: string) =>
  (await api<Job>(`api/v1/jobs/${encodeURIComponent(id)}`, { reviver: keepNumberText as (this: unknown, key: string, value: unknown) => unknown })).parameters;
export const submitJob = (body: Record<string, unknown>) => api<Job>('api/v1/jobs', { method: 'POST', body });
export const cancelJob = (id: string) => api<Job>(`api/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
/** The output notebook, fetched and parsed in a worker when there is one (big notebooks do not block the page). */
export function outputNotebook(id: string): Promise<Notebook> {
  const path = `api/v1/jobs/${encodeURIComponent(id)}/output`;
  const worker = notebookWorker();
  if (!worker) return api<Notebook>(path);
  const n = ++requests;
  return new Promise((resolve, reject) => {
    const on = (e: MessageEvent<{ id: number; value?: Notebook; error?: { status: number; detail: string } }>) => {
      if (e.data.id !== n) return;
      worker.removeEventListener('message', on);
      if (e.data.error) reject(new ApiError(e.data.error.status, e.data.error.detail));
      else resolve(e.data.value!);
    };
    worker.addEventListener('message', on);
    worker.postMessage({ id: n, url: url(path) });
  });
}

let worker: Worker | null | undefined;
let requests = 0;
function notebookWorker(): Worker | null {
  if (worker !== undefined) return worker;
  const src = document.querySelector('meta[name="hubmill-worker"]')?.getAttribute('content');
  try {
    worker = src ? new Worker(src, { type: 'module', name: 'notebooks' }) : null;
  } catch {
    worker = null;
  }
  return worker;
}

export interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  execution_count?: number | null;
}
export interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
  metadata?: { papermill?: { duration?: number | null; status?: string }; tags?: string[] } & Record<string, unknown>;
}
export interface Notebook {
  cells: Cell[];
  metadata?: { kernelspec?: { name?: string; language?: string }; language_info?: { name?: string } };
}

export const joinText = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join('') : (t ?? ''));

/** A schedule as the API answers it (ScheduleView). */
export type Schedule = ScheduleViewT;
/** A run of a schedule: a job (schedule_id, scheduled_for, attempt are Job fields). */
export type ScheduleJob = Job;

const sched = (id: string, tail = '') => `api/v1/schedules/${encodeURIComponent(id)}${tail}`;
export const listSchedules = (username: string | null, shared = false) =>
  api<{ schedules: Schedule[]; next_cursor: string | null }>(`api/v1/schedules${q({ username, limit: 500, shared: shared ? 'true' : null })}`);
export const getSchedule = (id: string) => api<Schedule>(sched(id));
export const createSchedule = (body: Record<string, unknown>) => api<Schedule>('api/v1/schedules', { method: 'POST', body });
export const patchSchedule = (id: string, body: Record<string, unknown>) => api<Schedule>(sched(id), { method: 'PATCH', body });
export const deleteSchedule = (id: string) => api<null>(sched(id), { method: 'DELETE' });
export const setPaused = (id: string, paused: boolean) => api<Schedule>(sched(id, paused ? '/pause' : '/resume'), { method: 'POST' });
export const runScheduleNow = (id: string) => api<Job>(sched(id, '/run'), { method: 'POST', body: {} });
export const scheduleRuns = (id: string, cursor?: string) => api<{ jobs: ScheduleJob[]; next_cursor: string | null }>(sched(id, `/runs${q({ cursor, limit: 25 })}`));
/** A notification of a run's end (webhook or e-mail) and how its delivery went (DeliveryView). */
export type Delivery = DeliveryViewT;
const deliveriesOf = (kind: 'schedules' | 'pipelines', id: string, tail = '') => `api/v1/${kind}/${encodeURIComponent(id)}/deliveries${tail}`;
export const listDeliveries = (kind: 'schedules' | 'pipelines', id: string) => api<{ deliveries: Delivery[] }>(deliveriesOf(kind, id, q({ limit: 50 })));
export const retryDelivery = (kind: 'schedules' | 'pipelines', id: string, deliveryId: string) =>
  api<Delivery>(deliveriesOf(kind, id, `/${encodeURIComponent(deliveryId)}/retry`), { method: 'POST' });
export const previewCron = (cron: string, timezone: string, count = 5) => api<{ times: string[] }>(`api/v1/schedules/preview${q({ cron, timezone, count })}`);
