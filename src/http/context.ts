/**
 * What the route plugins share with the app that mounts them. Kept apart from
 * app.ts so that routes never import the module that imports them.
 */
import type { Config } from '../config.js';
import type { JobStore } from '../store/job-store.js';
import type { JobRunner } from '../runner/runner-api.js';
import type { Homes } from '../homes/homes.js';
import type { LocalHomes } from '../homes/local-home.js';
import type { KernelSpec } from '../kernel/kernelspec-discovery.js';
import type { InspectedParameter } from '../notebook/notebook-types.js';
import type { Metrics } from './prometheus.js';
import type { NodeIdentity } from './role-gate.js';
import type { Access } from './access.js';

/** What `GET /api/v1/notebooks` shows about one notebook; the server wires it to notebook/inspect. */
export interface NotebookInspection {
  parameters: InspectedParameter[];
  kernel: string | null;
  language: string | null;
}
export type NotebookInspector = (absPath: string) => Promise<NotebookInspection>;

/** What every route plugin receives. */
export interface RouteContext {
  config: Config;
  store: JobStore;
  runner: JobRunner;
  kernelspecs: () => Promise<KernelSpec[]>;
  metrics: Metrics;
  /** Users' homes as configured (HUBMILL_HOMES): a local folder or the user's own server (homes/). */
  homes: Homes;
  /** The local home template (paths on this machine; the seed's absolute-path endpoints). */
  localHomes: LocalHomes;
  /** The service prefix, starting and ending with '/'. */
  prefix: string;
  inspectNotebook: NotebookInspector | null;
  sseHeartbeatMs: number;
  enginePath: string;
  /** This node's role and worker id (reported by /health). */
  node: NodeIdentity;
  /** kernelspecs() cached for a few seconds (the finder reads many dirs; /health is polled). */
  cachedKernelspecs: () => Promise<KernelSpec[]>;
  /** The access rule of owned objects, with sharing's grants (access.ts). */
  access: Access;
}
