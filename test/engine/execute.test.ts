import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { executeNotebook } from '../../src/engine/execute.js';
import { KernelClient } from '../../src/kernel/kernel-client.js';
import { getKernelSpec } from '../../src/kernel/kernelspec-discovery.js';
import type { EngineEvent, RunOptions } from '../../src/engine/run-types.js';
import { freshKernels, givenKernel, type KernelSource } from '../../src/engine/kernel-source.js';
import { parseNotebook, sourceText } from '../../src/notebook/read.js';
import { serializeNotebook } from '../../src/notebook/write.js';
import { code, makeNotebook, md, processAlive, tempDir, waitFor } from '../helpers/notebooks.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { notebookKernel } from '../../src/notebook/kernel.js';

type Json = Record<string, any>;

async function run(cells: Parameters<typeof makeNotebook>[0], extra: Partial<RunOptions> = {}, kernel: 'python3' | 'ir' = 'python3') {
  const dir = await tempDir();
  const nb = parseNotebook(JSON.stringify(makeNotebook(cells, kernel)), 'test.ipynb');
  const events: EngineEvent[] = [];
  const outputPath = join(dir, 'out.ipynb');
  const result = await executeNotebook({
    notebook: nb,
    inputPath: join(dir, 'in.ipynb'),
    outputPath,
    parameters: {},
    // Resolved once by the caller, as the intake and the CLI do.
    kernelName: notebookKernel(nb).kernelName!,
    language: notebookKernel(nb).language,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  const written = JSON.parse(await readFile(outputPath, 'utf8')) as Json;
  return { result, events, written, dir, outputPath };
}

const src = (c: Json) => (Array.isArray(c.source) ? c.source.join('') : c.source);

describe('engine: papermill semantics on a real ipykernel', () => {
  test('injects after the parameters cell and records papermill metadata on notebook and cells', async () => {
    const { result, written } = await run([code('alpha = 1', ['parameters']), md('text'), code('print(alpha * 2)')], {
      parameters: { alpha: 21 },
    });
    assert.equal(result.status, 'succeeded');
    const cells = written.cells;
    assert.deepEqual(cells[1].metadata.tags, ['injected-parameters']);
    assert.equal(src(cells[1]), '# Parameters\nalpha = 21\n');
    assert.equal(cells[3].outputs[0].text, '42\n');
    for (const c of cells) {
      assert.equal(c.metadata.papermill.status, 'completed');
      assert.ok(c.metadata.papermill.start_time && c.metadata.papermill.end_time);
      assert.equal(typeof c.metadata.papermill.duration, 'number');
    }
    const pm = written.metadata.papermill;
    assert.deepEqual(pm.parameters, { alpha: 21 });
    assert.equal(pm.exception, null);
    assert.ok(pm.start_time && pm.end_time && typeof pm.duration === 'number');
    assert.equal(written.metadata.language_info.name, 'python');
    assert.equal(written.nbformat, 4);
    assert.equal(written.nbformat_minor, 5);
  });

  test('a failing cell stops the run, gets markers, and later cells stay pending and empty', async () => {
    const { result, written } = await run([code('x = 1'), code('print("before")\n1/0'), code('print("never")')]);
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.ename, 'ZeroDivisionError');
    const cells = written.cells;
    assert.equal(cells.length, 5);
    assert.deepEqual(cells[0].metadata.tags, ['papermill-error-cell-tag']);
    assert.match(src(cells[0]), /An Exception was encountered at/);
    assert.deepEqual(cells[2].metadata.tags, ['papermill-error-cell-tag']);
    assert.match(src(cells[2]), /id="papermill-error-cell"/);
    // Named by its index in the input (markers not counted) and its In [n].
    assert.equal(result.error?.cell_index, 1);
    assert.equal(result.error?.execution_count, 2);
    assert.equal(cells[3].execution_count, 2);
    assert.equal(cells[1].metadata.papermill.exception, false);
    assert.equal(cells[3].metadata.papermill.status, 'failed');
    assert.equal(cells[3].metadata.papermill.exception, true);
    assert.equal(cells[4].metadata.papermill.status, 'pending');
    assert.equal(cells[4].metadata.papermill.exception, null);
    assert.equal(cells[4].execution_count, null);
    assert.deepEqual(cells[4].outputs, []);
    assert.equal(written.metadata.papermill.exception, true);
    assert.ok(!result.error!.traceback.join('\n').includes('\u001b['), 'traceback in the job error is colourless');
  });

  test('re-running an output notebook replaces injected cells and old markers instead of stacking', async () => {
    const first = await run([code('a = 1', ['parameters']), code('assert a == 1')], { parameters: { a: 2 } });
    assert.equal(first.result.status, 'failed');
    const again = await executeNotebook({
      kernelName: 'python3',
      notebook: parseNotebook(JSON.stringify(first.written), 'again.ipynb'),
      inputPath: first.outputPath,
      outputPath: join(first.dir, 'again.ipynb'),
      parameters: { a: 1 },
    });
    assert.equal(again.status, 'succeeded');
    const tagsOf = again.notebook.cells.map((c) => ((c.metadata as Json).tags ?? []).join(','));
    assert.deepEqual(tagsOf, ['parameters', 'injected-parameters', '']);
  });

  test('the failing cell is named by its input index, not counting the injected cell or the markers added to the output', async () => {
    // An earlier failed run's output as input: two old markers, the parameters cell, an injected cell.
    const first = await run([code('a = 1', ['parameters']), code('print(a)'), code('assert a == 1')], { parameters: { a: 2 } });
    assert.equal(first.result.error?.cell_index, 2, 'the injected cell is not counted');
    const input = first.written;
    const inputIndex = input.cells.findIndex((c: Json) => src(c) === 'assert a == 1');
    assert.equal(inputIndex, 5);
    const again = await executeNotebook({
      kernelName: 'python3',
      notebook: parseNotebook(JSON.stringify(input), 'again.ipynb'),
      inputPath: first.outputPath,
      outputPath: join(first.dir, 'again.ipynb'),
      parameters: { a: 3 },
    });
    assert.equal(again.status, 'failed');
    assert.equal(again.error?.cell_index, inputIndex, 'index in the input file as given');
    assert.equal(again.error?.execution_count, 4);
    const failed = again.notebook.cells.find((c) => (c as Json).execution_count === 4)!;
    assert.equal(sourceText(failed), 'assert a == 1');
  });

  test('SystemExit(0) is not a failure; raises-exception cells may raise; skip-execution cells are skipped', async () => {
    const r1 = await run([code('raise ValueError("expected")', ['raises-exception']), code('x = 5'), code('print("skipped")', ['skip-execution']), code('import sys; sys.exit(0)'), code('print("after exit")')]);
    assert.equal(r1.result.status, 'succeeded', JSON.stringify(r1.result.error));
    const cells = r1.written.cells;
    assert.equal(cells[0].outputs[0].ename, 'ValueError');
    assert.equal(cells[1].execution_count !== null, true);
    assert.equal(cells[2].execution_count, null);
    assert.deepEqual(cells[2].outputs, []);
    assert.equal(cells[4].metadata.papermill.status, 'pending');
    // papermill's cell metadata: the raising-but-allowed cell ran cleanly, the SystemExit cell failed.
    assert.deepEqual(cells.map((c: Json) => [c.metadata.papermill.status, c.metadata.papermill.exception]), [
      ['completed', false],
      ['completed', false],
      ['completed', false],
      ['failed', true],
      ['pending', null],
    ]);
    assert.equal(r1.result.error, null);
    assert.ok(!cells.some((c: Json) => (c.metadata.tags ?? []).includes('papermill-error-cell-tag')), 'no markers');
  });

  test('an output sink receives every save, byte for byte what the local file gets, and no local file is written', async () => {
    const dir = await tempDir();
    const nb = parseNotebook(JSON.stringify(makeNotebook([code('x = 1', ['parameters']), code('print(x)')])), 'test.ipynb');
    const saves: string[] = [];
    let closed = 0;
    const common = { notebook: nb, inputPath: 'proj/in.ipynb', cwd: dir, parameters: { x: 7 }, hubmillMetadata: { job_id: 'same' } };
    const remote = await executeNotebook({
      kernelName: 'python3',
      ...common,
      outputPath: null,
      output: { path: 'proj/out.ipynb', write: async (n) => void saves.push(serializeNotebook(n)), close: () => void closed++ },
    });
    assert.equal(remote.status, 'succeeded');
    assert.ok(saves.length >= 2, `saves: ${saves.length}`);
    assert.equal(closed, 1);
    assert.match(saves.at(-1)!, /"text": "7\\n"/);
    assert.equal(JSON.parse(saves[0]!).metadata.papermill.output_path, 'proj/out.ipynb');
    assert.deepEqual(await readdir(dir), [], 'nothing written locally');
    // The same run to a local file: the same cells (timings and ids aside, which differ per run).
    const local = await run([code('x = 1', ['parameters']), code('print(x)')], { parameters: { x: 7 } });
    const strip = (t: string) => (JSON.parse(t) as Json).cells.map((c: Json) => ({ source: c.source, outputs: c.outputs, tags: c.metadata.tags }));
    assert.deepEqual(strip(saves.at(-1)!), strip(await readFile(local.outputPath, 'utf8')));
  });

  test('report mode hides code sources; prepare-only writes without executing', async () => {
    const r = await run([code('1+1')], { reportMode: true });
    assert.equal(r.written.cells[0].metadata.jupyter.source_hidden, true);
    const p = await run([code('a = 1', ['parameters']), code('print(a)')], { prepareOnly: true, parameters: { a: 3 } });
    assert.equal(p.result.status, 'succeeded');
    assert.equal(p.written.cells.length, 3);
    assert.equal(p.written.cells[2].metadata.papermill.status, 'pending');
    assert.deepEqual(p.written.cells[2].outputs, []);
  });

  test('outputs: stream merging, clear_output(wait), update_display_data, execute_result count, no transient', async () => {
    const { written, result } = await run([
      code('import sys\nprint("a")\nprint("b")\nsys.stdout.flush()\nsys.stderr.write("e\\n")\nsys.stderr.flush()\nprint("c")'),
      code('from IPython.display import display, clear_output\nprint("gone")\nclear_output(wait=True)\nprint("kept")'),
      code('from IPython.display import display\nh = display("v1", display_id=True)'),
      code('h.update("v2")\n7'),
    ]);
    assert.equal(result.status, 'succeeded');
    const [c0, c1, c2, c3] = written.cells;
    assert.deepEqual(c0.outputs.map((o: Json) => [o.name, o.text]), [['stdout', 'a\nb\n'], ['stderr', 'e\n'], ['stdout', 'c\n']]);
    assert.deepEqual(c1.outputs.map((o: Json) => o.text), ['kept\n']);
    assert.equal(c2.outputs[0].data['text/plain'], "'v2'");
    assert.equal(c2.outputs[0].transient, undefined);
    assert.equal(c3.outputs[0].output_type, 'execute_result');
    assert.equal(c3.outputs[0].execution_count, c3.execution_count);
  });

  test('scrapbook glue values become results', async () => {
    const scrap = (name: string, data: unknown) =>
      `from IPython.display import display\ndisplay({"application/scrapbook.scrap.json+json": {"name": ${JSON.stringify(name)}, "data": ${JSON.stringify(data)}, "encoder": "json", "version": 1}}, metadata={"scrapbook": {"name": ${JSON.stringify(name)}}}, raw=True)`;
    const { result } = await run([code(scrap('accuracy', 0.93)), code(scrap('labels', ['a', 'b']))]);
    assert.equal(result.status, 'succeeded');
    // A float stays a float (as Python's json reads the scrap).
    assert.deepEqual(result.results, { accuracy: new PyFloat(0.93), labels: ['a', 'b'] });
  });

  test('per-cell timeout interrupts the cell, saves, and names the cell and limit', async () => {
    const t0 = Date.now();
    const { result, written } = await run([code('x = 1'), code('import time\ntime.sleep(60)'), code('print("never")')], { cellTimeoutMs: 1000 });
    assert.ok(Date.now() - t0 < 15_000);
    assert.equal(result.status, 'timed_out');
    assert.equal(result.error?.ename, 'CellTimeoutError');
    assert.equal(result.error?.cell_index, 1);
    assert.equal(result.error?.execution_count, 2);
    assert.match(result.error!.evalue, /^Cell 1 \(In \[2\]\) timed out after 1 s/);
    const failed = written.cells[result.error!.cell_index! + 2];
    assert.equal(failed.metadata.papermill.status, 'failed');
    assert.equal(failed.outputs.at(-1).ename, 'KeyboardInterrupt');
  });

  test('a cell that ignores the interrupt gets its kernel killed after the grace period', async () => {
    const { result } = await run([code('import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)')], { cellTimeoutMs: 500 });
    assert.equal(result.status, 'timed_out');
  });

  test('mayWrite gates every output write: once it answers false, the file keeps the last allowed write', async () => {
    let allowed = true;
    let asked = 0;
    const r = await run([code('print("a")'), code('print("b")')], {
      mayWrite: () => {
        asked++;
        return allowed;
      },
      onEvent: (e) => {
        if (e.type === 'cell_started' && e.index === 1) allowed = false;
      },
    });
    assert.equal(r.result.status, 'succeeded');
    assert.ok(asked >= 2, `asked ${asked} times`);
    assert.equal(r.written.metadata.papermill.end_time, null, 'the final write was skipped');
    assert.ok(!r.written.cells.some((c: Json) => c.outputs?.[0]?.text === 'b\n'));
  });

  test('whole-run timeout and cancellation keep the partial output', async () => {
    // A pre-started kernel, so the limit is spent on cells rather than on a (noisy) kernel start.
    const kernel = await KernelClient.launch(await getKernelSpec('python3'));
    const rt = await run([code('print("started")'), code('import time\ntime.sleep(60)')], { runTimeoutMs: 2500, kernels: givenKernel(kernel) });
    assert.equal(rt.result.status, 'timed_out');
    assert.equal(rt.result.error?.ename, 'RunTimeoutError');
    assert.ok(rt.written.cells.some((c: Json) => c.outputs?.[0]?.text === 'started\n'));
    assert.equal(rt.result.error?.cell_index, 1);
    assert.match(rt.result.error!.evalue, /^Run exceeded its time limit of 2\.5 s in cell 1 \(In \[\d+\]\)$/);

    // With an injected cell (working index 3 is input cell 2), the message and cell_index agree.
    const ac = new AbortController();
    const pending = run([code('n = 0', ['parameters']), code('print("partial")'), code('import time\nprint("sleeping", flush=True)\ntime.sleep(60)')], {
      signal: ac.signal,
      parameters: { n: 1 },
      // Aborted once the cell's own code runs (its first output), not at a guessed moment.
      onEvent: (e) => {
        if (e.type === 'output' && e.index === 3) ac.abort();
      },
    });
    const c = await pending;
    assert.equal(c.result.status, 'cancelled');
    assert.ok(c.written.cells.some((x: Json) => x.outputs?.[0]?.text === 'partial\n'));
    assert.equal(c.result.error?.cell_index, 2);
    assert.match(c.result.error!.evalue, /^Run cancelled in cell 2( \(In \[4\]\))?$/);
  });

  test('a kernel that dies (os._exit) is reported promptly with the partial output saved', async () => {
    const t0 = Date.now();
    const { result, written } = await run([code('print("alive")'), code('import os\nos._exit(1)'), code('print("never")')]);
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.ename, 'DeadKernelError');
    assert.equal(result.error?.cell_index, 1);
    // The count comes from execute_input, which a kernel killed at once may never get out.
    assert.ok([2, null].includes(result.error!.execution_count!), String(result.error?.execution_count));
    const name = result.error!.execution_count === 2 ? 'cell 1 \\(In \\[2\\]\\)' : 'cell 1';
    assert.match(result.error!.evalue, new RegExp(`^Kernel died while executing ${name}`));
    assert.equal(written.cells[2].cell_type, 'markdown');
    assert.equal(src(written.cells[3]), 'import os\nos._exit(1)');
    assert.equal(written.cells.find((c: Json) => c.outputs?.[0]?.text === 'alive\n') !== undefined, true);
  });

  test('the kernel works in the notebook folder by default and in --cwd when given; stdin is refused', async () => {
    const dir = await tempDir();
    const r = await run([code('import os\nprint(os.getcwd())'), code('try:\n    input()\nexcept Exception as e:\n    print(type(e).__name__)')], { cwd: dir });
    assert.equal(r.written.cells[0].outputs[0].text.trim(), dir);
    assert.equal(r.written.cells[1].outputs[0].text.trim(), 'StdinNotImplementedError');
    const r2 = await run([code('import os\nprint(os.getcwd())')]);
    assert.equal(r2.written.cells[0].outputs[0].text.trim(), r2.dir);
  });

  test('the output file exists from the start and shows progress during the run', async () => {
    const dir = await tempDir();
    const outputPath = join(dir, 'live.ipynb');
    let sawProgress = false;
    const nb = parseNotebook(JSON.stringify(makeNotebook([code('print("first")'), code('import time\ntime.sleep(2.5)'), code('1')])), 'x');
    let checked: Promise<void> = Promise.resolve();
    await executeNotebook({
      kernelName: 'python3',
      notebook: nb,
      inputPath: join(dir, 'in.ipynb'),
      outputPath,
      parameters: {},
      saveIntervalMs: 200,
      onEvent: (e) => {
        if (e.type === 'run_started') checked = stat(outputPath).then(() => undefined);
        if (e.type === 'cell_started' && e.index === 1) {
          // The file is read until it shows the first cell's output and the second running (the cell sleeps 2.5 s; bounded).
          checked = checked.then(async () => {
            sawProgress = await waitFor(async () => {
              const mid = JSON.parse(await readFile(outputPath, 'utf8').catch(() => '{"cells":[]}'));
              return mid.cells[0]?.outputs[0]?.text === 'first\n' && mid.cells[1]?.metadata.papermill.status === 'running';
            }, 2000, 50);
          });
        }
      },
    });
    await checked;
    assert.ok(sawProgress, 'the file reflected the first cell while the second ran');
  });

  test('a 20 MB output finishes without trouble', async () => {
    const { result, written } = await run([code('print("x" * (20 * 1024 * 1024))'), code('print("done")')]);
    assert.equal(result.status, 'succeeded');
    assert.equal(written.cells[0].outputs[0].text.length, 20 * 1024 * 1024 + 1);
    assert.equal(written.cells[1].outputs[0].text, 'done\n');
  });

  test('stream output events carry only the new text, never the whole stream again', async () => {
    const { events, written } = await run([code('import time\nfor i in range(3):\n    print("chunk", i, flush=True)\n    time.sleep(0.05)')]);
    const outs = events.filter((e): e is Extract<EngineEvent, { type: 'output' }> => e.type === 'output');
    const texts = outs.map((e) => (e.output as { text: string }).text);
    assert.equal(texts.join(''), 'chunk 0\nchunk 1\nchunk 2\n');
    assert.equal(outs[0]!.appended, false);
    assert.ok(outs.slice(1).every((e) => e.appended));
    assert.equal(written.cells[0].outputs.length, 1);
  });

  test('progress events: started, per-cell, finished, in order', async () => {
    const { events } = await run([code('1'), md('m'), code('print(2)')]);
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'run_started');
    assert.equal(types.at(-1), 'run_finished');
    assert.equal(types.filter((t) => t === 'cell_finished').length, 3);
    const last = events.filter((e) => e.type === 'cell_finished').at(-1) as Extract<EngineEvent, { type: 'cell_finished' }>;
    assert.equal(last.cellsDone, 3);
    assert.ok(types.includes('output'));
  });

  test('a run that ends before its first cell starts no kernel, and gives back one it got while being stopped', async () => {
    let acquired = 0;
    const fresh = freshKernels();
    const counting: KernelSource = {
      acquire: (req) => {
        acquired++;
        return fresh.acquire(req);
      },
    };
    const ac = new AbortController();
    ac.abort();
    const r1 = await run([code('1')], { kernels: counting, signal: ac.signal, cwd: '/' });
    assert.equal(r1.result.status, 'cancelled');
    assert.deepEqual([r1.result.error?.evalue, r1.result.error?.cell_index, r1.result.error?.execution_count], ['Run cancelled before the first cell', null, null]);
    // As papermill: the notebook's exception is about cells; none failed. metadata.hubmill.status tells the outcome.
    assert.equal(r1.written.metadata.papermill.exception, null);
    assert.equal(r1.written.metadata.hubmill.status, 'cancelled');
    // R strings cannot hold NUL: injection throws before any cell runs.
    await assert.rejects(run([code('x <- 1', ['parameters'])], { kernels: counting, parameters: { x: 'a\u0000b' } }, 'ir'), /NUL/);
    assert.equal(acquired, 0, 'no kernel was asked for');

    // Cancelled while the source was starting the kernel: the kernel is given back (shut down).
    const k = await KernelClient.launch(await getKernelSpec('python3'));
    const ac2 = new AbortController();
    const source: KernelSource = {
      acquire: async () => {
        ac2.abort();
        return k;
      },
    };
    const r2 = await run([code('1')], { kernels: source, signal: ac2.signal });
    assert.equal(r2.result.status, 'cancelled');
    assert.ok(await waitFor(() => !processAlive(k.pid!), 8000), 'kernel of a cancelled run survived');
  });

  test('unknown kernels fail clearly before anything runs', async () => {
    await assert.rejects(run([code('1')], { kernelName: 'nope' }), /No such kernel named 'nope'/);
  });
});

describe('engine: R notebooks on a real IRkernel', () => {
  test('injects R parameters and runs them', async () => {
    const { result, written } = await run([code('alpha <- 1', ['parameters']), code('cat(alpha * 2, name)')], { parameters: { alpha: 21, name: 'x"y' } }, 'ir');
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.equal(written.cells[2].outputs[0].text, '42 x"y');
    assert.equal(written.metadata.language_info.name, 'R');
  });

  test('an R error fails the run with markers', async () => {
    const { result } = await run([code('stop("boom")'), code('cat(1)')], {}, 'ir');
    assert.equal(result.status, 'failed');
    assert.match(result.error!.evalue + result.error!.traceback.join(''), /boom/);
  });
});
