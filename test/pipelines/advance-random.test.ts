/**
 * Random runs (a fixed seed, so each run is the same every time): random DAGs,
 * fan-outs, retries and job ends, then a default repair. At every step the
 * harness checks the advance is idempotent; here the invariants of a run are
 * checked too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTerminalTask, runOutcome } from '../../src/pipelines/advance.js';
import { planRepair } from '../../src/pipelines/repair.js';
import { RUN_IF, type PlannedTask, type TaskStatus } from '../../src/pipelines/types.js';
import { active, end, run, sim, starts, step, task, type Sim, type StartJob } from './harness.js';

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

function randomPlan(rand: () => number): PlannedTask[] {
  const n = 2 + Math.floor(rand() * 9);
  const tasks: PlannedTask[] = [];
  for (let i = 0; i < n; i++) {
    const deps = i === 0 ? [] : [...new Set(Array.from({ length: Math.floor(rand() * 3) }, () => `t${Math.floor(rand() * i)}`))];
    const fan = rand() < 0.4;
    tasks.push(
      task(`t${i}`, {
        depends_on: deps,
        run_if: RUN_IF[Math.floor(rand() * RUN_IF.length)]!,
        max_retries: Math.floor(rand() * 3),
        retry_backoff_s: Math.floor(rand() * 3),
        parameters: deps.length > 0 && rand() < 0.5 ? { up: `{{tasks.${deps[0]}.result.v}}` } : {},
        ...(fan ? { for_each: { items: Array.from({ length: Math.floor(rand() * 7) }, (_, k) => k), concurrency: 1 + Math.floor(rand() * 3) } } : {}),
      }),
    );
  }
  return tasks;
}

/** Checks what the advance started against the state after applying it. */
function checkStarts(s: Sim, started: StartJob[]): void {
  for (const a of started) {
    const t = s.view.plan.tasks.find((x) => x.key === a.task_key)!;
    for (const d of t.depends_on) assert.ok(isTerminalTask(s.view.tasks[d]!.status), `${a.task_key} started before ${d} ended`);
    assert.equal(s.view.tasks[a.task_key]!.status, 'running');
  }
  for (const t of s.view.plan.tasks) {
    const limit = t.for_each ? (t.for_each.concurrency ?? s.view.plan.default_concurrency) : 1;
    assert.ok(active(s, t.key).length <= limit, `${t.key}: ${active(s, t.key).length} active, limit ${limit}`);
  }
}

function drive(s: Sim, rand: () => number): void {
  for (let n = 0; n < 2000 && s.view.status === 'running'; n++) {
    const js = active(s);
    assert.ok(js.length > 0, `a running run with nothing running: ${JSON.stringify(Object.values(s.view.tasks).map((t) => [t.key, t.status]))}`);
    const j = js[Math.floor(rand() * js.length)]!;
    const r = rand();
    const status = r < 0.7 ? 'succeeded' : r < 0.88 ? 'failed' : r < 0.95 ? 'timed_out' : 'cancelled';
    s.now += 1000;
    checkStarts(s, starts(end(s, j, status, { v: n })));
  }
  assert.notEqual(s.view.status, 'running', 'the run ended');
}

function checkEnded(s: Sim): void {
  const statuses = new Map<string, TaskStatus>(s.view.plan.tasks.map((t) => [t.key, s.view.tasks[t.key]!.status]));
  for (const [k, st] of statuses) assert.ok(isTerminalTask(st), `${k} is ${st}`);
  assert.equal(s.view.status, runOutcome(s.view.plan, statuses));
  for (const t of s.view.plan.tasks) {
    const st = s.view.tasks[t.key]!;
    if (st.status === 'succeeded' && t.for_each) assert.equal(st.items_done, st.items_total);
    if (st.status === 'skipped' || st.status === 'upstream_failed') {
      const base = st.attempt_base ?? {};
      assert.ok(
        s.view.jobs.every((j) => j.task_key !== t.key || j.attempt < (base[String(j.item_index)] ?? 1)),
        `${t.key} is ${st.status} but has a job of its current run`,
      );
    }
  }
}

test('random runs: dependents start after their upstream ends, concurrency holds, every run ends as its leaves say', () => {
  const rand = lcg(20261205);
  for (let r = 0; r < 60; r++) {
    const s = sim(run(randomPlan(rand)));
    checkStarts(s, starts(step(s)));
    if (s.view.status === 'running') drive(s, rand);
    checkEnded(s);
  }
});

test('random runs, then a default repair: what is not re-run keeps its jobs; no item of a task not re-run gets a job', () => {
  const rand = lcg(7);
  let repaired = 0;
  for (let r = 0; r < 60; r++) {
    const s = sim(run(randomPlan(rand)));
    step(s);
    if (s.view.status === 'running') drive(s, rand);
    const plan = planRepair(s.view);
    if (plan.tasks.length === 0) continue;
    repaired++;
    const before = new Map(s.view.plan.tasks.map((t) => [t.key, s.view.jobs.filter((j) => j.task_key === t.key).length]));
    const itemJobs = (key: string, i: number): number => s.view.jobs.filter((j) => j.task_key === key && j.item_index === i).length;
    const keptItems = Object.entries(plan.items_rerun).flatMap(([k, ix]) =>
      (s.view.tasks[k]!.items ?? []).map((_, i) => i).filter((i) => !ix.includes(i)).map((i) => [k, i, itemJobs(k, i)] as const),
    );
    for (const st of plan.tasks) s.view.tasks[st.key] = st;
    s.view.status = 'running';
    checkStarts(s, starts(step(s)));
    if (s.view.status === 'running') drive(s, rand);
    checkEnded(s);
    const rerun = new Set([...plan.tasks_rerun, ...Object.keys(plan.items_rerun)]);
    for (const t of s.view.plan.tasks) {
      if (!rerun.has(t.key)) assert.equal(s.view.jobs.filter((j) => j.task_key === t.key).length, before.get(t.key), `${t.key} was not to re-run`);
    }
    for (const [k, i, n] of keptItems) assert.equal(itemJobs(k, i), n, `${k}[${i}] was not to re-run`);
  }
  assert.ok(repaired > 10, `only ${repaired} runs needed a repair`);
});
