/**
 * Coherence checks of deploy/ (no Docker engine or cluster runs here): each
 * checker reads a deploy folder and returns the problems it finds, so the tests
 * can run them on the real files (no problems) and on broken copies (the
 * expected problem). Environment names are taken from the source: what
 * the settings table (src/settings/table.ts) reads, and what deploy/start.sh and deploy/jupyterhub_config.py read.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROLES } from '../../src/config.js';
import { plainDefault, SETTINGS } from '../../src/settings/table.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Y = any; // parsed YAML: shapes are checked by the code below, not by types

/** HUBMILL_* and JUPYTERHUB_* names in a text. */
export function prefixedNames(text: string): Set<string> {
  return new Set(text.match(/\b(?:HUBMILL|JUPYTERHUB)_[A-Z0-9_]*[A-Z0-9]\b/g) ?? []);
}

/**
 * Variables hubmill's configuration reads: each setting's variable and the ones
 * its default reads (`related`), plus any `env.NAME` / `env['NAME']` in the
 * given sources (config.ts and the settings table), so an undeclared read shows up.
 */
export function configReads(sources: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const s of Object.values(SETTINGS)) {
    out.add(s.env);
    for (const v of s.related ?? []) for (const n of v.names) out.add(n);
  }
  for (const text of sources) {
    for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b|\benv\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]/g)) out.add((m[1] ?? m[2])!);
  }
  return out;
}

/** The sources of the configuration: config.ts and src/settings/*.ts. */
export function configSources(srcDir: string): string[] {
  const dir = join(srcDir, 'settings');
  return [join(srcDir, 'config.ts'), ...readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f))].map((p) => readFileSync(p, 'utf8'));
}

/** Every variable hubmill reads: the configuration's, plus `process.env.NAME` anywhere in src/ (a few dev switches). */
export function hubmillReads(srcDir: string): Set<string> {
  const out = configReads(configSources(srcDir));
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/\bprocess\.env\.([A-Z][A-Z0-9_]*)\b/g)) out.add(m[1]!);
    }
  };
  walk(srcDir);
  return out;
}

/** Backticked names in the first column of the first table after the heading `heading` of a Markdown text. */
export function tableNames(markdown: string, heading: string): Set<string> {
  const at = markdown.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`heading ${JSON.stringify(heading)} not found`);
  const lines = markdown.slice(at + heading.length + 2).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const out = new Set<string>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    for (const m of line.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) out.add(m[1]!);
  }
  return out;
}

/** Variables deploy/start.sh and deploy/jupyterhub_config.py read (HUBMILL_* and JUPYTERHUB_* only). */
export function scriptReads(deployDir: string): Set<string> {
  const out = new Set<string>();
  const py = readFileSync(join(deployDir, 'jupyterhub_config.py'), 'utf8');
  for (const m of py.matchAll(/\benv\(\s*"([A-Z][A-Z0-9_]*)"|os\.environ\[\s*"([A-Z][A-Z0-9_]*)"\s*\]/g)) out.add((m[1] ?? m[2])!);
  const sh = readFileSync(join(deployDir, 'start.sh'), 'utf8');
  for (const m of sh.matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g)) out.add(m[1]!);
  return new Set([...out].filter((n) => prefixedNames(n).size > 0));
}

/** Parses every YAML document of a file; throws on a syntax error. */
export function yamlDocs(file: string): Y[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
  return list.map((d) => d.toJS({ maxAliasCount: 100 }) as Y).filter((d) => d !== null);
}

const has = (o: Y, k: string): boolean => o !== null && typeof o === 'object' && Object.prototype.hasOwnProperty.call(o, k);
/** `--role X` in a command line, else the HUBMILL_ROLE of the environment, else all. */
function roleOf(argv: Y, env: Record<string, string>): string {
  const args = Array.isArray(argv) ? argv.map(String) : [];
  const i = args.indexOf('--role');
  return i >= 0 ? (args[i + 1] ?? '') : (env.HUBMILL_ROLE ?? 'all');
}
/** Names of the variables a compose value interpolates, and whether each must be given (no default). */
function interpolations(value: string): Array<{ name: string; required: boolean }> {
  return [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}/g)].map((m) => ({ name: m[1]!, required: !m[2] || m[2].replace(':', '').startsWith('?') }));
}
const SECRET_KEY = /TOKEN|SECRET|PASSWORD/;

