/**
 * `hubmill serve`: wires the job store, the kernel pool, the runner and the
 * HTTP app together, listens, and shuts down gracefully on SIGTERM/SIGINT
 * (stop claiming jobs, let running ones finish within the grace period, then
 * cancel them; close the HTTP server, the pool and the store). What `--role`
 * changes (api: HTTP only; worker: jobs and schedules only) is in server-roles.ts.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { serviceUrl, type Config } from './config.js';
import { buildApp } from './http/app.js';
import type { NotebookInspector } from './http/context.js';
import { Metrics } from './http/prometheus.js';
import { defaultTarget } from './homes/home.js';
import { UserServers } from './homes/user-servers.js';
import { ForkServers } from './kernel/fork-servers.js';
import { KernelGateway } from './kernel/gateway.js';
import { KernelPool } from './kernel/pool.js';
import type { PoolableKernel } from './kernel/pool-launcher.js';
import { findKernelSpecs } from './kernel/kernelspec-discovery.js';
import { summarizeNotebook } from './notebook/inspect.js';
import { readNotebookFile } from './notebook/read.js';
import { limitsFromSettings } from './runner/time-limits.js';
import { quotaFromSettings } from './runner/quota.js';
import { createLogger, routeConsoleDebug } from './logger.js';
import type { JobRunner } from './runner/runner-api.js';
import type { JobStore } from './store/job-store.js';
import { openStores } from './store/open.js';
import { SecretVault } from './runner/secret-vault.js';
import { createRoleRunner, openEventBus, roleRunsJobs } from './server-roles.js';
import { OutboxDeliverer } from './notify/outbox-deliverer.js';
import { smtpMailer } from './notify/mailer.js';
import { startScheduling, type Scheduling } from './server-schedules.js';
import { homePathFor, ownHomeOutsideTemplate } from './users/home-path.js';
import { HUBMILL_VERSION } from './version.js';

export interface StartedServer {
  app: FastifyInstance;
  /** The URL to open (with ?token= when the token was generated). */
  url: string;
  port: number;
  /** The Runner on `all` and `worker` nodes, the ApiRunner on `api` nodes (server-roles.ts). */
  runner: JobRunner;
  store: JobStore;
  pool: KernelPool<PoolableKernel>;
  /** The Jupyter gateway local-target jobs' kernels run on (HUBMILL_KERNEL_GATEWAY_URL), or null. */
  gateway: KernelGateway | null;
  metrics: Metrics;
  scheduling: Scheduling;
  /** Graceful shutdown; safe to call twice. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Install SIGTERM/SIGINT handlers that close and exit (default true; tests pass false). */
  signals?: boolean;
  logger?: Logger;
  /** Where the start banner goes (default stderr). */
  print?: (line: string) => void;
  /** The runner's poll for jobs queued elsewhere (default 500 ms); tests lengthen it to show what wakes the queue at once. */
  pollIntervalMs?: number;
}

/** The executable `papermill_path` reports: hubmill's CLI (it replaces papermill). */
function hubmillBinary(): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const candidates = [join(root, 'node_modules', '.bin', 'hubmill'), join(root, 'dist', 'cli', 'index.js')];
  return candidates.find((p) => existsSync(p)) ?? candidates[1]!;
}

/** What `hubmill serve` prints once it listens (the README shows the same lines). */
export function startBanner(url: string, tokenGenerated: boolean): string[] {
  const lines = [`hubmill ${HUBMILL_VERSION} is running at:`, `    ${url}`];
  if (tokenGenerated) lines.push('Send the token as "Authorization: token <token>" (set HUBMILL_API_TOKEN to choose your own).');
  return lines;
}

export const inspectNotebookFile: NotebookInspector = async (absPath) => summarizeNotebook(await readNotebookFile(absPath));

