/**
 * deploy/compose/scale-out.yml and deploy/k8s/: every manifest parses, and every
 * name, port, label selector, secret and environment variable agrees with the
 * others and with what hubmill reads (src/settings/table.ts). Broken copies in a temp
 * dir prove the checks can fail. The admin guide's table of variables
 * (docs/admin.md) is checked against the source, both ways.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/jupyterhub.js';
import {
  checkCompose,
  checkK8s,
  checkNames,
  configSources,
  configReads,
  hubmillReads,
  prefixedNames,
  scriptReads,
  tableNames,
  yamlDocs,
  type Names,
} from './deploy-checks.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const CONFIG_SOURCES = configSources(join(REPO_ROOT, 'src'));
const names = (deployDir = DEPLOY): Names => ({ config: configReads(CONFIG_SOURCES), scripts: scriptReads(deployDir) });
const sorted = (s: Iterable<string>) => [...s].sort();

describe('deploy manifests parse', () => {
  it('every YAML file under deploy/ parses (all documents), and nginx.conf passes a brace check', () => {
    const files = ['docker-compose.yml', 'compose/scale-out.yml', ...readdirSync(join(DEPLOY, 'k8s')).filter((f) => f.endsWith('.yaml')).map((f) => `k8s/${f}`)];
    assert.ok(files.length >= 7, files.join(','));
    for (const f of files) {
      const docs = yamlDocs(join(DEPLOY, f));
      assert.ok(docs.length > 0, `${f} is empty`);
      for (const d of docs) assert.equal(typeof d, 'object', f);
    }
    const kinds = readdirSync(join(DEPLOY, 'k8s'))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== 'z2jh-values.yaml')
      .flatMap((f) => yamlDocs(join(DEPLOY, 'k8s', f)).map((d) => `${d.kind}/${d.metadata.name}`))
      .sort();
    assert.deepEqual(kinds, ['ConfigMap/hubmill-config', 'Deployment/hubmill-api', 'Deployment/hubmill-worker', 'NetworkPolicy/hubmill-api', 'NetworkPolicy/hubmill-worker', 'Service/hubmill-api']);
    const nginx = readFileSync(join(DEPLOY, 'compose', 'nginx.conf'), 'utf8').replace(/#.*$/gm, '');
    assert.equal((nginx.match(/\{/g) ?? []).length, (nginx.match(/\}/g) ?? []).length, 'nginx.conf braces balance');
  });

  it('a YAML syntax error is reported with the file name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubmill-deploy-yaml-'));
    try {
      writeFileSync(join(dir, 'bad.yaml'), 'a: [1, 2\nb: c\n');
      assert.throws(() => yamlDocs(join(dir, 'bad.yaml')), /bad\.yaml/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy files agree with each other and with hubmill', () => {
  it('compose scale-out: PostgreSQL, two API nodes behind nginx, two workers, the hub; names, ports and secrets agree', () => {
    assert.deepEqual(checkCompose(DEPLOY, names()), []);
  });

  it('Kubernetes: Deployments, Service, probes, NetworkPolicies, secrets and the z2jh values agree', () => {
    assert.deepEqual(checkK8s(DEPLOY, names()), []);
  });

  it('every HUBMILL_ and JUPYTERHUB_ name in deploy/ is one hubmill or the deploy scripts read', () => {
    assert.deepEqual(checkNames(DEPLOY, names()), []);
  });

  it('the names are parsed out of the source (a sample, so an empty parse cannot pass)', () => {
    const n = names();
    for (const v of ['HUBMILL_DATABASE_URL', 'HUBMILL_ROLE', 'HUBMILL_KERNEL_GATEWAY_URL', 'HUBMILL_KERNEL_GATEWAY_TOKEN', 'HUBMILL_HOMES', 'HUBMILL_USER_SERVER_IDLE_S', 'HUBMILL_PORT', 'JUPYTERHUB_API_TOKEN', 'JUPYTERHUB_PUBLIC_URL']) {
      assert.ok(n.config.has(v), `config.ts reads ${v}`);
    }
    assert.ok(!n.config.has('HUBMILL_MODE'), 'HUBMILL_MODE is the deploy scripts’ own');
    for (const v of ['HUBMILL_MODE', 'HUBMILL_URL', 'HUBMILL_SERVICE_TOKEN', 'JUPYTERHUB_HUB_IP']) assert.ok(n.scripts.has(v), `the scripts read ${v}`);
  });
});

describe('the admin documentation lists every variable', () => {
  it('docs/admin.md has one row for each variable hubmill reads, and none it does not', () => {
    const table = tableNames(readFileSync(join(REPO_ROOT, 'docs', 'admin.md'), 'utf8'), '## Every environment variable');
    assert.deepEqual(sorted(table), sorted(hubmillReads(join(REPO_ROOT, 'src'))));
  });

  it("deploy/README.md's table of the scripts' variables lists exactly what start.sh and jupyterhub_config.py read beyond hubmill's own", () => {
    const table = tableNames(readFileSync(join(DEPLOY, 'README.md'), 'utf8'), "## Variables of the deploy scripts");
    const config = configReads(CONFIG_SOURCES);
    assert.deepEqual(sorted([...table].filter((n) => prefixedNames(n).size > 0)), sorted([...scriptReads(DEPLOY)].filter((n) => !config.has(n))));
  });

  it('README.md points to the admin guide', () => {
    assert.match(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'), /docs\/admin\.md/);
  });
});

describe('the checks fail on broken copies', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubmill-deploy-broken-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A copy of deploy/ with one file edited; the edit must change the file. */
  function broken(name: string, file: string, edit: (text: string) => string): string {
    const copy = join(dir, name);
    cpSync(DEPLOY, copy, { recursive: true });
    const before = readFileSync(join(copy, file), 'utf8');
    const after = edit(before);
    assert.notEqual(after, before, `the edit of ${file} applied`);
    writeFileSync(join(copy, file), after);
    return copy;
  }
  const cases: Array<{ name: string; file: string; edit: (t: string) => string; check: 'compose' | 'k8s' | 'names'; expect: RegExp }> = [
    { name: 'env-typo', file: 'compose/scale-out.yml', edit: (t) => t.replace('HUBMILL_HOMES:', 'HUBMILL_HOME:'), check: 'compose', expect: /HUBMILL_HOME is not a variable hubmill reads/ },
    { name: 'bad-role', file: 'compose/scale-out.yml', edit: (t) => t.replace('"--role", "worker"', '"--role", "workers"'), check: 'compose', expect: /role "workers" is not one of all\|api\|worker/ },
    { name: 'upstream-port', file: 'compose/nginx.conf', edit: (t) => t.replace('server api-2:8002', 'server api-2:8003'), check: 'compose', expect: /nginx upstream .* is not the API nodes/ },
    { name: 'depends-unknown', file: 'compose/scale-out.yml', edit: (t) => t.replace('    postgres:\n      condition: service_healthy', '    postgresql:\n      condition: service_healthy'), check: 'compose', expect: /depends on unknown service postgresql/ },
    { name: 'literal-secret', file: 'compose/scale-out.yml', edit: (t) => t.replace(/HUBMILL_COOKIE_SECRET: \$\{[^}]*\}/, 'HUBMILL_COOKIE_SECRET: hunter2hunter2hunter2'), check: 'compose', expect: /HUBMILL_COOKIE_SECRET is not taken from \.env/ },
    { name: 'trust-proxy', file: 'compose/scale-out.yml', edit: (t) => t.replace('ipv4_address: 10.89.0.11', 'ipv4_address: 10.89.0.12'), check: 'compose', expect: /HUBMILL_TRUST_PROXY .* is not the hub and the load balancer/ },
    { name: 'selector', file: 'k8s/api.yaml', edit: (t) => t.replace('  selector:\n    app.kubernetes.io/name: hubmill\n    app.kubernetes.io/component: api', '  selector:\n    app.kubernetes.io/name: hubmill\n    app.kubernetes.io/component: apis'), check: 'k8s', expect: /no Service selects the API pods/ },
    { name: 'probe-port', file: 'k8s/worker.yaml', edit: (t) => t.replace(/(readinessProbe:\n\s+httpGet:\n\s+path: \/health\n\s+port: )http/, '$18080'), check: 'k8s', expect: /readinessProbe does not hit \/health on port 8002/ },
    { name: 'port-mismatch', file: 'k8s/config.yaml', edit: (t) => t.replace('HUBMILL_PORT: "8002"', 'HUBMILL_PORT: "8003"'), check: 'k8s', expect: /no containerPort 8003 \(HUBMILL_PORT\)/ },
    { name: 'z2jh-url', file: 'k8s/z2jh-values.yaml', edit: (t) => t.replace('url: http://hubmill-api:8002', 'url: http://hubmill:8002'), check: 'k8s', expect: /hub\.services\.hubmill\.url http:\/\/hubmill:8002 is not http:\/\/hubmill-api:8002/ },
    { name: 'secret-key', file: 'k8s/api.yaml', edit: (t) => t.replace('key: database-url', 'key: database_url'), check: 'k8s', expect: /reads secret hubmill-secrets\/database_url, which is not defined/ },
    { name: 'netpol-proxy', file: 'k8s/networkpolicy.yaml', edit: (t) => t.replace('component: proxy', 'component: autohttps'), check: 'k8s', expect: /does not let the proxy .* reach port 8002/ },
    { name: 'k8s-env', file: 'k8s/config.yaml', edit: (t) => t.replace('HUBMILL_HOMES:', 'HUBMILL_HOMES_MODE:'), check: 'k8s', expect: /HUBMILL_HOMES_MODE is not a variable hubmill reads/ },
    { name: 'readme-name', file: 'README.md', edit: (t) => `${t}\nSet HUBMILL_DATABASE_URI to …\n`, check: 'names', expect: /HUBMILL_DATABASE_URI is read neither by hubmill nor by the deploy scripts/ },
  ];
  for (const c of cases) {
    it(`finds the broken ${c.file} (${c.name})`, () => {
      const copy = broken(c.name, c.file, c.edit);
      const run = { compose: checkCompose, k8s: checkK8s, names: checkNames }[c.check];
      const problems = run(copy, names(copy));
      assert.ok(problems.some((p) => c.expect.test(p)), `expected ${c.expect} among:\n${problems.join('\n')}`);
    });
  }
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

