/**
 * The intake both runners use (the job-running Runner and the API node's
 * ApiRunner), built from the runner options in one place so a job is checked
 * the same way whichever node takes it.
 */
import { getKernelSpec } from '../kernel/kernelspecs.js';
import { readNotebookFile } from '../notebook/read.js';
import { lookupRunAs } from '../users/run-as.js';
import { Intake } from './intake.js';
import { UNLIMITED } from './limits.js';
import type { RunnerOptions } from './options.js';
import { ttlCached } from '../ttl-cache.js';

export type IntakeOptions = Pick<
  RunnerOptions,
  'homeFor' | 'limits' | 'readNotebook' | 'getKernelSpec' | 'runAsFor' | 'gateway' | 'userServers' | 'homes' | 'outputNameFor'
>;

export function intakeFor(opts: IntakeOptions): Intake {
  const gateway = opts.gateway ?? null;
  return new Intake({
    homeFor: opts.homeFor,
    limits: opts.limits ?? UNLIMITED,
    readNotebook: opts.readNotebook ?? readNotebookFile,
    // Looked up for every job (at submission and again when it runs): kept a few seconds (the gateway caches its own).
    kernelSpec: opts.getKernelSpec ?? (gateway ? (name) => gateway.kernelSpec(name) : ttlCached((name) => getKernelSpec(name), { ttlMs: 5000 })),
    runAsFor: opts.runAsFor ?? ttlCached((u) => lookupRunAs(u), { ttlMs: 30_000 }),
    userServers: opts.userServers ?? null,
    homes: opts.homes ?? 'local',
    outputNameFor: opts.outputNameFor,
  });
}
