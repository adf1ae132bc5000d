/**
 * The intake both runners use (the job-running Runner and the API node's
 * ApiRunner), built from the runner options in one place so a job is checked
 * the same way whichever node takes it. The homes are built here too: local
 * homes from `homeFor` (kernels from the pool, the gateway or a fresh launch),
 * users' own servers from `userServers`.
 */
import type { Logger } from 'pino';
import { defaultOutputPath } from '../homes/home.js';
import { Homes } from '../homes/homes.js';
import { getKernelSpec } from '../kernel/kernelspec-discovery.js';
import { readNotebookFile } from '../notebook/read.js';
import { lookupRunAs } from '../users/run-as.js';
import { Intake } from './intake.js';
import { UNLIMITED } from './time-limits.js';
import type { RunnerOptions } from './options.js';
import { ttlCached } from '../ttl-cache.js';

export type IntakeOptions = Pick<
  RunnerOptions,
  'homeFor' | 'limits' | 'readNotebook' | 'getKernelSpec' | 'runAsFor' | 'gateway' | 'userServers' | 'homes' | 'outputNameFor'
>;

/** `kernels`: how this process starts kernels (absent on an API node, which runs none). */
export function intakeFor(opts: IntakeOptions & Pick<RunnerOptions, 'pool' | 'kernelStartTimeoutMs'>, kernels?: { log: Logger }): Intake {
  const gateway = opts.gateway ?? null;
  const outputNameFor = opts.outputNameFor ?? defaultOutputPath;
  const homes = new Homes({
    mode: opts.homes ?? 'local',
    local: {
      homeFor: opts.homeFor,
      readNotebook: opts.readNotebook ?? readNotebookFile,
      // Looked up for every job (at submission and again when it runs): kept a few seconds (the gateway caches its own).
      kernelSpec: opts.getKernelSpec ?? (gateway ? (name) => gateway.kernelSpec(name) : ttlCached((name) => getKernelSpec(name), { ttlMs: 5000 })),
      runAsFor: opts.runAsFor ?? ttlCached((u) => lookupRunAs(u), { ttlMs: 30_000 }),
      outputNameFor,
      kernels: kernels ? { pool: opts.pool ?? null, gateway, startTimeoutMs: opts.kernelStartTimeoutMs, log: kernels.log } : null,
    },
    userServers: opts.userServers ?? null,
    userServer: { kernelStartTimeoutMs: opts.kernelStartTimeoutMs, log: kernels?.log },
  });
  return new Intake({ homes, limits: opts.limits ?? UNLIMITED });
}
