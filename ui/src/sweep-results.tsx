/**
 * A sweep's results: one row per item of a for_each task (its parameters,
 * status, result values, duration, job), sortable by any column, the server's
 * CSV of the same rows, and a chart of a result against a parameter.
 */
import { useState } from 'preact/hooks';
import { ErrorBox, href, Loading, seconds, shortValue, useLoad } from './common';
import { resultsCsvUrl, runResults, type ResultRow } from './pipeline-api';
import { StatusWord } from './pipeline-parts';
import { SweepChart, type ChartRow } from './sweep-chart';

type Col = { id: string; label: string; get(r: ResultRow): unknown; kind: 'param' | 'result' | 'other' };

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function columnsOf(rows: ResultRow[]): Col[] {
  const params: string[] = [];
  const results: string[] = [];
  const add = (list: string[], keys: string[]) => keys.forEach((k) => list.includes(k) || list.push(k));
  let plainItem = false;
  for (const r of rows) {
    if (isObj(r.item)) add(params, Object.keys(r.item));
    else if (r.item !== null) plainItem = true;
    add(params, Object.keys(r.parameters));
    if (r.result) add(results, Object.keys(r.result));
  }
  return [
    { id: 'item_index', label: '#', get: (r) => r.item_index, kind: 'other' },
    ...(plainItem ? [{ id: 'item', label: 'item', get: (r: ResultRow) => (isObj(r.item) ? null : r.item), kind: 'param' as const }] : []),
    ...params.map((k) => ({ id: `param.${k}`, label: k, get: (r: ResultRow) => (k in r.parameters ? r.parameters[k] : isObj(r.item) ? r.item[k] : undefined), kind: 'param' as const })),
    { id: 'status', label: 'status', get: (r) => r.status, kind: 'other' },
    ...results.map((k) => ({ id: `result.${k}`, label: k, get: (r: ResultRow) => r.result?.[k], kind: 'result' as const })),
    { id: 'duration_s', label: 'duration', get: (r) => r.duration_s, kind: 'other' },
  ];
}

/** Ascending (dir 1) or descending (-1); empty cells last either way. */
function compare(a: unknown, b: unknown, dir: number): number {
  const none = (v: unknown) => v === null || v === undefined;
  if (none(a) || none(b)) return none(a) === none(b) ? 0 : none(a) ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return dir * (a - b);
  return dir * shortValue(a).localeCompare(shortValue(b), undefined, { numeric: true });
}

/** `version` changes when the rows may have: they are fetched again. */
export function SweepResults({ pipelineId, runId, task, version, actions }: { pipelineId: string; runId: string; task: string; version: string; actions?(r: ResultRow): preact.ComponentChildren }) {
  const data = useLoad(() => runResults(pipelineId, runId, task), [pipelineId, runId, task], [version]);
  const [sort, setSort] = useState<{ col: string; dir: 1 | -1 }>({ col: 'item_index', dir: 1 });
  if (data.error) return <ErrorBox error={data.error} />;
  if (!data.value) return <Loading />;
  const rows = data.value.rows;
  const cols = columnsOf(rows);
  const by = cols.find((c) => c.id === sort.col) ?? cols[0]!;
  const sorted = rows.map((r, i) => ({ r, i })).sort((a, b) => compare(by.get(a.r), by.get(b.r), sort.dir) || a.i - b.i).map((x) => x.r);
  const chartRows: ChartRow[] = rows.map((r) => ({ label: `#${r.item_index ?? 0}`, cells: Object.fromEntries(cols.map((c) => [c.id, c.get(r)])) }));
  const cell = (c: Col, r: ResultRow) => {
    const v = c.get(r);
    if (c.id === 'status') return <StatusWord status={r.status as 'none'} />;
    if (c.id === 'duration_s') return seconds(r.duration_s);
    if (v === undefined || v === null) return <span class="muted">—</span>;
    return typeof v === 'string' ? v : shortValue(v);
  };
  return (
    <div class="sweep">
      <div class="actions">
        <a class="button" href={resultsCsvUrl(pipelineId, runId, task)} download>Download CSV</a>
        <span class="muted small">{rows.length} row{rows.length === 1 ? '' : 's'}</span>
      </div>
      <div class="table-wrap">
        <table class="jobs results" aria-label={`Results of ${task}`}>
          <thead>
            <tr>
              {cols.map((c) => (
                <th key={c.id} scope="col" class={`col-${c.kind}`} aria-sort={sort.col === c.id ? (sort.dir === 1 ? 'ascending' : 'descending') : undefined}>
                  <button type="button" class="link" onClick={() => setSort({ col: c.id, dir: sort.col === c.id ? (-sort.dir as 1 | -1) : 1 })}>
                    {c.label}{sort.col === c.id ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
                  </button>
                </th>
              ))}
              <th scope="col">Job</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((r) => (
              <tr key={`${r.task}-${r.item_index}`} data-item={r.item_index ?? ''} data-status={r.status}>
                {cols.map((c) => <td key={c.id} class={`col-${c.kind}`}>{cell(c, r)}</td>)}
                <td>
                  {r.job_id ? <a href={href(`/job/${r.job_id}`)}>{r.attempt && r.attempt > 1 ? `attempt ${r.attempt}` : 'job'}</a> : <span class="muted" title={r.error ?? ''}>{r.error ? 'error' : '—'}</span>}
                  {actions?.(r)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3 class="small">Chart</h3>
      <SweepChart
        rows={chartRows}
        params={cols.filter((c) => c.kind === 'param').map((c) => c.id)}
        results={cols.filter((c) => c.kind === 'result').map((c) => c.id)}
        columns={cols.filter((c) => c.id !== 'item_index').map((c) => c.id)}
      />
    </div>
  );
}
