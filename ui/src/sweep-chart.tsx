/**
 * A sweep's chart, plain SVG (no chart library: a scatter with lines is a few
 * dozen lines and costs nothing in the first load): a chosen result (y) against
 * a chosen parameter (x), each point coloured by a third column; points of one
 * colour joined in x order when x is numeric.
 */
import { useState } from 'preact/hooks';

export interface ChartRow {
  /** By column name: `param.lr`, `result.score`, `status`... */
  cells: Record<string, unknown>;
  label: string;
}

const W = 560;
const H = 300;
const M = { l: 56, r: 12, t: 10, b: 36 };
const PALETTE = ['#1976d2', '#e65100', '#2e7d32', '#8e24aa', '#c62828', '#00838f', '#6d4c41', '#ad1457', '#558b2f', '#455a64'];

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : null);
const text = (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

function ticks(lo: number, hi: number, n = 5): number[] {
  if (lo === hi) return [lo];
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function SweepChart({ rows, params, results, columns }: { rows: ChartRow[]; params: string[]; results: string[]; columns: string[] }) {
  const numericResults = results.filter((c) => rows.some((r) => num(r.cells[c]) !== null));
  const [x, setX] = useState(params[0] ?? '');
  const [y, setY] = useState(numericResults[0] ?? '');
  const [colour, setColour] = useState(params[1] ?? 'status');
  if (!params.length || !numericResults.length) return <p class="muted">The chart needs a parameter and a numeric result.</p>;
  const xs = params.includes(x) ? x : params[0]!;
  const ys = numericResults.includes(y) ? y : numericResults[0]!;
  const cs = columns.includes(colour) ? colour : 'status';

  const points = rows.map((r) => ({ r, xv: r.cells[xs], yv: num(r.cells[ys]), cv: r.cells[cs] })).filter((p) => p.yv !== null);
  const xNumeric = points.every((p) => num(p.xv) !== null);
  const cats = [...new Set(points.map((p) => text(p.xv)))];
  if (xNumeric) cats.sort((a, b) => Number(a) - Number(b));
  const xVals = points.map((p) => (xNumeric ? num(p.xv)! : cats.indexOf(text(p.xv))));
  const yVals = points.map((p) => p.yv!);
  const pad = (lo: number, hi: number) => (lo === hi ? [lo - 1, hi + 1] : [lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05]);
  const [x0, x1] = xNumeric ? pad(Math.min(...xVals), Math.max(...xVals)) : [-0.5, cats.length - 0.5];
  const [y0, y1] = pad(Math.min(...yVals), Math.max(...yVals));
  const sx = (v: number) => M.l + ((v - x0!) / (x1! - x0!)) * (W - M.l - M.r);
  const sy = (v: number) => H - M.b - ((v - y0!) / (y1! - y0!)) * (H - M.t - M.b);

  // Colours: a gradient over a numeric column with many values, else one colour per value.
  const cNumeric = points.length > 0 && points.every((p) => num(p.cv) !== null) && new Set(points.map((p) => num(p.cv))).size > PALETTE.length;
  const cValues = [...new Set(points.map((p) => text(p.cv)))].sort((a, b) => (num(a) !== null && num(b) !== null ? Number(a) - Number(b) : a.localeCompare(b)));
  const cLo = cNumeric ? Math.min(...points.map((p) => num(p.cv)!)) : 0;
  const cHi = cNumeric ? Math.max(...points.map((p) => num(p.cv)!)) : 1;
  const colourOf = (v: unknown) => (cNumeric ? `hsl(${220 - ((num(v)! - cLo) / (cHi - cLo || 1)) * 200} 70% 45%)` : PALETTE[cValues.indexOf(text(v)) % PALETTE.length]!);

  const lines = xNumeric && !cNumeric
    ? cValues.map((c) => points.map((p, i) => ({ p, i })).filter(({ p }) => text(p.cv) === c).sort((a, b) => xVals[a.i]! - xVals[b.i]!))
    : [];
  const select = (id: string, label: string, value: string, set: (v: string) => void, options: string[]) => (
    <label class="inline small" for={id}>
      {label}{' '}
      <select id={id} value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        {options.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    </label>
  );
  return (
    <figure class="sweep-chart">
      <div class="filters">
        {select('chart-y', 'Result', ys, setY, numericResults)}
        {select('chart-x', 'against', xs, setX, params)}
        {select('chart-colour', 'coloured by', cs, setColour, columns)}
      </div>
      <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${ys} against ${xs}, coloured by ${cs}`}>
        <g class="axis">
          {ticks(y0!, y1!).map((t) => (
            <g key={`y${t}`}>
              <line x1={M.l} x2={W - M.r} y1={sy(t)} y2={sy(t)} class="grid-line" />
              <text x={M.l - 6} y={sy(t) + 4} text-anchor="end">{String(t)}</text>
            </g>
          ))}
          {(xNumeric ? ticks(x0!, x1!) : cats.map((_, i) => i)).map((t) => (
            <text key={`x${t}`} x={sx(t)} y={H - M.b + 16} text-anchor="middle">{xNumeric ? String(t) : cats[t]}</text>
          ))}
          <line x1={M.l} x2={W - M.r} y1={H - M.b} y2={H - M.b} class="axis-line" />
          <line x1={M.l} x2={M.l} y1={M.t} y2={H - M.b} class="axis-line" />
          <text x={(W + M.l) / 2} y={H - 4} text-anchor="middle" class="axis-title">{xs}</text>
        </g>
        {lines.map((l, k) => (
          <polyline key={k} fill="none" stroke={colourOf(l[0]?.p.cv)} stroke-opacity="0.5" points={l.map(({ i }) => `${sx(xVals[i]!)},${sy(yVals[i]!)}`).join(' ')} />
        ))}
        {points.map((p, i) => (
          <circle key={i} class="point" cx={sx(xVals[i]!)} cy={sy(yVals[i]!)} r={4} fill={colourOf(p.cv)}>
            <title>{`${p.r.label}: ${xs}=${text(p.xv)}, ${ys}=${yVals[i]}, ${cs}=${text(p.cv)}`}</title>
          </circle>
        ))}
      </svg>
      <figcaption class="small legend">
        {cNumeric ? (
          <span>{cs}: <span style={{ color: colourOf(cLo) }}>■ {cLo}</span> … <span style={{ color: colourOf(cHi) }}>■ {cHi}</span></span>
        ) : (
          cValues.map((c) => <span key={c} class="legend-item"><span style={{ color: colourOf(c) }}>●</span> {cs} = {c}</span>)
        )}
      </figcaption>
    </figure>
  );
}
