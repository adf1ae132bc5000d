/**
 * What a node's HTTP answers, by role (`--role`): `all` and `api` nodes serve
 * everything; a `worker` node serves only `/health` and `/metrics` (for probes
 * and scrapers) and answers every other request 421 with a clear message, so a
 * misrouted client learns where to go instead of getting a confusing 404.
 */
import type { FastifyInstance } from 'fastify';
import type { Role } from '../config.js';
import { WrongNodeError } from './http-errors.js';

/** The role of this node, and its worker id when it runs jobs; /health reports both. */
export interface NodeIdentity {
  role: Role;
  workerId: string | null;
}

const WORKER_ROUTES = ['/health', '/metrics'];

export function installRoleGate(app: FastifyInstance, mount: string, node: NodeIdentity): void {
  if (node.role !== 'worker') return;
  const allowed = new Set(WORKER_ROUTES.flatMap((r) => [`${mount}${r}`, r]));
  app.addHook('onRequest', async (req) => {
    const route = req.routeOptions.url;
    if (route !== undefined && allowed.has(route)) return;
    throw new WrongNodeError(
      'this node is a worker (--role worker): it runs jobs and serves only /health and /metrics; send API requests to an api node (or one with --role all)',
    );
  });
}