export async function startServer(config: Config, opts: StartOptions = {}): Promise<StartedServer> {
  const logger = opts.logger ?? (await createLogger(config));
  if (!opts.logger) routeConsoleDebug(logger);
  const print = opts.print ?? ((line: string) => process.stderr.write(`${line}\n`));

  await mkdir(config.dataDir, { recursive: true });
  const stores = await openStores(config, logger, { jobTarget: defaultTarget(config.homes) });
  const store = stores.jobs;
  // Secrets stored but no key (or another key): a clear error now, not a failure at the first job that uses one.
  const secrets = SecretVault.fromConfig(stores.secrets, config.secretKey);
  await secrets.checkAtStart().catch(async (err: unknown) => {
    await stores.close();
    throw err;
  });
  const metrics = new Metrics({ defaultMetrics: true });
  const runsJobs = roleRunsJobs(config.role);
  const eventBus = await openEventBus(stores, logger).catch(async (err: unknown) => {
    await stores.close();
    throw err;
  });
  const gateway = config.kernelGatewayUrl ? new KernelGateway({ url: config.kernelGatewayUrl, token: config.kernelGatewayToken }) : null;
  // With a gateway no kernel runs here, so there is nothing to fork from.
  const forkServers =
    runsJobs && config.forkServer && !gateway ? new ForkServers({ preload: { ...config.preload }, logger: logger.child({ component: 'fork-server' }) }) : null;
  const pool = new KernelPool<PoolableKernel>({
    sizes: runsJobs ? { ...config.poolSizes } : {},
    max: config.poolMax,
    preload: { ...config.preload },
    launcher: gateway ?? undefined,
    followJobFolders: !gateway,
    forkServers,
    logger: logger.child({ component: 'pool' }),
    onKernelStart: (name, ok) => metrics.onKernelStart(name, ok),
  });
  // A fire's jobs wake this node's runner (made below; the loop starts only after it).
  // Schedules saved before job templates were kept get theirs from the runner's check (the loop's first pass).
  const scheduling = startScheduling({
    store: stores.schedules,
    config,
    logger,
    metrics: metrics.schedules,
    wakeRunner: () => runner.wake(),
    onSettled: () => deliverer?.wake(),
    checkJob: async (job) => (await runner.check(job)).job,
  });
  // `npm start` as root with the default template: root's own home (/root), not the missing /home/root.
  const ownHome = config.jupyterhubApiUrl || config.homes === 'user-server' ? null : ownHomeOutsideTemplate(config.homeTemplate);
  const userServers =
    config.jupyterhubApiUrl && config.jupyterhubApiToken && config.hubPublicUrl
      ? new UserServers(
          { hubApiUrl: config.jupyterhubApiUrl, token: config.jupyterhubApiToken, publicUrl: config.hubPublicUrl, idleStopS: config.userServerIdleS },
          logger.child({ component: 'user-servers' }),
        )
      : null;
  const { runner, node } = createRoleRunner(config.role, {
    eventBus,
    store,
    pool,
    gateway,
    homeFor: (u) => homePathFor(u, config.homeTemplate, ownHome),
    concurrency: config.concurrency,
    pollIntervalMs: opts.pollIntervalMs,
    limits: limitsFromSettings(config),
    maxOutputBytes: config.maxOutputBytes,
    // The run quota of every entry (runner/quota.ts): refused at submission, bounded at claim.
    quota: quotaFromSettings(config),
    leaseMs: config.leaseS * 1000,
    logger,
    metrics: {
      jobFinished: (status, ms, job) => {
        metrics.jobFinished(status, ms);
        if (job.schedule_id) scheduling.scheduler.wake();
        if (job.pipeline_run_id) deliverer?.wake();
      },
    },
    requeueInterruptedOnStart: config.requeueOnRestart,
    retention: { days: config.retentionDays > 0 ? config.retentionDays : null },
    userServers,
    homes: config.homes,
    secrets,
  });

  let app: FastifyInstance | null = null;
  let closing: Promise<void> | null = null;
  // Pipeline runs whose state lags their jobs (a node died between a job's end and its advance, a retry's
  // backoff ended) are carried on by every node that runs jobs, within a third of the lease.
  // Notifications (webhooks, mail) wait in the outbox, written with the run ends they announce; every node
  // that runs jobs delivers them (notify/outbox-deliverer.ts), so one written before a crash is sent after it.
  let advanceTimer: NodeJS.Timeout | undefined;
  let deliverer: OutboxDeliverer | null = null;
  const mailer = config.smtpUrl && config.smtpFrom ? smtpMailer(config.smtpUrl, config.smtpFrom) : null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      logger.info({ graceS: config.shutdownGraceS }, 'shutting down');
      clearInterval(advanceTimer);
      await deliverer?.stop().catch((err: unknown) => logger.error({ err }, 'notification delivery stop failed'));
      mailer?.close();
      await scheduling.stop().catch((err: unknown) => logger.error({ err }, 'scheduler stop failed'));
      await runner.stop(config.shutdownGraceS * 1000).catch((err: unknown) => logger.error({ err }, 'runner stop failed'));
      await app?.close().catch((err: unknown) => logger.error({ err }, 'http close failed'));
      await userServers?.close().catch((err: unknown) => logger.error({ err }, 'user servers close failed'));
      await pool.close().catch((err: unknown) => logger.error({ err }, 'pool close failed'));
      await forkServers?.close().catch((err: unknown) => logger.error({ err }, 'fork server close failed'));
      await eventBus.close().catch((err: unknown) => logger.error({ err }, 'event bus close failed'));
      await stores.close().catch((err: unknown) => logger.error({ err }, 'store close failed'));
      logger.info('stopped');
    })());

  try {
    pool.start();
    app = await buildApp({
      node,
      schedules: scheduling.routes,
      pipelines: stores.pipelines,
      sessions: stores.sessions,
      outbox: stores.outbox,
      wakeDeliveries: () => deliverer?.wake(),
      sharing: stores.sharing,
      // Every permission change and share link created or revoked goes to the audit record (who, what, when, from where).
      onPermissionsChanged: async (c) => {
        const detail = { owner: c.owner, ...(c.before ? { before: c.before, after: c.after } : {}), ...(c.link_id ? { link_id: c.link_id, expires_at_ms: c.expires_at_ms } : {}) };
        await stores.secrets.recordAudit({ actor: c.by, action: c.action, target: `${c.kind}:${c.id}`, origin: c.from, detail });
      },
      config,
      store,
      runner,
      kernelspecs: gateway ? () => gateway.kernelspecs() : () => findKernelSpecs(),
      logger,
      metrics,
      inspectNotebook: inspectNotebookFile,
      userServers,
      enginePath: hubmillBinary(),
      ownHome,
      secrets,
    });
    // Loading the plugins and compiling every route's schemas is the longest synchronous stretch of the
    // start (seconds on a loaded machine): it happens before this node claims a job, whose lease it could
    // not renew meanwhile (the chaos test saw a restarted node lose the jobs it had just claimed).
    await app.ready();
    await runner.start();
    if (runsJobs) {
      scheduling.start();
      advanceTimer = setInterval(() => {
        stores.pipelines.advanceDue(Date.now()).then(
          (changed) => {
            if (changed > 0) {
              runner.wake();
              deliverer?.wake();
            }
          },
          (err: unknown) => logger.warn({ err: (err as Error).message }, 'advancing lagging pipeline runs failed'),
        );
      }, Math.max(500, Math.min(5000, (config.leaseS * 1000) / 3)));
      advanceTimer.unref();
    }
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await close();
    throw err;
  }

  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = serviceUrl(config, port);
  if (runsJobs) {
    deliverer = new OutboxDeliverer({
      outbox: stores.outbox,
      payloads: {
        jobs: store,
        schedules: stores.schedules,
        pipelines: stores.pipelines,
        prefix: config.servicePrefix,
        uiBase: config.publicUrl ? `${config.publicUrl}/` : serviceUrl({ ...config, apiTokenGenerated: false }, port),
      },
      allow: scheduling.routes.webhookAllow,
      mailer,
      owner: node.workerId ?? `notify-${process.pid}-${randomUUID()}`,
      attempts: config.notifyAttempts,
      backoffMs: config.notifyBackoffS * 1000,
      keepDays: config.retentionDays > 0 ? config.retentionDays : null,
      logger: logger.child({ component: 'notify' }),
    });
    deliverer.start();
  }
  logger.info(
    { role: config.role, workerId: node.workerId, host: config.host, port, prefix: config.servicePrefix, homeTemplate: config.homeTemplate, dataDir: config.dataDir, kernelGateway: gateway?.url ?? null },
    'hubmill listening',
  );
  for (const line of startBanner(url, config.apiTokenGenerated)) print(line);

  if (opts.signals !== false) {
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (signalled) {
        logger.warn({ signal: sig }, 'second signal: exiting now');
        process.exit(1);
      }
      signalled = true;
      logger.info({ signal: sig }, 'signal received');
      void close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  return { app, url, port, runner, store, pool, gateway, metrics, scheduling, close };
}
