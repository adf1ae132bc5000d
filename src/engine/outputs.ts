/**
 * Maps iopub messages to nbformat outputs, as nbclient does: consecutive stream
 * texts of the same name merge, clear_output(wait=True) is deferred until the next
 * output, update_display_data replaces every earlier output with that display id
 * (in any cell), and `transient` is never stored.
 */
import type { Message } from '../kernel/messages.js';
import type { Output } from '../notebook/notebook-types.js';

type Json = Record<string, unknown>;

export class OutputCollector {
  /** display_id → outputs (objects shared with the notebook) that carry it. */
  private readonly displays = new Map<string, Output[]>();

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
        out = { output_type: 'stream', name: c.name as string, text: c.text as string } as Output;
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
    if (out.output_type === 'stream') {
      const last = outputs[outputs.length - 1] as Json | undefined;
      if (last && last.output_type === 'stream' && last.name === (out as Json).name) {
        last.text = joinText(last.text as string | string[]) + ((out as Json).text as string);
        return { output: out, appended: true };
      }
    }
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

export function joinText(t: string | string[] | undefined): string {
  if (t === undefined) return '';
  return Array.isArray(t) ? t.join('') : t;
}
