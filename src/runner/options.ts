/**
 * What the runner is built from: the store, the homes, the kernel sources, the
 * limits and the timings, plus seams for tests (the real implementations are
 * the defaults). Shared by the runner's parts; see runner.ts for the whole.
 */
import type { Logger } from 'pino';
import type { RunAs, RunOptions, RunResult } from '../engine/run-types.js';
import type { Notebook } from '../notebook/notebook-types.js';
import type { Job, JobStatus, JobStore } from '../store/job-store.js';
import type { EventBus } from './in-process-event-bus.js';
import type { Limits } from './time-limits.js';
import type { RunQuota } from './quota.js';
import type { GatewayKernels, KernelAsk, WarmKernels } from '../homes/local-kernels.js';
import type { UserServers } from '../homes/user-servers.js';
import type { SecretVault } from './secret-vault.js';

export type { GatewayKernels, KernelAsk, WarmKernels };
/** Optional hooks for Prometheus (or anything else); exceptions in them are ignored. */
export interface RunnerMetrics {
  /** A job reached a final state after running (durationMs from claim to finish). */
  jobFinished?(status: JobStatus, durationMs: number, job: Job): void;
  /** A job was claimed and is about to run. */
  jobStarted?(job: Job): void;
}

export interface RetentionPolicy {
  /** Delete finished jobs (and their hubmill-named outputs) older than this many days. */
  days?: number | null;
  /** Keep at most this many finished jobs. */
  maxJobs?: number | null;
  /** How often to prune (default 1 h; also once at start). */
  intervalMs?: number;
}

export interface RunnerOptions {
  store: JobStore;
  /** Warm kernels; null/absent: a fresh kernel per job. */
  pool?: WarmKernels | null;
  /** The home folder of a user (e.g. from the home template); may throw InvalidUsernameError. */
  homeFor(username: string): string;
  /** Jobs running at once (default: number of CPU cores). */
  concurrency?: number;
  /** Whole-run and per-cell maximums (default: unlimited); see limits.ts for the rule. */
  limits?: Limits;
  /** The run quota per user (default: none); see quota.ts for the rule. */
  quota?: RunQuota;
  kernelStartTimeoutMs?: number;
  /** This process's identity in the store (default: host, pid and a random part; see lease.ts). Tests only. */
  workerId?: string;
  logger?: Logger;
  metrics?: RunnerMetrics;
  /** Jobs whose worker's lease expired are re-queued instead of failed. */
  requeueInterruptedOnStart?: boolean;
  /** Output path relative to the home for a job without one (default: see homes/home.ts). */
  outputNameFor?(job: Job, notebookRelPath: string): string;
  /** Extra kernel environment per job (a non-empty env means a fresh kernel instead of a warm one). */
  kernelEnv?(job: Job): Record<string, string> | undefined;
  retention?: RetentionPolicy;
  /** Secrets: resolved at submission, opened (as kernel environment, with their redactor) when a job runs; absent: jobs naming secrets are refused. */
  secrets?: SecretVault | null;
  /**
   * Kernels of local-target jobs on a Jupyter gateway instead of this machine (its
   * kernelspecs are the ones jobs may name); `pool`, when given, must keep its warm
   * kernels on the same gateway.
   */
  gateway?: GatewayKernels | null;
  /** Users' own servers through JupyterHub (shared with the HTTP listings; its owner closes it); null/absent: jobs with target `user-server` are refused (422). */
  userServers?: UserServers | null;
  /** config.homes: 'user-server' makes `user-server` every job's default target and refuses target `local` (default 'local'). */
  homes?: 'local' | 'user-server';
  /** Poll for jobs enqueued by other processes and cancels requested elsewhere (default 500 ms). */
  pollIntervalMs?: number;
  /** Heartbeat of running jobs, i.e. lease renewal (default: a sixth of the lease, at most 5 s). */
  heartbeatIntervalMs?: number;
  /** A running job whose heartbeat is older than this is taken as abandoned (default: HUBMILL_LEASE_S's). */
  leaseMs?: number;
  /** Minimum interval between progress writes to the store (default 250 ms). */
  progressIntervalMs?: number;
  /** Passed to the engine: minimum interval between output saves. */
  saveIntervalMs?: number;
  /** Passed to the engine: bound on a run's outputs in bytes (HUBMILL_MAX_OUTPUT_BYTES; absent or 0: none). */
  maxOutputBytes?: number;
  /** Bound for a cancelled run to wind down during stop() after its grace (default 15 s). */
  stopKillWaitMs?: number;
  /** Where job events go (default: in this process only); nodes sharing a database share a PgEventBus. */
  eventBus?: EventBus;
  /** A wait for a job's end also re-reads the store this often (default 500 ms): see job-events.ts. */
  waitPollMs?: number;
  // Seams for tests; the real implementations are the defaults.
  execute?: (opts: RunOptions) => Promise<RunResult>;
  readNotebook?: (path: string) => Promise<Notebook>;
  getKernelSpec?: (name: string) => Promise<{ name: string; language: string }>;
  runAsFor?: (username: string) => Promise<RunAs | null>;
}

/** Resolves when `p` settles or after `ms`, whichever comes first; the timer never outlives the wait. */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
