/**
 * The notification mail of a run's end: one summary (name, status, duration,
 * failing cell and its error, result values, link to the run in the UI) written
 * as plain text and as HTML, every value escaped in the HTML part.
 */
export interface RunSummary {
  /** "Schedule" or "Pipeline". */
  kind: string;
  name: string;
  /** What the subject shows: the event (`failed`, `retrying`, …). */
  event: string;
  status: string;
  startedAtMs: number | null;
  finishedAtMs: number | null;
  /** The failing cell (or task) and its error, when it failed. */
  failure: { where: string; ename: string; evalue: string; traceback: string[] } | null;
  /** Result values by name (glued values, or per task). */
  results: Record<string, unknown> | null;
  /** Absolute link to the run in the UI. */
  link: string;
}

export interface MailMessage {
  subject: string;
  text: string;
  html: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

// ANSI colour codes of IPython tracebacks mean nothing in a mail.
// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
/** Subject lines carry no line breaks (a header injection otherwise). */
const oneLine = (s: string): string => s.replace(/[\r\n\t\u2028\u2029]+/g, ' ').slice(0, 200);

export function formatDuration(ms: number | null): string {
  if (ms === null || ms < 0) return 'unknown';
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 100) / 10;
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  return m < 60 ? `${m} min ${rest} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

const valueText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));
const MAX_VALUE = 2000;
const clip = (s: string): string => (s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s);

export function runMail(r: RunSummary): MailMessage {
  const duration = formatDuration(r.startedAtMs !== null && r.finishedAtMs !== null ? r.finishedAtMs - r.startedAtMs : null);
  const subject = oneLine(`[hubmill] ${r.kind} "${r.name}": ${r.event}`);
  const results = Object.entries(r.results ?? {}).map(([k, v]) => [k, clip(valueText(v))] as const);
  const tb = r.failure ? stripAnsi(r.failure.traceback.join('\n')).split('\n').slice(-30).join('\n') : '';

  const text = [
    `${r.kind}: ${r.name}`,
    `Status: ${r.status}${r.event !== r.status ? ` (${r.event})` : ''}`,
    `Duration: ${duration}`,
    ...(r.failure ? ['', `Failed at: ${r.failure.where}`, `Error: ${r.failure.ename}: ${r.failure.evalue}`, ...(tb ? ['', tb] : [])] : []),
    ...(results.length ? ['', 'Results:', ...results.map(([k, v]) => `  ${k} = ${v}`)] : []),
    '',
    `Open the run: ${r.link}`,
    '',
  ].join('\n');

  const e = escapeHtml;
  const html = [
    '<!doctype html><html><body style="font-family: sans-serif">',
    `<h2>${e(r.kind)}: ${e(r.name)}</h2>`,
    '<table>',
    `<tr><th align="left">Status</th><td>${e(r.status)}${r.event !== r.status ? ` (${e(r.event)})` : ''}</td></tr>`,
    `<tr><th align="left">Duration</th><td>${e(duration)}</td></tr>`,
    '</table>',
    ...(r.failure
      ? [`<h3>Failed at ${e(r.failure.where)}</h3>`, `<p><strong>${e(r.failure.ename)}</strong>: ${e(r.failure.evalue)}</p>`, ...(tb ? [`<pre>${e(tb)}</pre>`] : [])]
      : []),
    ...(results.length ? ['<h3>Results</h3>', '<table>', ...results.map(([k, v]) => `<tr><th align="left">${e(k)}</th><td><code>${e(v)}</code></td></tr>`), '</table>'] : []),
    `<p><a href="${e(r.link)}">Open the run</a></p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}
