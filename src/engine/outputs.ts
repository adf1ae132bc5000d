/**
 * Maps iopub messages to nbformat outputs, as nbclient does: consecutive stream
 * texts of the same name merge, clear_output(wait=True) is deferred until the next
 * output, update_display_data replaces every earlier output with that display id
 * (in any cell), and `transient` is never stored. A stream's text is kept as a
 * LongText (notebook/long-text.ts) once it has more than one piece; past 16 Mi
 * characters its blocks spill to an unlinked file in TMPDIR (notebook/spill-file.ts).
 */
import type { Message } from '../kernel/messages.js';
import { tmpdir } from 'node:os';
import { attachLongText, LongText, longTextOf } from '../notebook/long-text.js';
import { SpillFile } from '../notebook/spill-file.js';
import type { Output } from '../notebook/notebook-types.js';
import { capNote, OutputCap } from './output-cap.js';

type Json = Record<string, unknown>;

export class OutputCollector {
  /** display_id → outputs (objects shared with the notebook) that carry it. */
  private readonly displays = new Map<string, Output[]>();
  /** The run's bound on the outputs held (output-cap.ts). */
  readonly cap: OutputCap;

  /** Where very long stream texts spill their blocks (notebook/spill-file.ts); null: they stay in memory. */
  private readonly spillDir: string | null;

  constructor(opts: { maxOutputBytes?: number; spillDir?: string | null } = {}) {
    this.cap = new OutputCap(opts.maxOutputBytes !== undefined && opts.maxOutputBytes > 0 ? opts.maxOutputBytes : undefined);
    this.spillDir = opts.spillDir === undefined ? tmpdir() : opts.spillDir;
  }

  /**
   * Applies one iopub message to a cell's outputs array (mutated in place).
   * Returns what changed, for progress events, or null: a new output, an updated
   * display, or for text merged into the previous stream output only the new text
   * (so listeners never receive a growing stream again and again).
   */
  apply(outputs: Output[], state: { clearPending: boolean }, msg: Message): { output: Output; appended: boolean } | null {
    const type = msg.header.msg_type;
    const c = msg.content as Json;
    if (type === 'clear_output') {
      if (c.wait) state.clearPending = true;
      else this.clear(outputs);
      return null;
    }
    if (type === 'update_display_data') {
      const id = (c.transient as Json | undefined)?.display_id as string | undefined;
      if (!id) return null;
      const targets = this.displays.get(id) ?? [];
      for (const o of targets) {
        (o as Json).data = c.data;
        (o as Json).metadata = c.metadata ?? {};
      }
      return targets[0] ? { output: targets[0], appended: false } : null;
    }
    let out: Output | null = null;
    switch (type) {
      case 'stream':
        // A large message's text comes as a LongText (kernel/large-stream.ts): the event carries it, the output a copy of its pieces.
        out = { output_type: 'stream', name: c.name as string, text: c.text } as Output;
        break;
      case 'display_data':
        out = { output_type: 'display_data', data: c.data, metadata: c.metadata ?? {} } as Output;
        break;
      case 'execute_result':
        out = { output_type: 'execute_result', data: c.data, metadata: c.metadata ?? {}, execution_count: c.execution_count } as Output;
        break;
      case 'error':
        out = { output_type: 'error', ename: c.ename, evalue: c.evalue, traceback: c.traceback ?? [] } as Output;
        break;
      default:
        return null;
    }
    if (state.clearPending) {
      this.clear(outputs);
      state.clearPending = false;
    }
    const admitted = this.cap.admit(out);
    const changed = admitted.output ? this.add(outputs, admitted.output, c, type) : null;
    if (!admitted.cut) return changed;
    // The cap was reached here: one note in this cell, then nothing more is kept.
    const note = { output_type: 'stream', name: 'stderr', text: capNote(this.cap.maxBytes!) } as Output;
    outputs.push(note);
    return { output: { ...note }, appended: false };
  }

  /** Merges `out` into the previous stream output or adds it. */
  private add(outputs: Output[], out: Output, c: Json, type: string): { output: Output; appended: boolean } {
    if (out.output_type === 'stream') {
      const last = outputs[outputs.length - 1] as Json | undefined;
      if (last && last.output_type === 'stream' && last.name === (out as Json).name) {
        appendStreamText(last, (out as Json).text as string | LongText, this.spillDir);
        this.cap.hold(out, last as Output);
        return { output: out, appended: true };
      }
      const text = (out as Json).text;
      if (text instanceof LongText) {
        const stored = { output_type: 'stream', name: (out as Json).name, text: '' } as Json;
        appendStreamText(stored, text, this.spillDir);
        this.cap.hold(out, stored as Output);
        outputs.push(stored as Output);
        return { output: out, appended: false };
      }
    }
    this.cap.hold(out);
    const displayId = (c.transient as Json | undefined)?.display_id as string | undefined;
    if (displayId && (type === 'display_data' || type === 'execute_result')) {
      const list = this.displays.get(displayId) ?? [];
      list.push(out);
      this.displays.set(displayId, list);
    }
    outputs.push(out);
    // A stream output grows later: hand listeners a snapshot, not the live object.
    return { output: out.output_type === 'stream' ? ({ ...out } as Output) : out, appended: false };
  }

  private clear(outputs: Output[]): void {
    for (const o of outputs) {
      this.cap.release(o);
      for (const [id, list] of this.displays) {
        const i = list.indexOf(o);
        if (i >= 0) {
          list.splice(i, 1);
          if (list.length === 0) this.displays.delete(id);
        }
      }
    }
    outputs.length = 0;
  }
}

/**
 * Appends to a stream output's text without rebuilding it: from its second piece on, the
 * text is a LongText (blocks joined as it grows; `text` still reads as one string).
 */
function appendStreamText(output: Json, text: string | LongText, spillDir: string | null): void {
  let long = longTextOf(output, 'text');
  if (!long) {
    long = new LongText(joinText(output.text as string | string[] | undefined), spillDir === null ? null : new SpillFile(spillDir));
    attachLongText(output, 'text', long);
  }
  if (typeof text === 'string') long.append(text);
  else for (const piece of text.pieces()) long.append(piece);
}

export function joinText(t: string | string[] | LongText | undefined): string {
  if (t === undefined) return '';
  if (t instanceof LongText) return t.toString();
  return Array.isArray(t) ? t.join('') : t;
}
