/**
 * The Fastify application: TypeBox type provider, OpenAPI 3 (`/openapi.json`,
 * Swagger UI at `/docs`), one plugin per resource under routes/, one error
 * handler, token authentication. Everything is mounted under the service
 * prefix ('/' standalone, '/services/hubmill/' behind JupyterHub).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../config.js';
import type { JobStore } from '../store/job-store.js';
import type { SessionStore } from '../store/session-store.js';
import type { JobRunner } from '../runner/runner-api.js';
import type { KernelSpec } from '../kernel/kernelspec-discovery.js';
import { HUBMILL_VERSION } from '../version.js';
import { redactUrl, type Authenticator } from './auth.js';
import type { NotebookInspector, RouteContext } from './context.js';
import { defaultAuthenticators, hubIntegrationFromConfig, mountAtRoot } from './hub-integration.js';
import { installIpLimit, installUserLimits, type LimitOptions } from './rate-limits.js';
import { loginUrl, oauthRoutes, wantsHtml } from './oauth.js';
import { UnauthorizedError } from './http-errors.js';
import { Metrics } from './prometheus.js';
import { installErrorHandling } from './problem.js';
import { installJsonBody } from './json-body.js';
import { Problem } from './schemas.js';
import { installRoleGate, type NodeIdentity } from './role-gate.js';
import seedRoutes from './routes/compat.js';
import healthRoutes from './routes/health.js';
import jobRoutes from './routes/jobs.js';
import notebookRoutes from './routes/notebooks.js';
import kernelspecRoutes from './routes/kernelspecs.js';
import metricsRoutes from './routes/metrics.js';
import uiRoutes, { redirectBrowsersToUi } from './routes/ui.js';
import scheduleRoutes, { type ScheduleDeps } from './routes/schedules.js';
import sessionRoutes from './routes/sessions.js';
import pipelineRoutes from './routes/pipelines.js';
import deliveryRoutes from './routes/deliveries.js';
import type { OutboxStore } from '../store/outbox-store.js';
import pipelineRunRoutes from './routes/pipeline-runs.js';
import secretRoutes from './routes/secrets.js';
import auditRoutes from './routes/audit.js';
import type { SecretVault } from '../runner/secret-vault.js';
import type { PipelineDeps } from './pipeline-access.js';
import { RunWatch } from './pipeline-run-watch.js';
import type { PipelineStore } from '../store/pipeline-store.js';
import { PipelineIntake } from '../runner/pipeline-intake.js';
import { WebhookAllowList } from '../schedules/webhook-address.js';
import { Homes } from '../homes/homes.js';
import { LocalHomes } from '../homes/local-home.js';
import type { UserServers } from '../homes/user-servers.js';
import { openApi30Bounds } from './openapi-30.js';
import type { OwnHome } from '../users/home-path.js';
import type { SharingStore } from '../store/sharing-store.js';
import { Access } from './access.js';
import type { PermissionsChangedHook } from './permissions-hook.js';
import permissionRoutes from './routes/permissions.js';
import shareLinkRoutes from './routes/share-links.js';

export interface AppDeps {
  config: Config;
  store: JobStore;
  runner: JobRunner;
  kernelspecs: () => Promise<KernelSpec[]>;
  logger: FastifyBaseLogger;
  /** Shared with the runner so it can count runs and kernel starts; created when absent. */
  metrics?: Metrics;
  /** Tried in order; default: the static API token when configured, hub tokens, browser sessions. */
  authenticators?: Authenticator[];
  /** Where browser sessions live (store/open.ts sessionStoreFor); absent, or with `authenticators`: no browser sign-in. */
  sessions?: SessionStore | null;
  inspectNotebook?: NotebookInspector;
  /** SSE heartbeat comment interval (default 15 s). */
  sseHeartbeatMs?: number;
  /** Reported as `papermill_path` by /health: the hubmill executable that stands in for papermill. */
  enginePath?: string;
  /** The schedules API (absent: not mounted). */
  schedules?: ScheduleDeps;
  /** The pipelines API's store (absent: not mounted). */
  pipelines?: PipelineStore;
  /** The notifications outbox: `GET …/deliveries` and retries on schedules and pipelines (absent: not mounted). */
  outbox?: OutboxStore;
  /** Wakes this node's notification deliverer (after a retry by hand). */
  wakeDeliveries?(): void;
  /** How often a watched pipeline run is re-read besides its jobs' events (default 250 ms). */
  runWatchPollMs?: number;
  /** This node's role and worker id (default: the configured role, no worker id); a worker serves only /health and /metrics. */
  node?: NodeIdentity;
  /** Users' own servers; with HUBMILL_HOMES=user-server the listings and job outputs go through their Contents API. */
  userServers?: UserServers | null;
  /** Secrets and the audit record (absent: those APIs are not mounted). */
  secrets?: SecretVault;
  /** The home of the user hubmill runs as when the template has none for it (users/home-path.ts ownHomeOutsideTemplate); default none. */
  ownHome?: OwnHome | null;
  /** Sharing's grants and share links (absent: only owners and admins see anything, as before sharing). */
  sharing?: SharingStore;
  /** AUDIT WIRING POINT: called after each permission change and share link created or revoked (permissions-hook.ts). */
  onPermissionsChanged?: PermissionsChangedHook;
}

