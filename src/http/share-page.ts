/**
 * The page a share link shows: one output notebook rendered on the server as a
 * static HTML document. It is served with a CSP `sandbox` (no `allow-scripts`,
 * no `allow-same-origin`) and `default-src 'none'`: nothing in it runs, it loads
 * nothing, and it has an opaque origin, so it can reach no API, no cookie and no
 * other run even when an output's HTML tries. Images are inline (`data:`).
 */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** The share page's Content-Security-Policy. */
export const SHARE_PAGE_CSP = [
  'sandbox',
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  'img-src data:',
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

type Json = Record<string, unknown>;

const text = (v: unknown): string => (Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '');
// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');

function output(o: Json): string {
  const type = o.output_type;
  if (type === 'stream') return `<pre class="${o.name === 'stderr' ? 'err' : 'out'}">${escapeHtml(stripAnsi(text(o.text)))}</pre>`;
  if (type === 'error') {
    const tb = Array.isArray(o.traceback) ? (o.traceback as unknown[]).map((l) => stripAnsi(String(l))).join('\n') : `${String(o.ename)}: ${String(o.evalue)}`;
    return `<pre class="err">${escapeHtml(tb)}</pre>`;
  }
  const data = (o.data ?? {}) as Json;
  for (const mime of ['image/png', 'image/jpeg', 'image/gif']) {
    const b64 = text(data[mime]).replace(/\s+/g, '');
    if (b64 && /^[A-Za-z0-9+/=]+$/.test(b64)) return `<img alt="" src="data:${mime};base64,${b64}">`;
  }
  if (data['image/svg+xml']) {
    return `<img alt="" src="data:image/svg+xml;base64,${Buffer.from(text(data['image/svg+xml']), 'utf8').toString('base64')}">`;
  }
  // Raw HTML: the page's sandbox runs none of its scripts and lets it load nothing.
  if (data['text/html']) return `<div class="html">${text(data['text/html'])}</div>`;
  if (data['text/markdown']) return `<pre class="md">${escapeHtml(text(data['text/markdown']))}</pre>`;
  if (data['text/plain']) return `<pre class="out">${escapeHtml(stripAnsi(text(data['text/plain'])))}</pre>`;
  return '';
}

function cell(c: Json): string {
  const src = text(c.source);
  if (c.cell_type === 'markdown') return `<section class="md"><pre>${escapeHtml(src)}</pre></section>`;
  if (c.cell_type !== 'code') return '';
  const outs = Array.isArray(c.outputs) ? (c.outputs as Json[]).map(output).join('') : '';
  return `<section class="code"><pre class="src">${escapeHtml(src)}</pre>${outs}</section>`;
}

/** The whole page of a notebook (already parsed JSON); `title` is escaped here. */
export function sharePage(nb: unknown, title: string, footer: string): string {
  const cells = Array.isArray((nb as Json | null)?.cells) ? ((nb as Json).cells as Json[]) : [];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)}</title><style>
body{margin:0 auto;max-width:980px;padding:16px;font:14px system-ui,sans-serif;color:#1f1f1f;background:#fff}
h1{font-size:18px}section{margin:10px 0;border-left:3px solid #ddd;padding-left:8px}
pre{white-space:pre-wrap;word-break:break-word;margin:4px 0}pre.src{background:#f5f5f5;padding:6px}pre.err{background:#fdecea;padding:6px}
img{max-width:100%}table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:2px 6px}footer{color:#666;font-size:12px;margin-top:24px}
@media (prefers-color-scheme: dark){body{color:#e6e6e6;background:#111}pre.src{background:#1c1c1c}pre.err{background:#3a1d1d}}
</style></head><body><h1>${escapeHtml(title)}</h1>${cells.map(cell).join('\n')}<footer>${escapeHtml(footer)}</footer></body></html>`;
}
