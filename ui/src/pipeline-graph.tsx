/**
 * A pipeline's graph (graph-layout.ts places it): one HTML box per task with
 * its key, its notebook or `n/N` of its items, coloured by its status, over an
 * SVG layer with the edges from each upstream task. The layout is recomputed only when the keys or edges
 * change, so live status changes only repaint the boxes.
 */
import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { layout, NODE_H, NODE_W } from './graph-layout';
import type { TaskStatus } from './pipeline-api';

export interface GraphTask {
  key: string;
  deps: readonly string[];
  /** Second line: the notebook, or a for_each task's `n/N`. */
  sub?: string | null;
  status?: TaskStatus | null;
  /** Marked as having a problem (the editor's preview). */
  problem?: boolean;
}

const KEY_CHARS = 22;
const SUB_CHARS = 24;
/** One listener for the whole drawing (not two per task): the task whose box the event came from. */
function pick(e: Event, onSelect: (key: string) => void): void {
  const key = (e.target as Element | null)?.closest?.('.node')?.getAttribute('data-key');
  if (key === null || key === undefined) return;
  e.preventDefault();
  onSelect(key);
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Graphs this large draw only the boxes in view, and a margin around it, as a map does: a 1,000-task run's page
 * builds a hundred boxes instead of a thousand (the others are drawn as they are scrolled into view). Smaller
 * graphs draw every box, so each can be reached with the keyboard.
 */
export const VIRTUAL_MIN = 300;
const MARGIN = 320;

interface View {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The scrolled part of `ref`'s element, kept current (one reading per frame); before the first reading, the window. */
function useView(ref: { current: HTMLElement | null }, enabled: boolean): View {
  const [view, setView] = useState<View | null>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!enabled || !el) return;
    let frame = 0;
    const read = () => {
      frame = 0;
      setView({ x: el.scrollLeft, y: el.scrollTop, w: el.clientWidth, h: el.clientHeight });
    };
    const later = () => {
      frame ||= requestAnimationFrame(read);
    };
    read();
    el.addEventListener('scroll', later, { passive: true });
    const ro = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(later);
    ro?.observe(el);
    return () => {
      el.removeEventListener('scroll', later);
      ro?.disconnect();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [enabled]);
  return view ?? { x: 0, y: 0, w: window.innerWidth, h: window.innerHeight };
}

export function PipelineGraph({ tasks, label, selected, onSelect }: { tasks: readonly GraphTask[]; label: string; selected?: string | null; onSelect?(key: string): void }) {
  const shape = tasks.map((t) => `${t.key}<${t.deps.join(',')}`).join(';');
  const l = useMemo(() => layout(tasks), [shape]);
  const edges = useMemo(() => edgePaths(l), [l]);
  const wrap = useRef<HTMLDivElement>(null);
  const virtual = tasks.length >= VIRTUAL_MIN;
  const view = useView(wrap, virtual);
  if (tasks.length === 0) return <p class="muted">No tasks.</p>;
  const w = l.width + 2 * PAD;
  const h = l.height + 2 * PAD;
  const inView = (p: { x: number; y: number }) =>
    !virtual || (p.x + NODE_W + PAD >= view.x - MARGIN && p.x + PAD <= view.x + view.w + MARGIN && p.y + NODE_H + PAD >= view.y - MARGIN && p.y + PAD <= view.y + view.h + MARGIN);
  return (
    <div class="graph-wrap" ref={wrap}>
      <div
        class="graph"
        style={{ width: `${w}px`, height: `${h}px`, '--node-w': `${NODE_W}px`, '--node-h': `${NODE_H}px` }}
        role="group"
        aria-label={label}
        data-tasks={tasks.length}
        data-virtual={virtual ? 'true' : undefined}
        onClick={onSelect ? (e) => pick(e, onSelect) : undefined}
        onKeyDown={onSelect ? (e) => (e.key === 'Enter' || e.key === ' ') && pick(e, onSelect) : undefined}
      >
        {/* One path for all edges and one for their heads: a 1,000-task graph stays two elements, not thousands. */}
        <svg class="graph-edges" width={w} height={h} viewBox={`0 0 ${w} ${h}`} aria-hidden="true">
          <path class="edges" d={edges.paths} />
          <path class="heads" d={edges.heads} />
        </svg>
        {/*
          The boxes are HTML, not SVG text: Chromium lays out 2,000 SVG text runs in about a second, HTML text in a
          fraction of that, and `content-visibility: auto` (styles.css) skips the text of the boxes scrolled out of view.
        */}
        {l.nodes.map((p, i) => {
          if (!inView(p)) return null;
          const t = tasks[i]!;
          const status = t.status ?? 'none';
          return (
            <div
              key={`${i}-${t.key}`}
              class={`node st-${status}${t.problem ? ' problem' : ''}${selected === t.key ? ' selected' : ''}`}
              data-key={t.key}
              data-status={status}
              style={{ left: `${p.x + PAD}px`, top: `${p.y + PAD}px` }}
              tabindex={onSelect ? 0 : undefined}
              role={onSelect ? 'button' : undefined}
              aria-label={`${t.key}${t.status ? `: ${t.status}` : ''}${t.sub ? `, ${t.sub}` : ''}`}
              // A tooltip only where the box cuts a name short: a 1,000-task graph stays light.
              title={t.key.length > KEY_CHARS || (t.sub?.length ?? 0) > SUB_CHARS ? `${t.key}${t.sub ? `\n${t.sub}` : ''}` : undefined}
            >
              <span class="k">{clip(t.key, KEY_CHARS)}</span>
              {t.sub && <span class="s">{clip(t.sub, SUB_CHARS)}</span>}
            </div>
          );
        })}
      </div>
    </div>
  );
}

const PAD = 6;

/** Every edge as one path, and every arrow head as another: a 1,000-task graph stays two elements, not thousands. */
function edgePaths(l: ReturnType<typeof layout>): { paths: string; heads: string } {
  const paths: string[] = [];
  const heads: string[] = [];
  for (const e of l.edges) {
    const a = l.byKey.get(e.from)!;
    const b = l.byKey.get(e.to)!;
    const x1 = a.x + NODE_W + PAD;
    const y1 = a.y + NODE_H / 2 + PAD;
    const x2 = b.x + PAD - 3;
    const y2 = b.y + NODE_H / 2 + PAD;
    const mx = (x1 + x2) / 2;
    heads.push(`M${x2 + 3} ${y2}l-7 -3.5v7z`);
    paths.push(b.layer > a.layer ? `M${x1} ${y1}C${mx} ${y1} ${mx} ${y2} ${x2} ${y2}` : `M${x1} ${y1}C${x1 + 40} ${y1 - 60} ${x2 - 40} ${y2 - 60} ${x2} ${y2}`);
  }
  return { paths: paths.join(''), heads: heads.join('') };
}
