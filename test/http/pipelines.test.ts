/**
 * The pipelines API through app.inject, over the real SQLite stores and the
 * real runner with a stand-in engine (pipeline-fixtures.ts): the save-time check
 * (422 naming the task and the problem), the plan it keeps, authorization, runs
 * with ?wait, the jobs a run starts (their pipeline fields, ?pipeline_run_id),
 * results as JSON and CSV, cancel, repair (409 while running), PATCH and DELETE;
 * on both stores.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/notebooks.js';
import { scheduleStoreFor } from '../../src/store/open.js';
import { SCHEDULE_DEFAULTS } from '../../src/store/schedule-store.js';
import { as, auth, makePipelineApp, type Backend, type PipelineApp } from './pipeline-fixtures.js';

const json = { ...auth, 'content-type': 'application/json' };

for (const backend of ['SQLite', 'PostgreSQL'] as Backend[]) describe(`pipelines API (${backend})`, () => {
  let t: PipelineApp;

  const post = (url: string, payload: unknown) => t.app.inject({ method: 'POST', url, headers: json, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
  const get = (url: string) => t.app.inject({ method: 'GET', url, headers: auth });

  before(async () => {
    t = await makePipelineApp(backend);
    await t.notebook('alice', 'p/extract.ipynb', { n: '1' }, { glue: { rows: 3 } });
    await t.notebook('alice', 'p/train.ipynb', { lr: '0.1', depth: '2', seed: '0', rows: '0' }, { glue: { lr: '$param:lr', depth: '$param:depth', seed: '$param:seed', rows: '$param:rows' }, fail_if: { depth: 8 } });
    await t.notebook('alice', 'p/report.ipynb', { lrs: '[]' }, { glue: { lrs: '$param:lrs' } });
    await t.notebook('alice', 'p/sleep.ipynb', {}, { block: true });
  });
  after(async () => {
    await t?.close();
  });

  const sweep = (over: Record<string, unknown> = {}) => ({
    name: 'sweep',
    username: 'alice',
    parameters: { seed: 42 },
    tasks: [
      { key: 'extract', notebook: 'p/extract.ipynb' },
      {
        key: 'train',
        notebook: 'p/train.ipynb',
        depends_on: ['extract'],
        parameters: { rows: '{{tasks.extract.result.rows}}' },
        for_each: { grid: { lr: [0.1, 0.01], depth: [2, 4] }, concurrency: 2 },
      },
      { key: 'report', notebook: 'p/report.ipynb', depends_on: ['train'], parameters: { lrs: '{{tasks.train.result.lr}}' } },
    ],
    ...over,
  });

  it('saves a checked pipeline: 201 with its plan (topological order, the kernel, the declared parameters)', async () => {
    const body = sweep();
    // Written out of order: the plan is in topological order.
    body.tasks = [body.tasks[2]!, body.tasks[0]!, body.tasks[1]!];
    const r = await post('/api/v1/pipelines', body);
    assert.equal(r.statusCode, 201, r.body);
    const p = r.json();
    assert.equal(p.owner, 'alice');
    assert.equal(r.headers.location, `/api/v1/pipelines/${p.id}`);
    assert.deepEqual(p.plan.tasks.map((x: { key: string }) => x.key), ['extract', 'train', 'report']);
    const train = p.plan.tasks[1];
    assert.equal(train.kernel, 'python3');
    assert.equal(train.kernel_language, 'python');
    assert.deepEqual(train.declared_parameters, ['lr', 'depth', 'seed', 'rows']);
    assert.equal((await get(`/api/v1/pipelines/${p.id}`)).json().name, 'sweep');
    const list = await get('/api/v1/pipelines?username=alice');
    assert.ok(list.json().pipelines.some((x: { id: string }) => x.id === p.id));
  });

  it('refuses a pipeline with problems: one 422 naming each task and problem, with a problems list', async () => {
    const cases: Array<[string, unknown, RegExp, string | null]> = [
      ['a cycle', { tasks: [{ key: 'a', notebook: 'p/extract.ipynb', depends_on: ['b'] }, { key: 'b', notebook: 'p/extract.ipynb', depends_on: ['a'] }] }, /cycle: (a → b → a|b → a → b)/, 'a'],
      ['an unknown key', { tasks: [{ key: 'a', notebook: 'p/extract.ipynb', depends_on: ['nope'] }] }, /nope/, 'a'],
      ['a missing notebook', { tasks: [{ key: 'a', notebook: 'p/missing.ipynb' }] }, /missing\.ipynb/, 'a'],
      ['a parameter name python cannot take', { tasks: [{ key: 'a', notebook: 'p/extract.ipynb', parameters: { 'a b': 1 } }] }, /'a b' is not a valid python identifier/, 'a'],
      ['an unknown parameter reference', { tasks: [{ key: 'a', notebook: 'p/extract.ipynb', parameters: { x: '{{parameters.nope}}' } }] }, /nope/, 'a'],
      ['a notebook outside the home', { tasks: [{ key: 'a', notebook: '../bob/x.ipynb' }] }, /bob/, 'a'],
    ];
    for (const [what, over, message, task] of cases) {
      const r = await post('/api/v1/pipelines', { name: what, username: 'alice', ...(over as object) });
      assert.equal(r.statusCode, 422, `${what}: ${r.body}`);
      const problem = r.json();
      assert.match(problem.detail, message, what);
      assert.match(problem.detail, new RegExp(`'${task}'`), `${what}: the message names the task`);
      assert.ok(Array.isArray(problem.problems) && problem.problems.length > 0, what);
      for (const p of problem.problems) assert.deepEqual(Object.keys(p).sort(), ['message', 'path', 'task'], what);
      assert.ok(problem.problems.some((p: { task: string | null }) => p.task === task), what);
    }
    // Several problems at once, each named.
    const many = await post('/api/v1/pipelines', {
      name: 'many',
      username: 'alice',
      tasks: [{ key: 'a', notebook: 'p/missing.ipynb' }, { key: 'a', notebook: 'p/extract.ipynb' }],
    });
    assert.equal(many.statusCode, 422);
    assert.ok(many.json().problems.length >= 2, many.body);
  });

  it("another user's pipeline and its runs are not found; a user lists only their own, admins anyone's with ?username=", async () => {
    // Bob has no such notebook: the check reads bob's home, not alice's.
    const r = await post('/api/v1/pipelines', { name: 'bobs', username: 'bob', tasks: [{ key: 'a', notebook: 'p/extract.ipynb' }] });
    assert.equal(r.statusCode, 422, r.body);
    const mine = (await post('/api/v1/pipelines', sweep({ name: 'mine' }))).json();
    const run = (await post(`/api/v1/pipelines/${mine.id}/runs?wait=true`, {})).json();
    for (const url of [`/api/v1/pipelines/${mine.id}`, `/api/v1/pipelines/${mine.id}/runs`, `/api/v1/pipelines/${mine.id}/runs/${run.id}`, `/api/v1/pipelines/${mine.id}/runs/${run.id}/results`]) {
      const asBob = await t.app.inject({ method: 'GET', url, headers: as('bob') });
      assert.equal(asBob.statusCode, 404, `${url}: ${asBob.body}`);
      assert.equal((await t.app.inject({ method: 'GET', url, headers: as('alice') })).statusCode, 200, url);
    }
    const cancel = await t.app.inject({ method: 'POST', url: `/api/v1/pipelines/${mine.id}/runs/${run.id}/cancel`, headers: as('bob') });
    assert.equal(cancel.statusCode, 404);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/pipelines', headers: as('bob') })).json().pipelines.length, 0);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/pipelines?username=alice', headers: as('bob') })).statusCode, 403);
    const jobs = await t.app.inject({ method: 'GET', url: `/api/v1/jobs?pipeline_run_id=${run.id}`, headers: as('bob') });
    assert.deepEqual(jobs.json().jobs, [], "bob does not see alice's jobs");
    assert.ok((await get('/api/v1/pipelines?username=alice')).json().pipelines.length >= 1);
  });

  it('runs extract → grid sweep → report: typed values, push-down where declared, jobs carry their pipeline fields', async () => {
    const p = (await post('/api/v1/pipelines', sweep({ name: 'run-me' }))).json();
    const r = await post(`/api/v1/pipelines/${p.id}/runs?wait=true`, '{"parameters": {"seed": 7}}');
    assert.equal(r.statusCode, 200, r.body);
    const run = r.json();
    assert.equal(run.status, 'succeeded', r.body);
    assert.deepEqual(run.parameters, { seed: 7 });
    assert.deepEqual(run.tasks.map((x: { key: string; status: string }) => [x.key, x.status]), [['extract', 'succeeded'], ['train', 'succeeded'], ['report', 'succeeded']]);
    const train = run.tasks[1];
    assert.deepEqual([train.items_total, train.items_done, train.jobs.length], [4, 4, 4]);
    // The for_each result seen downstream: each item's value in item order (the grid's: first key slowest).
    assert.match(r.body, /"lrs":\[0\.1,0\.1,0\.01,0\.01\]/);

    const jobs = (await get(`/api/v1/jobs?pipeline_run_id=${run.id}&limit=100`)).json().jobs;
    assert.equal(jobs.length, 6);
    for (const j of jobs) {
      assert.equal(j.pipeline_id, p.id);
      assert.equal(j.pipeline_run_id, run.id);
      assert.equal(j.attempt, 1);
    }
    const items = jobs.filter((j: { task_key: string }) => j.task_key === 'train').sort((a: { item_index: number }, b: { item_index: number }) => a.item_index - b.item_index);
    assert.deepEqual(items.map((j: { item: unknown }) => j.item), [{ lr: 0.1, depth: 2 }, { lr: 0.1, depth: 4 }, { lr: 0.01, depth: 2 }, { lr: 0.01, depth: 4 }]);
    // The run's parameter reaches train (declared), not extract or report (not declared).
    for (const j of items) assert.equal(j.parameters.seed, 7);
    for (const key of ['extract', 'report']) assert.ok(!('seed' in jobs.find((j: { task_key: string }) => j.task_key === key).parameters), key);
    const extract = jobs.find((j: { task_key: string }) => j.task_key === 'extract');
    assert.equal(extract.item_index, null);
    assert.equal(items[0].parameters.rows, 3, 'a whole reference becomes the value with its type');

    const results = await get(`/api/v1/pipelines/${p.id}/runs/${run.id}/results`);
    assert.equal(results.statusCode, 200);
    const rows = results.json().rows;
    assert.deepEqual(rows.map((x: { task: string; item_index: number | null }) => [x.task, x.item_index]), [['extract', null], ['train', 0], ['train', 1], ['train', 2], ['train', 3], ['report', null]]);
    const csv = await get(`/api/v1/pipelines/${p.id}/runs/${run.id}/results?format=csv&task=train`);
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    assert.equal(lines.length, 5);
    assert.match(lines[0]!, /^task,item_index,status,job_id,attempt,duration_s,item\.lr,item\.depth,param\./);
    assert.match(lines[3]!, /^train,2,succeeded,[^,]+,1,[0-9.]*,0\.01,2,/);

    const listed = (await get(`/api/v1/pipelines/${p.id}/runs`)).json();
    assert.deepEqual(listed.runs.map((x: { id: string }) => x.id), [run.id]);
  });

  it('a run refuses parameters the pipeline does not have (422 naming them)', async () => {
    const p = (await post('/api/v1/pipelines', sweep({ name: 'strict-run' }))).json();
    const r = await post(`/api/v1/pipelines/${p.id}/runs`, { parameters: { sed: 1 } });
    assert.equal(r.statusCode, 422, r.body);
    assert.match(r.json().detail, /'sed' is not a parameter of the pipeline/);
  });

  it('one failed item fails the task, its siblings run to their end; repairing that item re-runs it alone and what is downstream', async () => {
    const p = (await post('/api/v1/pipelines', sweep({ name: 'repair-me', tasks: sweep().tasks.map((x) => (x.key === 'train' ? { ...x, for_each: { grid: { lr: [0.1], depth: [2, 8, 4] } } } : x)) }))).json();
    const r = await post(`/api/v1/pipelines/${p.id}/runs?wait=true`, {});
    const run = r.json();
    assert.equal(run.status, 'failed', r.body);
    assert.deepEqual(run.tasks.map((x: { status: string }) => x.status), ['succeeded', 'failed', 'upstream_failed']);
    assert.deepEqual(run.tasks[1].jobs.map((j: { item_index: number; status: string }) => [j.item_index, j.status]), [[0, 'succeeded'], [1, 'failed'], [2, 'succeeded']]);

    // Targets the run does not have are refused, naming them.
    for (const [body, what] of [[{ tasks: ['nope'] }, /nope/], [{ items: { train: [7] } }, /7/], [{ items: { extract: [0] } }, /extract/]] as const) {
      const bad = await post(`/api/v1/pipelines/${p.id}/runs/${run.id}/repair`, body);
      assert.equal(bad.statusCode, 422, bad.body);
      assert.match(bad.json().detail, what);
    }
    // The notebook is fixed, then item 1 alone is repaired.
    await t.notebook('alice', 'p/train.ipynb', { lr: '0.1', depth: '2', seed: '0', rows: '0' }, { glue: { lr: '$param:lr', depth: '$param:depth' } });
    const repaired = await post(`/api/v1/pipelines/${p.id}/runs/${run.id}/repair`, { items: { train: [1] } });
    assert.equal(repaired.statusCode, 200, repaired.body);
    assert.equal(repaired.json().id, run.id);
    const settled = await waitSettled(p.id, run.id);
    assert.equal(settled.status, 'succeeded', JSON.stringify(settled.tasks));
    assert.equal(settled.repairs.length, 1);
    const jobs = settled.tasks.flatMap((x: { key: string; jobs: Array<{ item_index: number | null; attempt: number; status: string }> }) => x.jobs.map((j) => [x.key, j.item_index, j.attempt, j.status]));
    assert.deepEqual(jobs, [
      ['extract', null, 1, 'succeeded'],
      ['train', 0, 1, 'succeeded'],
      ['train', 1, 1, 'failed'],
      ['train', 1, 2, 'succeeded'],
      ['train', 2, 1, 'succeeded'],
      ['report', null, 1, 'succeeded'],
    ]);
    // Restore the failing behaviour for other tests.
    await t.notebook('alice', 'p/train.ipynb', { lr: '0.1', depth: '2', seed: '0', rows: '0' }, { glue: { lr: '$param:lr', depth: '$param:depth', seed: '$param:seed', rows: '$param:rows' }, fail_if: { depth: 8 } });
  });

  it('cancel stops the running job and ends the run cancelled; repairing a running run answers 409', async () => {
    const p = (await post('/api/v1/pipelines', { name: 'nap', username: 'alice', tasks: [{ key: 'nap', notebook: 'p/sleep.ipynb' }, { key: 'next', notebook: 'p/extract.ipynb', depends_on: ['nap'] }] })).json();
    const started = await post(`/api/v1/pipelines/${p.id}/runs`, {});
    assert.equal(started.statusCode, 201, started.body);
    const run = started.json();
    const conflict = await post(`/api/v1/pipelines/${p.id}/runs/${run.id}/repair`, {});
    assert.equal(conflict.statusCode, 409, conflict.body);
    const c = await post(`/api/v1/pipelines/${p.id}/runs/${run.id}/cancel`, {});
    assert.ok([200, 202].includes(c.statusCode), c.body);
    const settled = await waitSettled(p.id, run.id);
    assert.equal(settled.status, 'cancelled');
    assert.deepEqual(settled.tasks.map((x: { key: string; jobs: Array<{ status: string }> }) => [x.key, x.jobs.map((j) => j.status)]), [['nap', ['cancelled']], ['next', []]]);
  });

  it('events: a snapshot, then item, task and run changes as they happen; resumable with Last-Event-ID; 204 after the end', async () => {
    const p = (await post('/api/v1/pipelines', { name: 'watched', username: 'alice', tasks: [{ key: 'nap', notebook: 'p/sleep.ipynb' }, { key: 'next', notebook: 'p/extract.ipynb', depends_on: ['nap'], run_if: 'all_done' }] })).json();
    const run = (await post(`/api/v1/pipelines/${p.id}/runs`, {})).json();
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `${address}/api/v1/pipelines/${p.id}/runs/${run.id}/events`;
    const events: Array<{ id: string; event: string; data: any }> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    const read = async (headers: Record<string, string>, onEvent: (e: { event: string; data: any }) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const res = await fetch(url, { headers: { ...auth, ...headers }, signal: AbortSignal.timeout(20_000) });
      if (res.status !== 200) return { status: res.status, got: [] as typeof events };
      const got: typeof events = [];
      let buf = '';
      const dec = new TextDecoder();
      for await (const chunk of res.body!) {
        buf += dec.decode(chunk as Uint8Array, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          if (!event) continue;
          const e = { id: /^id: (.*)$/m.exec(block)![1]!, event, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) };
          got.push(e);
          onEvent(e);
        }
      }
      return { status: res.status, got };
    };
    // Once the nap job runs (seen in the snapshot or as an item event), cancel the run.
    let cancelled = false;
    const first = await read({}, (e) => {
      const running = (e.event === 'item' && e.data.status === 'running') || (e.event === 'run' && e.data.run.tasks[0].jobs.some((j: { status: string }) => j.status === 'running'));
      if (running && !cancelled) {
        cancelled = true;
        void post(`/api/v1/pipelines/${p.id}/runs/${run.id}/cancel`, {});
      }
    });
    events.push(...first.got);
    assert.equal(events[0]!.event, 'run', 'a snapshot first');
    const last = events.at(-1)!;
    assert.equal(last.event, 'run');
    assert.equal(last.data.status, 'cancelled');
    assert.ok(events.some((e) => e.event === 'item' && e.data.task_key === 'nap' && e.data.status === 'cancelled'), JSON.stringify(events));
    assert.ok(events.some((e) => e.event === 'task' && e.data.key === 'nap' && e.data.status === 'cancelled'));
    // Resumed after the first event: exactly the rest, no snapshot.
    const resumed = await read({ 'last-event-id': events[0]!.id }, () => {});
    assert.deepEqual(resumed.got.map((e) => e.id), events.slice(1).map((e) => e.id));
    // After the end: nothing more.
    assert.equal((await read({ 'last-event-id': last.id }, () => {})).status, 204);
    // An id this process does not know: the current state, then the end.
    const fresh = await read({ 'last-event-id': '00000000.3' }, () => {});
    assert.deepEqual(fresh.got.map((e) => [e.event, e.data.status]), [['run', 'cancelled']]);
  });

  it('a schedule firing a pipeline: one run per fire time in the fire\'s transaction, with schedule_id and scheduled_for', async () => {
    const p = (await post('/api/v1/pipelines', sweep({ name: 'fired' }))).json();
    const schedules = scheduleStoreFor(t.jobs);
    const s = await schedules.create({
      ...SCHEDULE_DEFAULTS,
      name: 'fires a pipeline',
      notebook: '',
      pipeline_id: p.id,
      cron: '* * * * * *',
      parameters: { seed: 5 },
      owner: 'alice',
      created_by: 'alice',
      webhook_secret: null,
      next_run_at_ms: 1000,
    });
    const plan = (times: number[]) => () => ({ enqueue: times, defer: [], skippedOverlap: [], missed: 0, nextRunAtMs: 5000 });
    const fired = await schedules.fire(s.id, 1000, plan([1000, 2000]));
    assert.equal(fired?.schedule.fires, 2);
    // A fire time fired again (another node, a clock set back) makes no second run.
    await schedules.update(s.id, { next_run_at_ms: 2000 });
    await schedules.fire(s.id, 2000, plan([2000, 3000]));
    const runs = (await get(`/api/v1/pipelines/${p.id}/runs?limit=100`)).json().runs;
    assert.deepEqual(runs.map((r: { scheduled_for: string }) => Date.parse(r.scheduled_for)).sort(), [1000, 2000, 3000]);
    for (const r of runs) {
      assert.equal(r.schedule_id, s.id);
      assert.deepEqual(r.parameters, { seed: 5 });
    }
    const settled = await Promise.all(runs.map((r: { id: string }) => waitSettled(p.id, r.id)));
    assert.deepEqual(settled.map((r) => r.status), ['succeeded', 'succeeded', 'succeeded']);

    // Its overlap rule counts the schedule's active runs (a run that blocks until cancelled).
    const nap = (await post('/api/v1/pipelines', { name: 'nap-fired', username: 'alice', tasks: [{ key: 'nap', notebook: 'p/sleep.ipynb' }] })).json();
    const s2 = await schedules.create({ ...SCHEDULE_DEFAULTS, name: 'naps', notebook: '', pipeline_id: nap.id, cron: '* * * * * *', owner: 'alice', created_by: 'alice', webhook_secret: null, next_run_at_ms: 1000 });
    await schedules.fire(s2.id, 1000, plan([1000]));
    await schedules.update(s2.id, { next_run_at_ms: 2000 });
    let active = -1;
    await schedules.fire(s2.id, 2000, (_s, n) => {
      active = n;
      return plan([])();
    });
    assert.equal(active, 1, 'the first fire\'s run is active');
    const napRun = (await get(`/api/v1/pipelines/${nap.id}/runs`)).json().runs[0];
    await post(`/api/v1/pipelines/${nap.id}/runs/${napRun.id}/cancel`, {});
    assert.equal((await waitSettled(nap.id, napRun.id)).status, 'cancelled');
  });

  it('PATCH: a rename keeps the plan, new tasks are checked again; DELETE keeps the runs', async () => {
    const p = (await post('/api/v1/pipelines', sweep({ name: 'patch-me' }))).json();
    const renamed = await t.app.inject({ method: 'PATCH', url: `/api/v1/pipelines/${p.id}`, headers: json, payload: { name: 'renamed' } });
    assert.equal(renamed.statusCode, 200, renamed.body);
    assert.equal(renamed.json().name, 'renamed');
    const bad = await t.app.inject({ method: 'PATCH', url: `/api/v1/pipelines/${p.id}`, headers: json, payload: { tasks: [{ key: 'x', notebook: 'p/gone.ipynb' }] } });
    assert.equal(bad.statusCode, 422, bad.body);
    assert.match(bad.json().detail, /'x'/);
    const run = (await post(`/api/v1/pipelines/${p.id}/runs?wait=true`, {})).json();
    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/pipelines/${p.id}`, headers: auth });
    assert.equal(del.statusCode, 204);
    assert.equal((await get(`/api/v1/pipelines/${p.id}`)).statusCode, 404);
    assert.equal((await get(`/api/v1/pipelines/${p.id}/runs/${run.id}`)).statusCode, 200, 'its runs stay');
  });

  it('keeps values exact: 1.0 stays a float and big integers keep every digit, in the pipeline and in a run', async () => {
    const body =
      '{"name": "exact", "username": "alice", "parameters": {"seed": 1.0}, "tasks": [{"key": "t", "notebook": "p/train.ipynb", ' +
      '"parameters": {"rows": 9223372036854775809}, "for_each": {"items": [1.0, 2], "concurrency": 1}}]}';
    const r = await post('/api/v1/pipelines', body);
    assert.equal(r.statusCode, 201, r.body);
    assert.match(r.body, /"parameters":\{"seed":1\.0\}/);
    assert.match(r.body, /"rows":9223372036854775809/);
    assert.match(r.body, /"items":\[1\.0,2\]/);
    const run = await post(`/api/v1/pipelines/${r.json().id}/runs?wait=true`, '{"parameters": {"seed": 2.0}}');
    assert.equal(run.json().status, 'succeeded', run.body);
    assert.match(run.body, /"parameters":\{"seed":2\.0\}/);
    assert.match(run.body, /"rows":\[9223372036854775809,9223372036854775809\]/);
  });

  /** The run once it and its jobs ended (bounded). */
  async function waitSettled(pipelineId: string, runId: string) {
    let last: any = null; // eslint-disable-line @typescript-eslint/no-explicit-any
    const ended = await waitFor(async () => {
      last = (await get(`/api/v1/pipelines/${pipelineId}/runs/${runId}`)).json();
      const jobsEnded = last.tasks.every((x: { jobs: Array<{ status: string }> }) => x.jobs.every((j) => ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(j.status)));
      return ['succeeded', 'failed', 'cancelled'].includes(last.status) && jobsEnded;
    }, 20_000, 20);
    assert.ok(ended, `run ${runId} did not end: ${JSON.stringify(last)}`);
    return last;
  }
});