/** How often expired browser sessions are deleted (they are refused from the moment they expire). */
const SESSION_SWEEP_MS = 10 * 60_000;

function cached<T>(fn: () => Promise<T>, ttlMs: number): () => Promise<T> {
  let value: { at: number; p: Promise<T> } | null = null;
  return () => {
    const now = Date.now();
    if (value && now - value.at < ttlMs) return value.p;
    const p = fn();
    value = { at: now, p };
    p.catch(() => {
      if (value?.p === p) value = null;
    });
    return p;
  };
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const prefix = config.servicePrefix;
  const mount = prefix.replace(/\/$/, '');
  const metrics = deps.metrics ?? new Metrics();
  metrics.bind({ countByStatus: () => deps.store.countByStatus(), countActive: () => deps.store.countActive(), stats: () => deps.runner.stats() });

  // Behind JupyterHub: hub tokens, browser sessions (OAuth); the static token stays for hub-less installs.
  const hub = hubIntegrationFromConfig(config);
  const defaults = defaultAuthenticators(config, hub, deps.authenticators ? null : (deps.sessions ?? null));
  const authenticators = deps.authenticators ?? defaults.authenticators;
  const sessions = defaults.sessions;
  const limits: LimitOptions = {
    perUserPerMin: config.rateLimitPerMin,
    perIpPerMin: config.rateLimitIpPerMin,
    windowMs: config.rateLimitWindowS * 1000,
  };

  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
    // The synchronous seed endpoints hold requests for minutes; never cut them short.
    requestTimeout: 0,
    forceCloseConnections: true,
    // The hub's proxy forwards the client address (per-IP rate limits).
    trustProxy: config.trustProxy === false ? false : config.trustProxy,
    // Served under the prefix (as the proxy sends it) and at the root (direct callers, as with the seed).
    rewriteUrl: mountAtRoot(mount),
  }).withTypeProvider<TypeBoxTypeProvider>();

  installJsonBody(app);

  app.addSchema(Problem);
  installErrorHandling(app);
  app.decorateRequest('identity', null);
  const node = deps.node ?? { role: config.role, workerId: null };
  installRoleGate(app, mount, node);

  // Per-IP limit before authentication: a storm of bad tokens never reaches the hub.
  await installIpLimit(app, limits);
  // A browser opening `/` gets the web UI; API clients keep the seed's JSON.
  app.addHook('onRequest', redirectBrowsersToUi(prefix));
  const docsPrefix = `${mount}/docs`;
  app.addHook('onRequest', async (req, reply) => {
    req.identity = null;
    // Unknown routes answer 404 without asking for credentials; the API shape is public (OpenAPI).
    if (req.routeOptions.url === undefined) return;
    if (req.routeOptions.config?.public) return;
    const path = req.url.split('?', 1)[0]!;
    if (path === docsPrefix || path.startsWith(`${docsPrefix}/`)) return;
    for (const a of authenticators) {
      const identity = await a.authenticate(req);
      if (identity) {
        req.identity = identity;
        return;
      }
    }
    // A browser opening a page is sent through the hub's login; API clients get 401.
    if (hub && wantsHtml(req)) return reply.redirect(loginUrl(prefix, req), 302);
    throw new UnauthorizedError(
      req.headers.authorization || (req.query as Record<string, unknown> | undefined)?.token
        ? 'invalid token'
        : 'authentication required: send "Authorization: token <token>" (or Bearer, or ?token=)',
    );
  });
  // Per-user request limit, once the caller is known (run quotas are the store's, at enqueue).
  installUserLimits(app, limits);
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    req.log.info(
      { method: req.method, url: redactUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, user: req.identity?.name },
      'request',
    );
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'hubmill',
        version: HUBMILL_VERSION,
        description:
          'Notebook execution service for JupyterHub. The seed endpoints (/, /health, /list-notebooks, /execute, /run-notebook) keep ' +
          'the papermill wrapper\'s request and response fields; the jobs API lives under /api/v1. Errors are application/problem+json ' +
          'with a `detail` field. Authenticate with `Authorization: token <token>` (or Bearer, or ?token=).',
      },
      servers: [{ url: mount || '/' }],
      components: {
        securitySchemes: {
          token: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'token <token>' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ token: [] }, { bearer: [] }],
    },
    // Shared schemas keep their $id as their name (Problem, Job) instead of def-N.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // The document lists paths without the mount prefix; `servers` carries it.
    transform: ({ schema, url }) => ({ schema, url: mount && url.startsWith(mount) ? url.slice(mount.length) || '/' : url }),
    // Valid 3.0.3: the draft-07 `exclusiveMinimum: 0` of the route schemas as `minimum: 0, exclusiveMinimum: true`.
    transformObject: (doc) => ('openapiObject' in doc ? openApi30Bounds(doc.openapiObject) : doc.swaggerObject),
  });
  await app.register(swaggerUi, { routePrefix: docsPrefix, uiConfig: { docExpansion: 'list', deepLinking: true } });
  app.get(`${mount}/openapi.json`, { schema: { hide: true }, config: { public: true } }, async () => app.swagger());

  const ctx: RouteContext = {
    config,
    store: deps.store,
    runner: deps.runner,
    kernelspecs: deps.kernelspecs,
    cachedKernelspecs: cached(deps.kernelspecs, 5000),
    metrics,
    homes: Homes.forRequests(config.homes, config.homeTemplate, deps.userServers ?? null, deps.ownHome ?? null),
    localHomes: new LocalHomes(config.homeTemplate, deps.ownHome ?? null),
    prefix,
    inspectNotebook: deps.inspectNotebook ?? null,
    sseHeartbeatMs: deps.sseHeartbeatMs ?? 15_000,
    enginePath: deps.enginePath ?? process.argv[1] ?? 'hubmill',
    node,
    access: new Access(deps.sharing ?? null),
  };
  await app.register(seedRoutes, { prefix: mount, ctx });
  await app.register(healthRoutes, { prefix: mount, ctx });
  await app.register(jobRoutes, { prefix: `${mount}/api/v1`, ctx });
  await app.register(notebookRoutes, { prefix: `${mount}/api/v1`, ctx });
  await app.register(kernelspecRoutes, { prefix: `${mount}/api/v1`, ctx });
  await app.register(metricsRoutes, { prefix: mount, ctx });
  if (deps.secrets) {
    await app.register(secretRoutes, { prefix: `${mount}/api/v1`, ctx, secrets: deps.secrets });
    await app.register(auditRoutes, { prefix: `${mount}/api/v1`, ctx, audit: deps.secrets.store });
  }

  let pipelineDeps: PipelineDeps | undefined;
  if (deps.pipelines) {
    const pipelines: PipelineDeps = {
      store: deps.pipelines,
      access: ctx.access,
      // The producer's check for every task: the one a job submitted to the jobs API passes.
      intake: new PipelineIntake({ check: (job, opts) => deps.runner.check(job, opts), defaultConcurrency: config.concurrency }),
      webhookAllow: new WebhookAllowList(config.webhookAllow),
      watch: new RunWatch({
        pipelines: deps.pipelines,
        jobs: deps.store,
        runner: deps.runner,
        prefix,
        pollMs: deps.runWatchPollMs,
        onError: (runId, err) => app.log.warn({ runId, err: (err as Error).message }, 'reading a watched pipeline run failed'),
      }),
    };
    pipelineDeps = pipelines;
    await app.register(pipelineRoutes, { prefix: `${mount}/api/v1`, ctx, pipelines });
    await app.register(pipelineRunRoutes, { prefix: `${mount}/api/v1`, ctx, pipelines });
  }
  // A schedule may fire a pipeline (with the pipelines API mounted).
  if (deps.schedules) await app.register(scheduleRoutes, { prefix: `${mount}/api/v1`, ctx, schedules: deps.schedules, pipelines: pipelineDeps });
  if (deps.sharing) {
    const hook = deps.onPermissionsChanged ?? null;
    await app.register(permissionRoutes, {
      prefix: `${mount}/api/v1`,
      ctx,
      deps: { sharing: deps.sharing, schedules: deps.schedules?.store, pipelines: deps.pipelines, onPermissionsChanged: hook },
    });
    await app.register(shareLinkRoutes, { prefix: mount, ctx, api: '/api/v1', deps: { sharing: deps.sharing, onPermissionsChanged: hook } });
  }
  if (deps.outbox && (deps.schedules || deps.pipelines)) {
    await app.register(deliveryRoutes, {
      prefix: `${mount}/api/v1`,
      ctx,
      deliveries: { outbox: deps.outbox, schedules: deps.schedules?.store, pipelines: deps.pipelines, wake: deps.wakeDeliveries },
    });
  }
  await app.register(uiRoutes, { prefix: mount, ctx, sessions });
  if (sessions) {
    await app.register(sessionRoutes, { prefix: `${mount}/api/v1`, sessions });
    const stopSweeping = sessions.startSweeping(SESSION_SWEEP_MS, (err) => app.log.warn({ err: (err as Error).message }, 'deleting expired browser sessions failed'));
    app.addHook('onClose', async () => stopSweeping());
  }
  // Not `register(oauthRoutes, hub.oauth)`: Fastify would read the options' `prefix` as a route prefix.
  if (hub && sessions) await app.register(async (scope) => oauthRoutes(scope, { ...hub.oauth, sessions }));
  return app;
}
