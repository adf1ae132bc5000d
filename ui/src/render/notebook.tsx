/** An executed notebook: cells rendered progressively ("Show more cells"), outputs by outputs.tsx. */
import { useState } from 'preact/hooks';
import { joinText, type Cell, type Notebook } from '../api';
import { highlight } from './highlight';
import { renderMarkdown } from './markdown';
import { OutputView, Truncated } from './outputs';

const FIRST_CELLS = 40;
const MORE_CELLS = 100;

function withAttachments(src: string, cell: Cell): string {
  const att = (cell as { attachments?: Record<string, Record<string, string>> }).attachments;
  if (!att) return src;
  return src.replace(/attachment:([^\s)"']+)/g, (m, name: string) => {
    const entry = att[name];
    const type = entry && Object.keys(entry).find((t) => /^image\/(png|jpeg|gif)$/.test(t));
    return type ? `data:${type};base64,${String(entry[type]).replace(/\s/g, '')}` : m;
  });
}

export function CellView({ cell, index, language }: { cell: Cell; index: number; language?: string }) {
  const src = joinText(cell.source);
  if (cell.cell_type === 'markdown') {
    return <div class="cell md-cell markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(withAttachments(src, cell)) }} />;
  }
  if (cell.cell_type !== 'code') return <div class="cell raw-cell"><Truncated text={src} ansi={false} /></div>;
  const pm = cell.metadata?.papermill;
  const failed = pm?.status === 'failed' || (cell.outputs ?? []).some((o) => o.output_type === 'error');
  const tags = cell.metadata?.tags ?? [];
  return (
    <div class={`cell code-cell${failed ? ' failed' : ''}`} data-cell-index={index}>
      <div class="cell-head">
        <span class="prompt">[{cell.execution_count ?? ' '}]</span>
        {tags.includes('injected-parameters') && <span class="tag">injected parameters</span>}
        {tags.includes('parameters') && <span class="tag">parameters</span>}
        {typeof pm?.duration === 'number' && <span class="muted small">{pm.duration.toFixed(2)} s</span>}
      </div>
      {src.length > 200_000 ? (
        <Truncated text={src} className="source" ansi={false} />
      ) : (
        <pre class="source hljs" dangerouslySetInnerHTML={{ __html: highlight(src, language) }} />
      )}
      {(cell.outputs ?? []).length > 0 && (
        <div class="outputs">
          {(cell.outputs ?? []).map((o, i) => (
            <OutputView key={i} output={o} />
          ))}
        </div>
      )}
    </div>
  );
}

export function NotebookView({ nb }: { nb: Notebook }) {
  const [count, setCount] = useState(FIRST_CELLS);
  const language = nb.metadata?.language_info?.name ?? nb.metadata?.kernelspec?.language;
  const cells = nb.cells.slice(0, count);
  return (
    <div class="notebook">
      {cells.map((c, i) => (
        <CellView key={i} cell={c} index={i} language={language} />
      ))}
      {nb.cells.length > count && (
        <button type="button" class="more" onClick={() => setCount(count + MORE_CELLS)}>
          Show more cells ({nb.cells.length - count} more)
        </button>
      )}
    </div>
  );
}
