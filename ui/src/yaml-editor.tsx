/**
 * A YAML text area with line numbers and problems next to their lines: the line
 * is marked in the gutter and highlighted, its message is written to the right
 * of it, and the full list below links to each line. A plain textarea (no
 * editor library): lines do not wrap, so the gutter and notes follow its scroll.
 */
import { useRef, useState } from 'preact/hooks';

export interface LineNote {
  line: number;
  message: string;
}

const LINE_H = 18;

export function YamlEditor({ id, value, onInput, notes, label }: { id: string; value: string; onInput(v: string): void; notes: LineNote[]; label: string }) {
  const ta = useRef<HTMLTextAreaElement>(null);
  const [scroll, setScroll] = useState(0);
  const lines = value.split('\n').length;
  const byLine = new Map<number, string[]>();
  for (const n of notes) byLine.set(n.line, [...(byLine.get(n.line) ?? []), n.message]);
  const rows = Math.max(14, Math.min(lines + 2, 36));
  const shift = { transform: `translateY(${-scroll}px)` };

  const goTo = (line: number) => {
    const el = ta.current;
    if (!el) return;
    const starts = [0];
    for (let i = 0; i < el.value.length; i++) if (el.value[i] === '\n') starts.push(i + 1);
    const start = starts[line - 1] ?? 0;
    const end = (starts[line] ?? el.value.length + 1) - 1;
    el.focus();
    el.setSelectionRange(start, end);
    el.scrollTop = Math.max(0, (line - 4) * LINE_H);
    setScroll(el.scrollTop);
  };
  const onKeyDown = (e: KeyboardEvent) => {
    // Tab indents (two spaces) rather than leaving the editor; Escape then Tab leaves it.
    if (e.key !== 'Tab' || e.shiftKey || e.altKey || e.ctrlKey || e.metaKey) return;
    const el = e.target as HTMLTextAreaElement;
    if (el.dataset.escaped === '1') return;
    e.preventDefault();
    const { selectionStart: s, selectionEnd: t } = el;
    el.setRangeText('  ', s, t, 'end');
    onInput(el.value);
  };

  return (
    <div class="yaml">
      <div class="yaml-editor" style={{ height: `${rows * LINE_H + 10}px` }}>
        <div class="yaml-gutter" aria-hidden="true">
          <div style={shift}>
            {Array.from({ length: lines }, (_, i) => (
              <div key={i} class={byLine.has(i + 1) ? 'ln problem' : 'ln'} data-line={i + 1}>{i + 1}</div>
            ))}
          </div>
        </div>
        <div class="yaml-code">
          <div class="yaml-backdrop" aria-hidden="true" style={shift}>
            {[...byLine.keys()].map((line) => <div key={line} class="yaml-mark" style={{ top: `${(line - 1) * LINE_H}px` }} />)}
          </div>
          <textarea
            ref={ta}
            id={id}
            aria-label={label}
            wrap="off"
            spellcheck={false}
            autoComplete="off"
            value={value}
            aria-invalid={notes.length > 0 ? true : undefined}
            aria-describedby={notes.length ? `${id}-problems` : undefined}
            onInput={(e) => onInput((e.target as HTMLTextAreaElement).value)}
            onScroll={(e) => setScroll((e.target as HTMLTextAreaElement).scrollTop)}
            onKeyDown={onKeyDown}
            onKeyUp={(e) => ((e.target as HTMLTextAreaElement).dataset.escaped = e.key === 'Escape' ? '1' : '')}
          />
        </div>
        <div class="yaml-notes" aria-hidden="true">
          <div style={shift}>
            {[...byLine].map(([line, msgs]) => (
              <div key={line} class="yaml-note" data-line={line} style={{ top: `${(line - 1) * LINE_H}px` }} title={msgs.join('\n')}>
                ← {msgs.join(' · ')}
              </div>
            ))}
          </div>
        </div>
      </div>
      {notes.length > 0 && (
        <ul id={`${id}-problems`} class="yaml-problems" aria-label="Problems">
          {[...notes].sort((a, b) => a.line - b.line).map((n, i) => (
            <li key={i}>
              <button type="button" class="link" onClick={() => goTo(n.line)}>Line {n.line}</button> {n.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
