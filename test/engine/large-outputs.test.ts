/**
 * Large outputs in the engine: a stream of many messages is stored whole (as a
 * LongText, written chunk by chunk), and a run's outputs past maxOutputBytes are
 * dropped with a note in the cell and a warning, the run going on (output-cap.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { executeNotebook } from '../../src/engine/execute.js';
import { capNote } from '../../src/engine/output-cap.js';
import { OutputCollector } from '../../src/engine/outputs.js';
import { decodeLargeStream } from '../../src/kernel/large-stream.js';
import type { RunOptions } from '../../src/engine/run-types.js';
import type { Message } from '../../src/kernel/messages.js';
import { LongText, longTextOf } from '../../src/notebook/long-text.js';
import { notebookKernel } from '../../src/notebook/kernel.js';
import type { Output } from '../../src/notebook/notebook-types.js';
import { parseNotebook } from '../../src/notebook/read.js';
import { Redactor } from '../../src/secrets/redactor.js';
import { code, makeNotebook, tempDir } from '../helpers/notebooks.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function run(cells: Parameters<typeof makeNotebook>[0], extra: Partial<RunOptions> = {}) {
  const dir = await tempDir();
  const nb = parseNotebook(JSON.stringify(makeNotebook(cells, 'python3')), 'test.ipynb');
  const outputPath = join(dir, 'out.ipynb');
  const result = await executeNotebook({
    notebook: nb,
    inputPath: join(dir, 'in.ipynb'),
    outputPath,
    parameters: {},
    kernelName: notebookKernel(nb).kernelName!,
    language: notebookKernel(nb).language,
    ...extra,
  });
  const written = JSON.parse(await readFile(outputPath, 'utf8')) as Json;
  return { result, written };
}

const msg = (type: string, content: Json): Message => ({ header: { msg_type: type } as Message['header'], parent_header: {}, metadata: {}, content, channel: 'iopub', buffers: [] }) as unknown as Message;
const stream = (text: string, name = 'stdout') => msg('stream', { name, text });

describe('output collector: compact streams and the output cap', () => {
  test('consecutive stream messages merge into one LongText that reads as the joined text', () => {
    const c = new OutputCollector();
    const outputs: Output[] = [];
    const state = { clearPending: false };
    const first = c.apply(outputs, state, stream('a\n'));
    assert.deepEqual(first, { output: { output_type: 'stream', name: 'stdout', text: 'a\n' }, appended: false });
    for (let i = 0; i < 1000; i++) assert.equal(c.apply(outputs, state, stream('x'.repeat(99) + '\n'))?.appended, true);
    c.apply(outputs, state, stream('e\n', 'stderr'));
    assert.equal(outputs.length, 2);
    assert.ok(longTextOf(outputs[0]!, 'text'));
    assert.equal((outputs[0] as Json).text, 'a\n' + ('x'.repeat(99) + '\n').repeat(1000));
    assert.equal((outputs[1] as Json).text, 'e\n');
  });

  test('past the cap a stream message is cut, one note follows, and every later output is dropped', () => {
    const c = new OutputCollector({ maxOutputBytes: 100 });
    const outputs: Output[] = [];
    const state = { clearPending: false };
    c.apply(outputs, state, stream('a'.repeat(60)));
    const noted = c.apply(outputs, state, stream('b'.repeat(60)));
    assert.deepEqual(noted, { output: { output_type: 'stream', name: 'stderr', text: capNote(100) }, appended: false });
    assert.equal(c.apply(outputs, state, stream('c')), null);
    assert.equal(c.apply(outputs, state, msg('display_data', { data: { 'text/plain': 'd' }, metadata: {} })), null);
    assert.deepEqual(
      outputs.map((o) => [(o as Json).name, (o as Json).text]),
      [
        ['stdout', 'a'.repeat(60) + 'b'.repeat(40)],
        ['stderr', capNote(100)],
      ],
    );
    assert.match(c.cap.warning()!, /outputs truncated at 100 bytes .*: 22 bytes of later output were dropped/);
  });

  test('large stream messages (text left in the frame) are cut at the cap to the byte, and later ones only counted', () => {
    const cap = 3 * 1024 * 1024 + 5;
    const c = new OutputCollector({ maxOutputBytes: cap, spillDir: null });
    const outputs: Output[] = [];
    const state = { clearPending: false };
    const line = 'é€ x'.repeat(200) + '\n';
    const text = line.repeat(Math.ceil((5 * 1024 * 1024) / line.length));
    const big = () => msg('stream', decodeLargeStream(Buffer.from(JSON.stringify({ name: 'stdout', text }), 'utf8'))!);
    c.apply(outputs, state, stream('head\n'));
    assert.equal(c.apply(outputs, state, big())?.output.text, capNote(cap));
    assert.equal(c.apply(outputs, state, big()), null);
    const kept = (outputs[0] as Json).text as string;
    assert.ok(Buffer.byteLength(kept) <= cap && Buffer.byteLength(kept) > cap - 4, `${Buffer.byteLength(kept)} bytes kept`);
    assert.ok(kept === ('head\n' + text).slice(0, kept.length), 'the head of the text, exactly');
    assert.equal(c.cap.dropped, Buffer.byteLength('head\n' + text + text) - Buffer.byteLength(kept));
  });

  test('outputs removed by clear_output no longer count against the cap', () => {
    const c = new OutputCollector({ maxOutputBytes: 100 });
    const outputs: Output[] = [];
    const state = { clearPending: false };
    for (let i = 0; i < 10; i++) {
      c.apply(outputs, state, msg('clear_output', { wait: false }));
      c.apply(outputs, state, stream('z'.repeat(80)));
    }
    assert.equal(c.cap.warning(), null);
    assert.deepEqual(outputs.map((o) => (o as Json).text), ['z'.repeat(80)]);
  });
});

describe('engine: large outputs on a real ipykernel', () => {
  test('8 MiB of stdout in 1 KiB lines is stored whole', async () => {
    const lines = 8 * 1024;
    const { result, written } = await run([code(`import sys\nline = 'x' * 1023 + '\\n'\nfor i in range(${lines}):\n    sys.stdout.write(line)\nprint('done')`)]);
    assert.equal(result.status, 'succeeded');
    const outs = written.cells[0].outputs as Json[];
    assert.equal(outs.length, 1);
    assert.equal(outs[0]!.text, ('x'.repeat(1023) + '\n').repeat(lines) + 'done\n');
  });

  test('with secrets, a 24 MiB stream message is redacted slice by slice and never joined into one string', async () => {
    const secret = 'hunter2-s3cr3t-value';
    const MiB = 1024 * 1024;
    const n = 24;
    // ASCII without escapes: the text's offsets are its frame's, so each value straddles a 1 MiB slice of the frame.
    const textOf = (value: string) => {
      let out = '';
      let pos = 0;
      for (let k = 1; k < n; k++) {
        const cut = k * MiB - 5;
        out += 'x'.repeat(cut - pos) + value;
        pos = cut + secret.length;
      }
      return out + 'x'.repeat(n * MiB - pos);
    };
    const src =
      `import sys\ns = ${JSON.stringify(secret)}\nparts, pos = [], 0\nfor k in range(1, ${n}):\n    cut = k * ${MiB} - 5\n` +
      `    parts += ['x' * (cut - pos), s]\n    pos = cut + len(s)\nparts.append('x' * (${n * MiB} - pos))\nsys.stdout.write(''.join(parts))\nsys.stdout.flush()`;
    // Every join of a LongText into one string is seen here (a large message's text and an output's are LongTexts).
    const toString = LongText.prototype.toString;
    let longestJoin = 0;
    LongText.prototype.toString = function (this: LongText) {
      const s = toString.call(this);
      longestJoin = Math.max(longestJoin, s.length);
      return s;
    };
    let ran;
    try {
      ran = await run([code(src)], { redactor: new Redactor([{ name: 'TOKEN', value: secret }]) });
    } finally {
      LongText.prototype.toString = toString;
    }
    assert.equal(ran.result.status, 'succeeded');
    const outs = ran.written.cells[0].outputs as Json[];
    assert.equal(outs.length, 1);
    assert.equal(outs[0]!.name, 'stdout');
    assert.ok(outs[0]!.text === textOf('[REDACTED:TOKEN]'), 'every value redacted, the rest kept');
    assert.ok(longestJoin <= 2 * MiB, `a LongText of ${longestJoin} characters was joined into one string`);
  });

  test('past maxOutputBytes the run goes on, its notebook keeps the head, a note and a warning', async () => {
    const cap = 1024 * 1024;
    const { result, written } = await run(
      [code(`import sys\nfor i in range(3 * 1024):\n    sys.stdout.write('%1023d\\n' % i)`), code('x = 41 + 1\nprint("after", x)'), code('x')],
      { maxOutputBytes: cap },
    );
    assert.equal(result.status, 'succeeded');
    const [c0, c1, c2] = written.cells as Json[];
    const text = c0!.outputs[0].text as string;
    assert.ok(text.length > 0 && text.length <= cap, `kept ${text.length} bytes`);
    const full = Array.from({ length: 3 * 1024 }, (_, i) => `${String(i).padStart(1023)}\n`).join('');
    assert.ok(full.startsWith(text), 'the kept text is the head of the output');
    assert.deepEqual(c0!.outputs[1], { output_type: 'stream', name: 'stderr', text: capNote(cap) });
    // Later cells still run (their execution counts are set); their outputs are dropped.
    assert.deepEqual(c1!.outputs, []);
    assert.deepEqual(c2!.outputs, []);
    assert.equal(c2!.execution_count, 3);
    const warnings = written.metadata.hubmill.warnings as string[];
    assert.ok(warnings.some((w) => /^outputs truncated at 1 MiB \(HUBMILL_MAX_OUTPUT_BYTES\): [\d,]+ bytes of later output were dropped$/.test(w)), JSON.stringify(warnings));
    assert.deepEqual(result.warnings, warnings);
  });
});