describe('kustomize builds deploy/k8s (kubectl kustomize, no cluster needed)', { skip: !kubectl && 'kubectl is not installed' }, () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubmill-deploy-kustomize-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses to build without hubmill-secrets.env, and with it wires the generated Secret and the image into both Deployments', () => {
    const copy = join(dir, 'k8s');
    cpSync(join(DEPLOY, 'k8s'), copy, { recursive: true });
    const without = spawnSync('kubectl', ['kustomize', copy], { encoding: 'utf8' });
    assert.notEqual(without.status, 0);
    assert.match(without.stderr, /hubmill-secrets\.env/);

    cpSync(join(copy, 'hubmill-secrets.env.example'), join(copy, 'hubmill-secrets.env'));
    const built = spawnSync('kubectl', ['kustomize', copy], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    writeFileSync(join(dir, 'built.yaml'), built.stdout);
    const objects = yamlDocs(join(dir, 'built.yaml'));
    const secret = objects.find((o) => o.kind === 'Secret');
    assert.match(secret?.metadata?.name ?? '', /^hubmill-secrets-[a-z0-9]+$/, 'the generated Secret has a content hash');
    assert.deepEqual(Object.keys(secret.data).sort(), ['cookie-secret', 'database-url']);
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    assert.equal(deployments.length, 2);
    for (const d of deployments) {
      const c = d.spec.template.spec.containers[0];
      assert.equal(c.image, 'registry.example.org/hubmill:latest');
      const refs = (c.env as Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string } } }>).filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom!.secretKeyRef!.name]);
      for (const [env, name] of refs) assert.equal(name, env === 'JUPYTERHUB_API_TOKEN' ? 'hub' : secret.metadata.name, `${d.metadata.name} ${env}`);
    }
  });
});

