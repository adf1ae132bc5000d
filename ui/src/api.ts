/** The page's configuration (a meta tag the server fills in) and the API calls. */
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

// The server's one list of job states (it imports nothing, so it bundles as is).
import { JOB_STATUSES as STATES, isTerminal, type JobStatus } from '../../src/store/job-states.js';
export { STATES, isTerminal, type JobStatus };

export interface Job {
  id: string;
  status: JobStatus;
  username: string;
  notebook: string;
  parameters: Record<string, unknown>;
  kernel: string | null;
  timeout_s: number | null;
  cell_timeout_s: number | null;
  submitted_by: string;
  source: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
  output_path: string | null;
  target?: 'local' | 'user-server';
  /** The user's named server (target user-server); null: the default server. */
  server_name?: string | null;
  progress: { cells_total: number; cells_done: number };
  error: { ename: string; evalue: string; traceback?: string[]; cell_index?: number | null } | null;
  result: Record<string, unknown> | null;
  cancel_requested: boolean;
  links: { self: string; output: string; events: string; cancel: string };
}

export interface Me {
  name: string;
  kind: string;
  admin: boolean;
  xsrf_token: string | null;
  home_user: string | null;
  users: string[];
}

export interface NotebookInfo {
  name: string;
  path: string;
  kernel: string | null;
  language: string | null;
  modified: string;
  parameters: { name: string; inferred_type_name: string; default: string; help: string }[];
  error: { code: string; detail: string } | null;
}

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

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (xsrf && init.method && init.method !== 'GET') headers['x-xsrf-token'] = xsrf;
  const res = await fetch(url(path), {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
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
export const listJobs = (p: { username?: string | null; status?: string; notebook?: string; schedule_id?: string; cursor?: string; limit?: number }) =>
  api<{ jobs: Job[]; next_cursor: string | null }>(`api/v1/jobs${q({ username: p.username, status: p.status, notebook: p.notebook, schedule_id: p.schedule_id, cursor: p.cursor, limit: p.limit ?? 50 })}`);
export const getJob = (id: string) => api<Job>(`api/v1/jobs/${encodeURIComponent(id)}`);
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

export interface Schedule {
  id: string;
  owner: string;
  name: string;
  notebook: string;
  parameters: Record<string, unknown>;
  kernel: string | null;
  cron: string;
  timezone: string;
  timeout_s: number | null;
  cell_timeout_s: number | null;
  overlap: 'skip' | 'queue' | 'allow';
  max_concurrent: number;
  max_retries: number;
  retry_backoff_s: number;
  catchup: 'latest' | 'all' | 'none';
  max_catchup: number;
  paused: boolean;
  notify: { webhook_url: string; on: string[] } | null;
  next_run_at: string | null;
  last_run: { scheduled_for: string; job_id: string | null } | null;
  fires: number;
  missed_skipped: number;
  overlap_skipped: number;
  retries: number;
  created_at: string;
  updated_at: string;
  webhook_secret?: string;
}
export type ScheduleJob = Job & { schedule_id: string | null; scheduled_for: string | null; attempt: number };

const sched = (id: string, tail = '') => `api/v1/schedules/${encodeURIComponent(id)}${tail}`;
export const listSchedules = (username: string | null) => api<{ schedules: Schedule[]; next_cursor: string | null }>(`api/v1/schedules${q({ username, limit: 500 })}`);
export const getSchedule = (id: string) => api<Schedule>(sched(id));
export const createSchedule = (body: Record<string, unknown>) => api<Schedule>('api/v1/schedules', { method: 'POST', body });
export const patchSchedule = (id: string, body: Record<string, unknown>) => api<Schedule>(sched(id), { method: 'PATCH', body });
export const deleteSchedule = (id: string) => api<null>(sched(id), { method: 'DELETE' });
export const setPaused = (id: string, paused: boolean) => api<Schedule>(sched(id, paused ? '/pause' : '/resume'), { method: 'POST' });
export const runScheduleNow = (id: string) => api<Job>(sched(id, '/run'), { method: 'POST', body: {} });
export const scheduleRuns = (id: string, cursor?: string) => api<{ jobs: ScheduleJob[]; next_cursor: string | null }>(sched(id, `/runs${q({ cursor, limit: 25 })}`));
export const previewCron = (cron: string, timezone: string, count = 5) => api<{ times: string[] }>(`api/v1/schedules/preview${q({ cron, timezone, count })}`);
