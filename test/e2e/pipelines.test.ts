/**
 * Pipelines end to end, with real python3 kernels (the fork server) behind the
 * real HTTP API and the SQLite store: extract → a grid sweep → a report that
 * reads the sweep's results. Typed values (1.0, 2**63 + 1, a list, an object)
 * arrive in the downstream notebooks as Python types; a pipeline parameter
 * reaches only the notebooks that declare it; a task reads the file an upstream
 * task wrote in the owner's home; a run is cancelled; one item of a failed
 * sweep is repaired without re-running its siblings or the upstream task.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer, type StartedServer } from '../../src/server.js';
import { code, notebookJson, waitFor } from '../helpers/notebooks.js';

const TOKEN = 'e2e-pipelines-token-7a41';
const HEADERS = { authorization: `token ${TOKEN}`, 'content-type': 'application/json' };

const glue = (name: string, value: string) =>
  `display({'application/scrapbook.scrap.json+json': {'name': ${JSON.stringify(name)}, 'data': ${value}, 'encoder': 'json', 'version': 1}}, raw=True)`;

// Writes a file next to itself (the kernel runs in the notebook's folder) and records typed values.
const EXTRACT = [
  code('n_rows = 3', ['parameters']),
  code(
    [
      'from IPython.display import display',
      "with open('data.csv', 'w') as f:",
      "    f.write('\\n'.join(str(i) for i in range(n_rows)))",
      glue('f', '1.0'),
      glue('big', '2**63 + 1'),
      glue('xs', "[0.5, 2.0, -3, 'a']"),
      glue('obj', "{'k': [1, 2.5], 'n': None}"),
    ].join('\n'),
  ),
];

// Declares `seed` (pushed down from the pipeline) and the values it is given; reads the upstream task's file.
const SWEEP = [
  code("lr = 0.1\ndepth = 2\nf = 0.0\nbig = 0\nxs = []\nobj = {}\nseed = 0", ['parameters']),
  code(
    [
      'from IPython.display import display',
      'import os',
      "if os.path.exists('boom') and lr == 0.01 and depth == 4:",
      "    raise RuntimeError('boom')",
      "rows = open('data.csv').read().split('\\n')",
      glue('score', 'lr * depth'),
      glue('rows_read', 'len(rows)'),
      glue('seed', 'seed'),
      glue('types', "{k: [type(v).__name__, repr(v)] for k, v in {'f': f, 'big': big, 'xs': xs, 'obj': obj}.items()}"),
    ].join('\n'),
  ),
];

// Does not declare `seed`: it must not be injected here.
const REPORT = [
  code('scores = []', ['parameters']),
  code(['from IPython.display import display', glue('scores', 'scores'), glue('best', 'max(scores)'), glue('seed_defined', "'seed' in globals()")].join('\n')),
];

const SLEEPY = [code('seconds = 60', ['parameters']), code('import time\ntime.sleep(seconds)')];

const PIPELINE = {
  name: 'extract-sweep-report',
  username: 'alice',
  parameters: { seed: 42 },
  tasks: [
    { key: 'extract', notebook: 'work/extract.ipynb' },
    {
      key: 'sweep',
      notebook: 'work/sweep.ipynb',
      depends_on: ['extract'],
      for_each: { grid: { lr: [0.1, 0.01], depth: [2, 4] }, concurrency: 2 },
      parameters: {
        f: '{{tasks.extract.result.f}}',
        big: '{{tasks.extract.result.big}}',
        xs: '{{tasks.extract.result.xs}}',
        obj: '{{tasks.extract.result.obj}}',
      },
    },
    { key: 'report', notebook: 'work/report.ipynb', depends_on: ['sweep'], parameters: { scores: '{{tasks.sweep.result.score}}' } },
  ],
};

describe('pipelines with real kernels', { timeout: 300_000 }, () => {
  let root: string;
  let home: string;
  let server: StartedServer;
  let base: string;

  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? { authorization: HEADERS.authorization } : HEADERS,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(150_000),
    });
    const text = await r.text();
    let json: any = null; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: r.status, text, json };
  };

  const jobsOf = async (runId: string) => (await call('GET', `/api/v1/jobs?pipeline_run_id=${runId}&limit=500`)).json.jobs as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-e2e-pipelines-'));
    home = join(root, 'home', 'alice');
    await mkdir(join(home, 'work'), { recursive: true });
    await writeFile(join(home, 'work', 'extract.ipynb'), notebookJson(EXTRACT));
    await writeFile(join(home, 'work', 'sweep.ipynb'), notebookJson(SWEEP));
    await writeFile(join(home, 'work', 'report.ipynb'), notebookJson(REPORT));
    await writeFile(join(home, 'work', 'sleepy.ipynb'), notebookJson(SLEEPY));
    const config = loadConfig(
      { port: 0, homeTemplate: join(root, 'home', '{username}'), dataDir: join(root, 'data'), apiToken: TOKEN, concurrency: 2, waitMaxS: 120, shutdownGraceS: 2 },
      {},
    );
    server = await startServer(config, { signals: false, logger: pino({ level: 'silent' }), print: () => {} });
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('extract → grid sweep → report: typed values, push-down only where declared, files shared in the home, results as JSON and CSV', async () => {
    const created = await call('POST', '/api/v1/pipelines', PIPELINE);
    assert.equal(created.status, 201, created.text);
    const id = created.json.id as string;
    assert.deepEqual(
      created.json.plan.tasks.map((t: { key: string; declared_parameters: string[] }) => [t.key, t.declared_parameters.includes('seed')]),
      [['extract', false], ['sweep', true], ['report', false]],
    );

    const r = await call('POST', `/api/v1/pipelines/${id}/runs?wait=true`, { parameters: { seed: 7 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'succeeded', r.text);
    assert.deepEqual(r.json.tasks.map((t: { key: string; status: string }) => [t.key, t.status]), [['extract', 'succeeded'], ['sweep', 'succeeded'], ['report', 'succeeded']]);
    const sweep = r.json.tasks[1];
    assert.equal(sweep.items_total, 4);
    assert.equal(sweep.items_done, 4);

    const jobs = await jobsOf(r.json.id);
    assert.equal(jobs.length, 6);
    const items = jobs.filter((j) => j.task_key === 'sweep').sort((a, b) => a.item_index - b.item_index);
    // The grid in itertools.product order: the first key varies slowest.
    assert.deepEqual(items.map((j) => [j.item_index, j.item.lr, j.item.depth]), [[0, 0.1, 2], [1, 0.1, 4], [2, 0.01, 2], [3, 0.01, 4]]);
    for (const j of items) {
      assert.equal(j.pipeline_id, id);
      assert.equal(j.pipeline_run_id, r.json.id);
      assert.equal(j.attempt, 1);
      // Typed values arrive as Python types, exactly.
      assert.deepEqual(j.result.types, {
        f: ['float', '1.0'],
        big: ['int', '9223372036854775809'],
        xs: ['list', "[0.5, 2.0, -3, 'a']"],
        obj: ['dict', "{'k': [1, 2.5], 'n': None}"],
      });
      // The run's parameter, pushed down into the notebook that declares it.
      assert.equal(j.result.seed, 7);
      // The file the upstream task wrote next to its notebook.
      assert.equal(j.result.rows_read, 3);
    }
    const report = jobs.find((j) => j.task_key === 'report');
    assert.ok(!('seed' in report.parameters), 'seed is not passed to a notebook that does not declare it');
    assert.equal(report.result.seed_defined, false);
    assert.equal(report.result.best, 0.4);
    // The sweep's result as the report saw it: the items' values in item order.
    const one = await call('GET', `/api/v1/jobs/${report.id}`);
    assert.match(one.text, /"scores":\[0\.2,0\.4,0\.02,0\.04\]/);
    // Exact in the run's own answer too.
    assert.ok(r.text.includes('"big":9223372036854775809'), 'the extract result keeps every digit');
    assert.ok(r.text.includes('"f":1.0'), '1.0 stays a float');

    const results = await call('GET', `/api/v1/pipelines/${id}/runs/${r.json.id}/results`);
    assert.equal(results.status, 200);
    const rows = results.json.rows.filter((x: { task: string }) => x.task === 'sweep');
    assert.deepEqual(rows.map((x: { item_index: number; result: { score: number } }) => [x.item_index, x.result.score]), [[0, 0.2], [1, 0.4], [2, 0.02], [3, 0.04]]);
    const csv = await fetch(`${base}/api/v1/pipelines/${id}/runs/${r.json.id}/results?format=csv&task=sweep`, { headers: { authorization: HEADERS.authorization } });
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    assert.equal(lines.length, 5);
    assert.match(lines[0]!, /^task,item_index,status,job_id,attempt,duration_s,item\.lr,item\.depth,.*result\.score/);
    assert.match(lines[4]!, /^sweep,3,succeeded,/);
  });

  it('a failed item fails the sweep; repairing that item re-runs it alone and the report, not its siblings nor extract', async () => {
    await writeFile(join(home, 'work', 'boom'), '');
    const created = await call('POST', '/api/v1/pipelines', { ...PIPELINE, name: 'repairable' });
    assert.equal(created.status, 201, created.text);
    const id = created.json.id as string;
    const r = await call('POST', `/api/v1/pipelines/${id}/runs?wait=true`, {});
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'failed');
    assert.deepEqual(r.json.tasks.map((t: { status: string }) => t.status), ['succeeded', 'failed', 'upstream_failed']);
    const before = await jobsOf(r.json.id);
    assert.equal(before.filter((j) => j.task_key === 'sweep' && j.status === 'succeeded').length, 3, 'the other items ran to their end');

    await unlink(join(home, 'work', 'boom'));
    const repaired = await call('POST', `/api/v1/pipelines/${id}/runs/${r.json.id}/repair`, { items: { sweep: [3] } });
    assert.equal(repaired.status, 200, repaired.text);
    assert.equal(repaired.json.id, r.json.id, 'the same run');
    const done = await waitRun(id, r.json.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.tasks));
    assert.equal(done.repairs.length, 1);
    assert.deepEqual(done.repairs[0].items, { sweep: [3] });
    const afterJobs = await jobsOf(r.json.id);
    const count = (key: string, index: number | null = null) => afterJobs.filter((j) => j.task_key === key && j.item_index === index).length;
    assert.equal(count('extract'), 1, 'extract kept its job');
    for (const i of [0, 1, 2]) assert.equal(count('sweep', i), 1, `item ${i} kept its job`);
    assert.equal(count('report'), 1, 'the report ran once the sweep succeeded');
    const item3 = afterJobs.filter((j) => j.task_key === 'sweep' && j.item_index === 3).sort((a, b) => a.attempt - b.attempt);
    assert.deepEqual(item3.map((j) => [j.attempt, j.status]), [[1, 'failed'], [2, 'succeeded']], 'item 3: the failure, then the repair');
    const report = afterJobs.find((j) => j.task_key === 'report');
    assert.match(JSON.stringify(report.result.scores), /^\[0\.2,0\.4,0\.02,0\.04\]$/, "the report read every item's score, the repaired one's too");
  });

  it('cancel stops the running job, starts nothing new, and the run ends cancelled', async () => {
    const created = await call('POST', '/api/v1/pipelines', {
      name: 'sleepy',
      username: 'alice',
      tasks: [
        { key: 'nap', notebook: 'work/sleepy.ipynb' },
        { key: 'after', notebook: 'work/extract.ipynb', depends_on: ['nap'], run_if: 'all_done' },
      ],
    });
    assert.equal(created.status, 201, created.text);
    const id = created.json.id as string;
    const r = await call('POST', `/api/v1/pipelines/${id}/runs`, {});
    assert.equal(r.status, 201, r.text);
    // Waits for the job to run, on the run's own event stream.
    await untilEvent(
      `/api/v1/pipelines/${id}/runs/${r.json.id}/events`,
      (ev, data) => (ev === 'item' && data.status === 'running') || (ev === 'run' && data.run.tasks[0].jobs.some((j: { status: string }) => j.status === 'running')),
    );
    const c = await call('POST', `/api/v1/pipelines/${id}/runs/${r.json.id}/cancel`);
    assert.ok([200, 202].includes(c.status), c.text);
    const done = await waitRun(id, r.json.id);
    assert.equal(done.status, 'cancelled');
    const jobs = await jobsOf(r.json.id);
    assert.deepEqual(jobs.map((j) => [j.task_key, j.status]), [['nap', 'cancelled']], 'nothing started after the cancel');
  });

  async function waitRun(id: string, runId: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    let last: any = null; // eslint-disable-line @typescript-eslint/no-explicit-any
    await untilEvent(`/api/v1/pipelines/${id}/runs/${runId}/events`, (ev, data) => {
      if (ev === 'run') last = data.run;
      return false;
    });
    // The stream ended: the run and its jobs ended.
    const r = await call('GET', `/api/v1/pipelines/${id}/runs/${runId}`);
    assert.ok(last, 'the stream sent the run');
    return r.json;
  }

  /** Reads the SSE stream until `stop` says so or the stream ends (bounded). */
  async function untilEvent(path: string, stop: (event: string, data: any) => boolean): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await fetch(`${base}${path}`, { headers: { authorization: HEADERS.authorization }, signal: AbortSignal.timeout(150_000) });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data && stop(event, JSON.parse(data))) return;
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  it('refuses problems over real HTTP with one 422 naming each task and problem: a cycle, an unknown key, a missing notebook, a bad parameter name', async () => {
    const r = await call('POST', '/api/v1/pipelines', {
      name: 'broken',
      username: 'alice',
      tasks: [
        { key: 'a', notebook: 'work/extract.ipynb', depends_on: ['b'] },
        { key: 'b', notebook: 'work/extract.ipynb', depends_on: ['a'] },
        { key: 'c', notebook: 'work/extract.ipynb', depends_on: ['nope'] },
        { key: 'd', notebook: 'work/missing.ipynb' },
        { key: 'e', notebook: 'work/sweep.ipynb', parameters: { 'not valid': 1 } },
      ],
    });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.code, 'PIPELINE_INVALID');
    const byTask = new Map<string | null, string[]>();
    for (const p of r.json.problems as Array<{ task: string | null; path: string; message: string }>) byTask.set(p.task, [...(byTask.get(p.task) ?? []), `${p.path}: ${p.message}`]);
    assert.match(String(byTask.get('a') ?? byTask.get('b')), /cycle: (a → b → a|b → a → b)/);
    assert.match(String(byTask.get('c')), /tasks\[2\]\.depends_on\[0\]: .*'nope'/);
    assert.match(String(byTask.get('d')), /tasks\[3\]\.notebook: .*missing\.ipynb/);
    assert.match(String(byTask.get('e')), /tasks\[4\]\.parameters.*'not valid' is not a valid python identifier/);
    for (const key of ['c', 'd', 'e']) assert.match(r.json.detail, new RegExp(`\\(task '${key}'\\)`), `the message names task ${key}`);
    const list = await call('GET', '/api/v1/pipelines?username=alice');
    assert.ok(!list.json.pipelines.some((p: { name: string }) => p.name === 'broken'), 'nothing was saved');
  });

  it('a per-second schedule fires a pipeline: one run per fire time, with schedule_id, scheduled_for and its parameters', async () => {
    const created = await call('POST', '/api/v1/pipelines', { name: 'scheduled', username: 'alice', parameters: { n_rows: 3 }, tasks: [{ key: 'extract', notebook: 'work/extract.ipynb' }] });
    assert.equal(created.status, 201, created.text);
    const id = created.json.id as string;
    const base = { name: 'every second', username: 'alice', cron: '* * * * * *', parameters: { n_rows: 2 } };
    // What a pipeline schedule cannot be.
    for (const [body, what] of [
      [{ ...base, pipeline_id: id, notebook: 'work/extract.ipynb' }, /not both/],
      [{ ...base, pipeline_id: 'pl_nope' }, /pl_nope/],
      [{ ...base, pipeline_id: id, max_retries: 1 }, /max_retries/],
      [{ ...base, pipeline_id: id, parameters: { rows: 1 } }, /'rows' is not a parameter of the pipeline/],
    ] as const) {
      const r = await call('POST', '/api/v1/schedules', body);
      assert.equal(r.status, 422, r.text);
      assert.match(r.json.detail, what);
    }
    // Three whole seconds at least 2 s away.
    const first = Math.ceil((Date.now() + 2000) / 1000) * 1000;
    const window = { start_at: new Date(first - 500).toISOString(), end_at: new Date(first + 2500).toISOString() };
    // overlap allow: a run slower than a second still leaves every fire its run.
    const sch = await call('POST', '/api/v1/schedules', { ...base, pipeline_id: id, overlap: 'allow', max_concurrent: 3, ...window });
    assert.equal(sch.status, 201, sch.text);
    assert.equal(sch.json.pipeline_id, id);
    type Run = { id: string; status: string; schedule_id: string; scheduled_for: string; parameters: { n_rows: number } };
    let runs: Run[] = [];
    const settled = await waitFor(async () => {
      runs = (await call('GET', `/api/v1/pipelines/${id}/runs?limit=100`)).json.runs as Run[];
      return Date.now() > first + 3000 && runs.length >= 3 && runs.every((r) => ['succeeded', 'failed', 'cancelled'].includes(r.status));
    }, 60_000);
    assert.ok(settled, JSON.stringify(runs));
    // Past end_at: no further fire can come.
    runs = (await call('GET', `/api/v1/pipelines/${id}/runs?limit=100`)).json.runs as Run[];
    assert.equal(runs.length, 3, JSON.stringify(runs));
    assert.deepEqual(runs.map((r) => Date.parse(r.scheduled_for)).sort(), [first, first + 1000, first + 2000]);
    for (const r of runs) {
      assert.equal(r.schedule_id, sch.json.id);
      assert.equal(r.status, 'succeeded');
      assert.equal(r.parameters.n_rows, 2, "the schedule's parameters are the run's");
    }
    const after = await call('GET', `/api/v1/schedules/${sch.json.id}`);
    assert.equal(after.json.fires, 3);
  });

  it('the output notebooks of the sweep are written as jobs write them', async () => {
    const list = await call('GET', '/api/v1/jobs?username=alice&limit=500');
    const sweepJob = (list.json.jobs as Array<{ task_key: string; output_path: string; status: string }>).find((j) => j.task_key === 'sweep' && j.status === 'succeeded')!;
    const nb = JSON.parse(await readFile(join(home, sweepJob.output_path), 'utf8')) as { cells: Array<{ metadata: { tags?: string[] } }> };
    assert.ok(nb.cells.some((c) => c.metadata.tags?.includes('injected-parameters')));
  });
});
