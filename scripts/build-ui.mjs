#!/usr/bin/env node
// Builds the web UI (ui/) into dist/ui with esbuild: one hashed JS bundle, the notebook worker
// (loaded when an output notebook is shown) and one CSS file
// (KaTeX fonts as separate files), index.html pointing at them, and the sandboxed output
// frame. Prints the first-load JavaScript size, gzipped, and writes it to dist/ui/build.json;
// fails when it passes the budget (250 KB gzipped).
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUDGET_GZIP_BYTES = 250 * 1024;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui');

await rm(out, { recursive: true, force: true });
await mkdir(join(out, 'assets'), { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { app: 'ui/src/main.tsx', notebooks: 'ui/src/worker.ts' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  loader: { '.woff2': 'file', '.woff': 'file', '.ttf': 'file' },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

const outputs = Object.keys(result.metafile.outputs).map((p) => join(root, p));
const js = outputs.find((p) => basename(p).startsWith('app-') && p.endsWith('.js'));
const worker = outputs.find((p) => basename(p).startsWith('notebooks-') && p.endsWith('.js'));
const css = outputs.find((p) => p.endsWith('.css'));
const jsBytes = await readFile(js);
const gz = gzipSync(jsBytes, { level: 9 }).length;
const cssGz = css ? gzipSync(await readFile(css), { level: 9 }).length : 0;

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>hubmill</title>
<!--hubmill-config-->
<meta name="hubmill-worker" content="__HUBMILL_PREFIX__ui/assets/${basename(worker)}">
${css ? `<link rel="stylesheet" href="__HUBMILL_PREFIX__ui/assets/${basename(css)}">` : ''}
<script type="module" src="__HUBMILL_PREFIX__ui/assets/${basename(js)}"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`;
await writeFile(join(out, 'index.html'), page);
await copyFile(join(root, 'ui', 'frame.html'), join(out, 'frame.html'));
const report = { js: basename(js), worker: basename(worker), js_bytes: jsBytes.length, js_gzip_bytes: gz, css: css ? basename(css) : null, css_gzip_bytes: cssGz, budget_gzip_bytes: BUDGET_GZIP_BYTES };
await writeFile(join(out, 'build.json'), JSON.stringify(report, null, 2) + '\n');
process.stderr.write(`[hubmill ui] first-load JavaScript: ${(gz / 1024).toFixed(1)} KB gzipped (${(jsBytes.length / 1024).toFixed(1)} KB raw; budget ${BUDGET_GZIP_BYTES / 1024} KB); CSS ${(cssGz / 1024).toFixed(1)} KB gzipped\n`);
if (gz > BUDGET_GZIP_BYTES) {
  process.stderr.write('[hubmill ui] over the first-load JavaScript budget\n');
  process.exit(1);
}