export interface Names {
  /** What hubmill reads (config.ts). */
  config: Set<string>;
  /** What the deploy scripts read. */
  scripts: Set<string>;
}

/** deploy/compose/scale-out.yml, its nginx.conf and .env.example. */
export function checkCompose(deployDir: string, names: Names): string[] {
  const problems: string[] = [];
  const file = join(deployDir, 'compose', 'scale-out.yml');
  const doc = yamlDocs(file)[0];
  const services: Record<string, Y> = doc.services ?? {};
  const envOf = (s: Y): Record<string, string> => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));

  // depends_on and health checks
  for (const [name, s] of Object.entries(services)) {
    const deps = Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d: string) => [d, {}])) : (s.depends_on ?? {});
    for (const [dep, cond] of Object.entries(deps as Record<string, Y>)) {
      if (!has(services, dep)) problems.push(`${name} depends on unknown service ${dep}`);
      else if (cond?.condition === 'service_healthy' && !services[dep].healthcheck) problems.push(`${name} waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
    }
    if (s.build) {
      const dockerfile = join(dirname(file), s.build.context ?? '.', s.build.dockerfile ?? 'Dockerfile');
      if (!existsSync(dockerfile)) problems.push(`${name}: build file ${dockerfile} missing`);
    }
  }

  // PostgreSQL
  const pg = Object.entries(services).find(([, s]) => String(s.image ?? '').startsWith('postgres:'));
  if (!pg) problems.push('no PostgreSQL service (official postgres image)');
  else {
    const [pgName, pgSvc] = pg;
    if (!(pgSvc.volumes ?? []).some((v: string) => String(v).endsWith(':/var/lib/postgresql/data'))) problems.push('PostgreSQL keeps its data in no volume');
    if (!pgSvc.healthcheck) problems.push('PostgreSQL has no healthcheck');
    const pgEnv = envOf(pgSvc);
    for (const [name, s] of Object.entries(services)) {
      const url = envOf(s).HUBMILL_DATABASE_URL;
      if (url === undefined) continue;
      const m = /^postgres(?:ql)?:\/\/([^:@/]+)(?::[^@]*)?@([^:/]+):(\d+)\/([^?]+)/.exec(url);
      if (!m) problems.push(`${name}: HUBMILL_DATABASE_URL is not a postgresql://user:pw@host:port/db URL`);
      else if (m[2] !== pgName || m[3] !== '5432' || m[1] !== pgEnv.POSTGRES_USER || m[4] !== pgEnv.POSTGRES_DB) problems.push(`${name}: HUBMILL_DATABASE_URL does not match the ${pgName} service (host, port 5432, user, database)`);
    }
  }

  // hubmill nodes
  const nodes = Object.entries(services).filter(([, s]) => Array.isArray(s.command) && s.command.includes('serve'));
  const byRole: Record<string, string[]> = {};
  for (const [name, s] of nodes) {
    const env = envOf(s);
    const role = roleOf(s.command, env);
    if (!(ROLES as readonly string[]).includes(role)) problems.push(`${name}: role ${JSON.stringify(role)} is not one of ${ROLES.join('|')}`);
    (byRole[role] ??= []).push(name);
    for (const k of Object.keys(env)) if (prefixedNames(k).size > 0 && !names.config.has(k)) problems.push(`${name}: ${k} is not a variable hubmill reads`);
    if (!env.HUBMILL_DATABASE_URL) problems.push(`${name}: no HUBMILL_DATABASE_URL`);
    const port = env.HUBMILL_PORT ?? '8002';
    const hc = JSON.stringify(s.healthcheck?.test ?? '');
    if (!hc.includes(`127.0.0.1:${port}/health`)) problems.push(`${name}: healthcheck does not ask /health on port ${port}`);
    const hub = /^https?:\/\/([^:/]+):(\d+)\/hub\/api$/.exec(env.JUPYTERHUB_API_URL ?? '');
    if (!hub || !has(services, hub[1]!)) problems.push(`${name}: JUPYTERHUB_API_URL does not name a service`);
  }
  if ((byRole.api ?? []).length < 2 || (byRole.worker ?? []).length < 2) problems.push(`expected two api and two worker nodes, found ${JSON.stringify(byRole)}`);
  const secrets = new Set(nodes.map(([, s]) => envOf(s).HUBMILL_COOKIE_SECRET));
  if (secrets.size !== 1 || secrets.has(undefined as unknown as string)) problems.push('the nodes do not share one HUBMILL_COOKIE_SECRET');

  // The hub points at the load balancer, which points at every API node.
  const hubEntry = Object.entries(services).find(([, s]) => envOf(s).HUBMILL_MODE !== undefined);
  const hubUrl = /^http:\/\/([^:/]+):(\d+)\/?$/.exec(hubEntry ? (envOf(hubEntry[1]).HUBMILL_URL ?? '') : '');
  if (!hubEntry || envOf(hubEntry[1]).HUBMILL_MODE !== 'remote' || !hubUrl) problems.push('no hub service with HUBMILL_MODE=remote and HUBMILL_URL=http://<lb>:<port>');
  else {
    const lb = services[hubUrl[1]!];
    const conf = lb && (lb.volumes ?? []).map(String).find((v: string) => v.endsWith(':/etc/nginx/nginx.conf:ro') || v.endsWith(':/etc/nginx/nginx.conf'));
    if (!conf) problems.push(`HUBMILL_URL names ${hubUrl[1]}, which is not an nginx service with a mounted nginx.conf`);
    else {
      const confFile = join(dirname(file), conf.split(':')[0]);
      const nginx = existsSync(confFile) ? readFileSync(confFile, 'utf8') : '';
      if (!nginx) problems.push(`${confFile} missing`);
      if (!new RegExp(`\\blisten\\s+${hubUrl[2]}\\b`).test(nginx)) problems.push(`nginx does not listen on ${hubUrl[2]} (HUBMILL_URL's port)`);
      const upstream = [...nginx.matchAll(/^\s*server\s+([A-Za-z0-9_.-]+):(\d+)\b/gm)].map((m) => `${m[1]}:${m[2]}`).sort();
      const apis = (byRole.api ?? []).map((n) => `${n}:${envOf(services[n]).HUBMILL_PORT ?? '8002'}`).sort();
      if (JSON.stringify(upstream) !== JSON.stringify(apis)) problems.push(`nginx upstream ${upstream.join(',')} is not the API nodes ${apis.join(',')}`);
      if (!/proxy_buffering\s+off/.test(nginx)) problems.push('nginx buffers responses: SSE events would be held back');
    }
    // X-Forwarded-For: the nodes trust exactly the hub's proxy and the load balancer.
    const fixed = [hubEntry[1], lb].map((s: Y) => s?.networks && Object.values(s.networks as Record<string, Y>).find((n) => n?.ipv4_address)?.ipv4_address).filter(Boolean).sort();
    for (const [name, s] of nodes) {
      const trusted = (envOf(s).HUBMILL_TRUST_PROXY ?? '').split(',').map((x) => x.trim()).sort();
      if (JSON.stringify(trusted) !== JSON.stringify(fixed)) problems.push(`${name}: HUBMILL_TRUST_PROXY ${trusted.join(',')} is not the hub and the load balancer (${fixed.join(',')})`);
    }
  }

  // Secrets come from .env: no literal values, and every required variable is in .env.example.
  const example = readFileSync(join(deployDir, 'compose', '.env.example'), 'utf8');
  const listed = new Set([...example.matchAll(/^#?\s*([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]!));
  for (const [name, s] of Object.entries(services)) {
    for (const [k, v] of Object.entries(envOf(s))) {
      const refs = interpolations(v);
      if (SECRET_KEY.test(k) && !refs.some((r) => r.required)) problems.push(`${name}: ${k} is not taken from .env`);
      for (const r of refs) if (r.required && !listed.has(r.name)) problems.push(`${name}: ${r.name} is required but not in .env.example`);
    }
  }
  return problems;
}

/** deploy/k8s/: kustomization, Deployments, Services, ConfigMap, NetworkPolicies, the z2jh values. */
export function checkK8s(deployDir: string, names: Names): string[] {
  const problems: string[] = [];
  const dir = join(deployDir, 'k8s');
  const kust = yamlDocs(join(dir, 'kustomization.yaml'))[0];
  const objects: Y[] = [];
  for (const r of kust.resources ?? []) {
    if (!existsSync(join(dir, r))) problems.push(`kustomization lists missing ${r}`);
    else objects.push(...yamlDocs(join(dir, r)));
  }
  const ofKind = (k: string) => objects.filter((o) => o.kind === k);
  const byName = (k: string, n: string) => ofKind(k).find((o) => o.metadata?.name === n);
  const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

  // Secrets: generated from an env file (its committed example), or z2jh's "hub" Secret.
  const generated = new Map<string, Set<string>>();
  for (const g of kust.secretGenerator ?? []) {
    const keys = new Set<string>();
    for (const f of g.envs ?? []) {
      const ex = join(dir, `${f}.example`);
      if (!existsSync(ex)) problems.push(`secret ${g.name}: no ${f}.example`);
      else for (const m of readFileSync(ex, 'utf8').matchAll(/^([A-Za-z0-9._-]+)=/gm)) keys.add(m[1]!);
    }
    generated.set(g.name, keys);
  }
  const values = yamlDocs(join(dir, 'z2jh-values.yaml'))[0];
  const z2jhServices = Object.keys(values?.hub?.services ?? {});

  const deployments = ofKind('Deployment');
  const podsByRole: Record<string, Y> = {};
  for (const d of deployments) {
    const name = d.metadata?.name;
    const labels = d.spec?.template?.metadata?.labels ?? {};
    if (!matches(d.spec?.selector?.matchLabels, labels) || Object.keys(d.spec?.selector?.matchLabels ?? {}).length === 0) problems.push(`${name}: selector does not match its pod labels`);
    if (labels['hub.jupyter.org/network-access-hub'] !== 'true') problems.push(`${name}: pods lack hub.jupyter.org/network-access-hub="true" (z2jh's hub NetworkPolicy)`);
    for (const c of d.spec?.template?.spec?.containers ?? []) {
      const env: Record<string, string> = {};
      for (const ef of c.envFrom ?? []) {
        const cm = ef.configMapRef && byName('ConfigMap', ef.configMapRef.name);
        if (ef.configMapRef && !cm) problems.push(`${name}: ConfigMap ${ef.configMapRef.name} not found`);
        Object.assign(env, cm?.data ?? {});
      }
      for (const e of c.env ?? []) {
        env[e.name] = e.value ?? '<secret>';
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        if (ref.name === 'hub') {
          if (!z2jhServices.some((s) => ref.key === `hub.services.${s}.apiToken`)) problems.push(`${name}: ${e.name} reads hub/${ref.key}, not the token of a service in z2jh-values.yaml`);
        } else if (!generated.get(ref.name)?.has(ref.key)) problems.push(`${name}: ${e.name} reads secret ${ref.name}/${ref.key}, which is not defined`);
      }
      for (const k of Object.keys(env)) if (prefixedNames(k).size > 0 && !names.config.has(k)) problems.push(`${name}: ${k} is not a variable hubmill reads`);
      const role = roleOf([...(c.command ?? []), ...(c.args ?? [])], env);
      if (!(ROLES as readonly string[]).includes(role)) problems.push(`${name}: role ${JSON.stringify(role)} is not one of ${ROLES.join('|')}`);
      if (!env.HUBMILL_DATABASE_URL) problems.push(`${name}: no HUBMILL_DATABASE_URL`);
      const port = Number(env.HUBMILL_PORT ?? 8002);
      const cport = (c.ports ?? []).find((p: Y) => p.containerPort === port);
      if (!cport) problems.push(`${name}: no containerPort ${port} (HUBMILL_PORT)`);
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const g = c[probe]?.httpGet;
        if (!g) problems.push(`${name}: no ${probe}`);
        else if (g.path !== '/health' || (g.port !== port && g.port !== cport?.name)) problems.push(`${name}: ${probe} does not hit /health on port ${port}`);
      }
      if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory) problems.push(`${name}: resources (cpu/memory requests, memory limit) missing`);
      const grace = Number(env.HUBMILL_SHUTDOWN_GRACE_S ?? plainDefault('shutdownGraceS'));
      if (!(Number(d.spec?.template?.spec?.terminationGracePeriodSeconds ?? 30) > grace)) problems.push(`${name}: terminationGracePeriodSeconds is not above HUBMILL_SHUTDOWN_GRACE_S (${grace})`);
      podsByRole[role] = { labels, port, portName: cport?.name, env };
    }
  }
  if (!podsByRole.api || !podsByRole.worker) problems.push('expected an api and a worker Deployment');
  const api = podsByRole.api ?? { labels: {}, port: 8002 };

  // The API Service selects the API pods only, on their port.
  const svc = ofKind('Service').find((s) => matches(s.spec?.selector, api.labels));
  if (!svc) problems.push('no Service selects the API pods');
  else {
    if (podsByRole.worker && matches(svc.spec.selector, podsByRole.worker.labels)) problems.push(`Service ${svc.metadata.name} also selects the workers`);
    const p = svc.spec.ports?.[0] ?? {};
    if (p.targetPort !== api.port && p.targetPort !== api.portName) problems.push(`Service ${svc.metadata.name}: targetPort ${p.targetPort} is not the API container port`);
    const url = values?.hub?.services?.hubmill?.url;
    if (url !== `http://${svc.metadata.name}:${p.port}`) problems.push(`z2jh hub.services.hubmill.url ${url} is not http://${svc.metadata.name}:${p.port}`);
  }

  // z2jh: roles as deploy/jupyterhub_config.py grants them; the proxy may reach the API pods.
  const py = readFileSync(join(deployDir, 'jupyterhub_config.py'), 'utf8');
  const pyScopes = /"name": "hubmill",[\s\S]*?"scopes": \[([^\]]*)\]/.exec(py)?.[1]?.match(/"[^"]+"/g)?.map((s) => JSON.parse(s) as string) ?? [];
  const roles = values?.hub?.loadRoles ?? {};
  if (!pyScopes.length || JSON.stringify([...(roles.hubmill?.scopes ?? [])].sort()) !== JSON.stringify([...pyScopes].sort())) problems.push(`z2jh loadRoles.hubmill scopes differ from jupyterhub_config.py's ${pyScopes.join(',')}`);
  if (!(roles.hubmill?.services ?? []).includes('hubmill')) problems.push('z2jh loadRoles.hubmill is not given to the hubmill service');
  if (!(roles.user?.scopes ?? []).includes('access:services!service=hubmill')) problems.push('z2jh users lack access:services!service=hubmill');
  const egress = values?.proxy?.chp?.networkPolicy?.egress ?? [];
  if (!egress.some((r: Y) => (r.to ?? []).some((t: Y) => t.podSelector && matches(t.podSelector.matchLabels, api.labels)) && (r.ports ?? []).some((p: Y) => p.port === api.port))) problems.push("z2jh proxy egress does not allow the API pods' port");

  // NetworkPolicies: the API pods admit the hub and the proxy on their port; workers admit nothing.
  const netpols = ofKind('NetworkPolicy');
  const apiPol = netpols.find((n) => matches(n.spec?.podSelector?.matchLabels, api.labels) && Object.keys(n.spec?.podSelector?.matchLabels ?? {}).length > 0);
  if (!apiPol) problems.push('no NetworkPolicy selects the API pods');
  else {
    const rules: Y[] = apiPol.spec.ingress ?? [];
    for (const component of ['hub', 'proxy']) {
      const ok = rules.some((r) => (r.from ?? []).some((f: Y) => f.podSelector?.matchLabels?.app === 'jupyterhub' && f.podSelector?.matchLabels?.component === component) && (r.ports ?? []).some((p: Y) => p.port === api.port || p.port === api.portName));
      if (!ok) problems.push(`NetworkPolicy ${apiPol.metadata.name} does not let the ${component} (app=jupyterhub, component=${component}) reach port ${api.port}`);
    }
  }
  if (podsByRole.worker && !netpols.some((n) => matches(n.spec?.podSelector?.matchLabels, podsByRole.worker.labels) && !matches(n.spec?.podSelector?.matchLabels, api.labels))) problems.push('no NetworkPolicy selects the worker pods');
  // The hub's API as z2jh names it.
  if (api.env && !/^http:\/\/hub:8081\/hub\/api$/.test(api.env.JUPYTERHUB_API_URL ?? '')) problems.push(`JUPYTERHUB_API_URL ${api.env.JUPYTERHUB_API_URL} is not z2jh's http://hub:8081/hub/api`);
  return problems;
}

/** Every HUBMILL_ or JUPYTERHUB_ name in any file of deploy/ is read by hubmill or by the deploy scripts. */
export function checkNames(deployDir: string, names: Names): string[] {
  const problems: string[] = [];
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  for (const f of walk(deployDir)) {
    for (const n of prefixedNames(readFileSync(f, 'utf8'))) if (!names.config.has(n) && !names.scripts.has(n)) problems.push(`${f}: ${n} is read neither by hubmill nor by the deploy scripts`);
  }
  return problems;
}
