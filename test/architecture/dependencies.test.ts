/**
 * package.json lists what the code uses, and nothing else: every dependency is
 * imported somewhere (src/, test/, bench/, scripts/), and every package the
 * code imports is listed. A few tools are used as commands, not imports; they
 * are named below with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Used as commands or by tooling, never imported. */
const COMMANDS: Record<string, string> = {
  typescript: 'tsc builds dist/ and type-checks',
  tsx: 'the test runner and bench load TypeScript through `node --import tsx`',
  'configurable-http-proxy': "JupyterHub's proxy in the hub tests and deploy/",
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === '.work' ? [] : sourceFiles(p);
    return /\.(ts|mjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+|\brequire\s*\(\s*)['"]([@a-z0-9][\w.@/-]*)['"]/gm;

/** The package a bare specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function importedPackages(): Set<string> {
  const builtins = new Set(builtinModules);
  const out = new Set<string>();
  for (const dir of ['src', 'test', 'bench', 'scripts']) {
    for (const f of sourceFiles(join(root, dir))) {
      for (const m of readFileSync(f, 'utf8').matchAll(SPECIFIER)) {
        const spec = m[1]!;
        if (spec.startsWith('node:') || builtins.has(packageOf(spec))) continue;
        out.add(packageOf(spec));
      }
    }
  }
  return out;
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
const declared = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})];

test('packageOf keeps the scope and drops the subpath', () => {
  assert.equal(packageOf('@fastify/swagger-ui/static'), '@fastify/swagger-ui');
  assert.equal(packageOf('yaml/util'), 'yaml');
  assert.equal(packageOf('zeromq'), 'zeromq');
});

test('every dependency in package.json is used', () => {
  const used = importedPackages();
  const unused = declared.filter((name) => {
    if (COMMANDS[name]) return false;
    // Types packages serve the package they type (@types/node: Node itself).
    if (name.startsWith('@types/')) {
      const typed = name.slice('@types/'.length).replace(/^(.+)__(.+)$/, '@$1/$2');
      return typed !== 'node' && !used.has(typed);
    }
    return !used.has(name);
  });
  assert.deepEqual(unused, [], `listed in package.json but imported nowhere: ${unused.join(', ')}`);
});

test('every package the code imports is listed in package.json', () => {
  const listed = new Set(declared);
  const missing = [...importedPackages()].filter((name) => !listed.has(name)).sort();
  assert.deepEqual(missing, [], `imported but not in package.json: ${missing.join(', ')}`);
});
