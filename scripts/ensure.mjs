#!/usr/bin/env node
// Installs what hubmill needs and is missing, quickly and idempotently:
//   0. a Node.js as new as package.json's "engines" names
//   1. Debian packages (Jupyter kernels, nbconvert for the benchmark peer, JupyterHub, aiosmtpd, Chromium)
//   2. npm dependencies (npm ci when package-lock.json changed since the last install)
//   3. with --build: the TypeScript build when a source is newer than dist/, and the web UI
//      bundle (scripts/build-ui.mjs) when a file under ui/ is newer than dist/ui
// Uses only Node's standard library, so it runs before node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, statSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeVersionProblem } from './node-version.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const log = (msg) => process.stderr.write(`[hubmill setup] ${msg}\n`);

/** Each system requirement: a cheap check, and the Debian packages that satisfy it. */
const SYSTEM_REQUIREMENTS = [
  {
    what: 'Python kernel (ipykernel for /usr/bin/python3)',
    ok: () => existsSync('/usr/share/jupyter/kernels/python3/kernel.json') && pyImports('ipykernel'),
    packages: ['python3-ipykernel', 'python3-yaml'],
  },
  {
    what: 'R kernel (IRkernel)',
    ok: () => existsSync('/usr/share/jupyter/kernels/ir/kernel.json'),
    packages: ['r-cran-irkernel'],
  },
  {
    what: 'nbconvert and nbclient (the benchmark peers: jupyter nbconvert --execute, jupyter execute)',
    ok: () => existsSync('/usr/bin/jupyter-nbconvert') && existsSync('/usr/bin/jupyter-execute'),
    packages: ['jupyter-nbconvert', 'python3-nbclient', 'jupyter-client'],
  },
  {
    what: 'JupyterHub and Jupyter Server (integration tests against a real hub)',
    ok: () => existsSync('/usr/bin/jupyterhub') && existsSync('/usr/bin/jupyterhub-singleuser'),
    packages: ['jupyterhub', 'python3-jupyter-server'],
  },
  {
    what: 'curl, pip and requests for /usr/bin/python3 (the seed\'s curl examples and Python client, tested as users run them)',
    ok: () => existsSync('/usr/bin/curl') && pyImports('pip') && pyImports('requests'),
    packages: ['curl', 'python3-pip', 'python3-requests'],
  },
  {
    what: 'numpy for /usr/bin/python3 (the fork-server isolation tests compare numpy.random draws)',
    ok: () => pyImports('numpy'),
    packages: ['python3-numpy'],
  },
  {
    what: 'aiosmtpd for /usr/bin/python3 (the e-mail notification tests run a real SMTP server)',
    ok: () => pyImports('aiosmtpd'),
    packages: ['python3-aiosmtpd'],
  },
  {
    what: 'Chromium (browser tests)',
    ok: () => existsSync('/usr/bin/chromium'),
    packages: ['chromium'],
  },
];

function pyImports(mod) {
  if (!existsSync('/usr/bin/python3')) return false;
  const r = spawnSync('/usr/bin/python3', ['-c', `import ${mod}`], { stdio: 'ignore' });
  return r.status === 0;
}

function ensureSystemPackages() {
  const missing = SYSTEM_REQUIREMENTS.filter((r) => !r.ok());
  if (missing.length === 0) return;
  const packages = [...new Set(missing.flatMap((r) => r.packages))];
  const isRoot = process.getuid?.() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (!isRoot || !hasApt) {
    log('missing system packages:');
    for (const r of missing) log(`  - ${r.what}`);
    log(`install them with:  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages.join(' ')}`);
    if (process.env.HUBMILL_SKIP_SYSTEM_CHECK) return;
    process.exit(3);
  }
  log(`installing Debian packages: ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  // The package lists may be empty on a fresh machine: update once before the first install.
  const listsEmpty = !existsSync('/var/lib/apt/lists') ||
    readdirSync('/var/lib/apt/lists').filter((f) => f.endsWith('Packages') || f.endsWith('Packages.lz4')).length === 0;
  if (listsEmpty) execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  let r = install();
  if (r.status !== 0 && !listsEmpty) {
    execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
    r = install();
  }
  if (r.status !== 0) {
    log('apt-get install failed; see above');
    process.exit(3);
  }
  const still = SYSTEM_REQUIREMENTS.filter((req) => !req.ok());
  if (still.length) {
    log(`still missing after install: ${still.map((s) => s.what).join(', ')}`);
    process.exit(3);
  }
}

function hashOf(file) {
  return existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : 'none';
}

function ensureNodeModules() {
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.hubmill-install-stamp');
  const want = hashOf(lock) + ':' + hashOf(join(root, 'package.json'));
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  log('installing npm dependencies');
  const cmd = existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'];
  const r = spawnSync('npm', cmd, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    log(`npm ${cmd[0]} failed`);
    process.exit(r.status ?? 1);
  }
  writeFileSync(stamp, want);
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuild() {
  const marker = join(root, 'dist', '.build-stamp');
  const srcNewest = Math.max(
    newestMtime(join(root, 'src')),
    statSync(join(root, 'tsconfig.json')).mtimeMs,
    statSync(join(root, 'package.json')).mtimeMs,
  );
  if (existsSync(marker) && statSync(marker).mtimeMs >= srcNewest) return;
  log('building (tsc)');
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    log('build failed');
    process.exit(r.status ?? 1);
  }
  writeFileSync(marker, new Date().toISOString());
}

function ensureNodeVersion() {
  const range = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines?.node;
  if (!range) return;
  const problem = nodeVersionProblem(range, process.versions.node);
  if (problem) {
    log(problem);
    process.exit(4);
  }
}

ensureNodeVersion();

function ensureUiBuild() {
  const marker = join(root, 'dist', 'ui', 'build.json');
  const newest = Math.max(
    newestMtime(join(root, 'ui')),
    statSync(join(root, 'scripts', 'build-ui.mjs')).mtimeMs,
    statSync(join(root, 'package.json')).mtimeMs,
  );
  if (existsSync(marker) && statSync(marker).mtimeMs >= newest) return;
  log('building the web UI (esbuild)');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-ui.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    log('web UI build failed');
    process.exit(r.status ?? 1);
  }
}

ensureSystemPackages();
ensureNodeModules();
if (args.has('--build')) {
  ensureBuild();
  ensureUiBuild();
}