describe('jupyterhub_config.py in remote mode (the hub of the scale-out compose file)', () => {
  function load(env: Record<string, string>) {
    const script = `
import json, sys
from traitlets.config import Config
c = Config()
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), {"get_config": lambda: c})
print(json.dumps({"services": c.JupyterHub.services, "hub_ip": c.JupyterHub.hub_ip}))
`;
    return spawnSync('/usr/bin/python3', ['-c', script, join(DEPLOY, 'jupyterhub_config.py')], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  }

  it('points the service at HUBMILL_URL, starts nothing, and opens the hub API to the nodes; a managed hubmill refuses HUBMILL_URL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubmill-deploy-remote-'));
    try {
      writeFileSync(join(dir, 'token'), 'tok-123\n');
      const base = { HUBMILL_SERVICE_TOKEN_FILE: join(dir, 'token'), JUPYTERHUB_DATA_DIR: dir };
      const compose = yamlDocs(join(DEPLOY, 'compose', 'scale-out.yml'))[0];
      const hubEnv = compose.services.hub.environment as Record<string, string>;
      const r = load({ ...base, HUBMILL_MODE: hubEnv.HUBMILL_MODE!, HUBMILL_URL: hubEnv.HUBMILL_URL!, JUPYTERHUB_HUB_IP: hubEnv.JUPYTERHUB_HUB_IP! });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { services: Array<Record<string, unknown>>; hub_ip: string };
      assert.equal(out.services[0]!.url, 'http://lb:8002');
      assert.equal(out.services[0]!.api_token, 'tok-123');
      assert.equal(out.services[0]!.command, undefined);
      assert.equal(out.hub_ip, '0.0.0.0');
      const managed = load({ ...base, HUBMILL_URL: 'http://lb:8002' });
      assert.notEqual(managed.status, 0);
      assert.match(managed.stderr, /HUBMILL_URL is for HUBMILL_MODE=external or remote/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
