/**
 * Pipeline chaos: real `hubmill serve` processes (dist/cli) on a scratch
 * PostgreSQL database, one `--role api` node and two `--role worker` nodes, a
 * 2 s lease. A pipeline root → a for_each over 30 items (concurrency 4, each
 * item sleeping 0.1–0.4 s and recording its run in runs/<tag>.txt in the home)
 * → a report reading the items' results. A worker is killed with SIGKILL while
 * it runs an item job, then restarted. The item job it held fails when its lease
 * expires (no HUBMILL_REQUEUE_ON_RESTART here), and the task's max_retries
 * re-runs that item as a new job.
 *
 * Checked: the run succeeds (bounded wait); every item has exactly one succeeded
 * job (all pages of GET /api/v1/jobs?pipeline_run_id=…); the report got every
 * item's value in item order; the kernels' records show no item run by two
 * kernels at once, and no earlier run of an item except one the kill cut short
 * (or a lost lease, by the node's own word); and the kill did interrupt an item
 * job (it failed, and a retry re-ran its item).
 *
 * Needs a current build: `npx tsc -p tsconfig.build.json`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeSpec } from '../../bench/lib/cluster.js';
import { health, listAll, NEEDS_PG, nodeLostLease, withTestCluster } from '../helpers/cluster-api.js';
import { call } from '../helpers/http.js';
import { code, notebookJson, processAlive, waitFor } from '../helpers/notebooks.js';
import { overlaps, recordedTags, recordingSource, RECORDS_DIR, runsOf } from '../helpers/run-records.js';

const TOKEN = 'pipeline-chaos-token-0123456789';
const USER = 'plchaos';
const NODE_VAR = 'TEST_NODE_NAME'; // not HUBMILL_*: kernels never inherit the service's own settings
const LEASE_S = 2;
const N_ITEMS = 30;

const glue = (name: string, value: string) =>
  `display({'application/scrapbook.scrap.json+json': {'name': ${JSON.stringify(name)}, 'data': ${value}, 'encoder': 'json', 'version': 1}}, raw=True)`;

const TAGS = Array.from({ length: N_ITEMS }, (_, i) => `i${String(i).padStart(2, '0')}`);
const ITEMS = TAGS.map((tag, i) => ({ tag, sleep_s: 0.1 + 0.1 * (i % 4) }));

// The root gives the items as its result.
const ROOT = [code('from IPython.display import display\n' + glue('items', JSON.stringify(ITEMS)))];

// Records its run as the chaos test's recording notebook does (start, a tick every 50 ms, end), then gives its tag.
const ITEM = [
  code("tag = 'none'\nsleep_s = 0.1", ['parameters']),
  code(
    ['from IPython.display import display', recordingSource(NODE_VAR), glue('tag', 'tag')].join('\n'),
  ),
];

const REPORT = [code('tags = []', ['parameters']), code('from IPython.display import display\n' + glue('tags', 'tags') + '\n' + glue('n', 'len(tags)'))];

const PIPELINE = {
  name: 'chaos-fan-out',
  username: USER,
  tasks: [
    { key: 'root', notebook: 'root.ipynb' },
    {
      key: 'items',
      notebook: 'item.ipynb',
      depends_on: ['root'],
      for_each: { items: '{{tasks.root.result.items}}', concurrency: 4 },
      parameters: { tag: '{{item.tag}}', sleep_s: '{{item.sleep_s}}' },
      // A retry soon after the lease expires (the default backoff is 60 s).
      max_retries: 2,
      retry_backoff_s: 1,
    },
    { key: 'report', notebook: 'report.ipynb', depends_on: ['items'], parameters: { tags: '{{tasks.items.result.tag}}' } },
  ],
};

const NODES: NodeSpec[] = [
  { name: 'w1', role: 'worker' },
  { name: 'w2', role: 'worker' },
  { name: 'api', role: 'api' },
];

describe('pipeline chaos: a worker killed mid-run on PostgreSQL', { timeout: 180_000 }, () => {
  it('two --role worker nodes, one --role api node: the run completes, no item succeeds twice', { skip: NEEDS_PG }, async () => {
    const env = { HUBMILL_LEASE_S: String(LEASE_S) };
    await withTestCluster({ name: 'pl-chaos', backend: 'pg', user: USER, token: TOKEN, nodeEnvVar: NODE_VAR, env, afterStop: ({ home }) => killLeftKernels(home) }, async ({ root, home, cluster: c }) => {
      await mkdir(join(home, RECORDS_DIR), { recursive: true });
      await writeFile(join(home, 'root.ipynb'), notebookJson(ROOT));
      await writeFile(join(home, 'item.ipynb'), notebookJson(ITEM));
      await writeFile(join(home, 'report.ipynb'), notebookJson(REPORT));
      await Promise.all(NODES.map((n) => c.start(n)));
      const api = c.node('api').base;
      const victim = NODES[0]!;

      const created = await call(api, 'POST', '/api/v1/pipelines', TOKEN, PIPELINE);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const pid = created.body.id as string;
      const started = await call(api, 'POST', `/api/v1/pipelines/${pid}/runs`, TOKEN, {});
      assert.ok(started.status === 201 || started.status === 202, JSON.stringify(started.body));
      const runId = started.body.id as string;
      const itemJobs = async () => (await listAll(api, TOKEN, `pipeline_run_id=${runId}`)).filter((j) => j.task_key === 'items');

      // Kill the victim while it runs an item job, once some items have succeeded.
      const busy = await waitFor(
        async () => (await itemJobs()).filter((j) => j.status === 'succeeded').length >= 4 && (await health(c.node(victim.name).base)).running > 0,
        60_000,
        50,
      );
      assert.ok(busy, `${victim.name} never ran an item job after 4 items succeeded`);
      const killedAt = Date.now();
      await c.kill9(victim.name);
      await c.start(victim);

      let run: any = null; // eslint-disable-line @typescript-eslint/no-explicit-any
      const ended = await waitFor(async () => {
        run = (await call(api, 'GET', `/api/v1/pipelines/${pid}/runs/${runId}`, TOKEN)).body;
        return ['succeeded', 'failed', 'cancelled'].includes(run.status);
      }, 60_000, 250);
      const jobs = await listAll(api, TOKEN, `pipeline_run_id=${runId}`);
      const summary = jobs.map((j) => `${j.task_key}[${j.item_index}]:${j.status}/a${j.attempt}`).join(' ');
      assert.ok(ended, `the run did not end: ${run?.status}; jobs: ${summary}`);
      assert.equal(run.status, 'succeeded', `run: ${JSON.stringify(run.tasks?.map((t: { key: string; status: string; error: unknown }) => [t.key, t.status, t.error]))}; jobs: ${summary}`);

      const problems: string[] = [];
      const items = jobs.filter((j) => j.task_key === 'items');
      let interrupted = 0;
      for (const [i, tag] of TAGS.entries()) {
        const mine = items.filter((j) => j.item_index === i);
        const ok = mine.filter((j) => j.status === 'succeeded');
        if (ok.length !== 1) problems.push(`${tag}: ${ok.length} succeeded jobs (${mine.map((j) => `${j.status}/a${j.attempt}`).join(' ')})`);
        const runs = runsOf(home, tag);
        for (const [a, b] of overlaps(runs)) problems.push(`${tag}: ran at once on ${a.node} (pid ${a.pid}) and ${b.node} (pid ${b.pid})`);
        if (!runs.at(-1)?.ended) problems.push(`${tag}: its last run has no end record (${JSON.stringify(runs)})`);
        // An earlier run must be one the kill cut short, or one on a node that lost its lease (it says so).
        for (const r of runs.slice(0, -1)) {
          if (r.node === victim.name && r.startMs <= killedAt) continue;
          if (r.ended && !mine.some((j) => nodeLostLease(root, r.node, j.id))) problems.push(`${tag}: ran twice: ${JSON.stringify(runs)}`);
        }
        if (runs.some((r) => r.node === victim.name && r.startMs <= killedAt && !r.ended)) interrupted++;
        if (runs.some((r) => r.node === 'api')) problems.push(`${tag}: ran on the API node`);
      }
      const unknown = recordedTags(home).filter((t) => !TAGS.includes(t));
      if (unknown.length) problems.push(`records of unknown items: ${unknown.join(' ')}`);
      assert.deepEqual(problems, [], `problems:\n${problems.join('\n')}\njobs: ${summary}`);

      const reports = jobs.filter((j) => j.task_key === 'report' && j.status === 'succeeded');
      assert.equal(reports.length, 1, summary);
      assert.deepEqual(reports[0].result.tags, TAGS, 'the report got every item’s value, in item order');
      assert.equal(reports[0].result.n, N_ITEMS);

      // The kill cut an item job short (it failed when its lease expired), and a retry re-ran that item.
      const failed = items.filter((j) => j.status === 'failed');
      assert.ok(failed.length >= 1, `the kill interrupted no item job: ${summary}`);
      for (const j of failed) assert.equal(j.error?.ename, 'JobInterrupted', `item ${j.item_index} failed otherwise than by the kill: ${JSON.stringify(j.error)}`);
      assert.ok(items.length > N_ITEMS, `no item job was retried after the kill: ${summary}`);
      process.stderr.write(
        `pipeline chaos: ${failed.length} item jobs cut by the kill (${failed.map((j) => `${j.item_index}: ${JSON.stringify(j.error)}`).join('; ')}); kernels cut short: ${interrupted}; item jobs ${items.length} for ${N_ITEMS} items\n`,
      );
    });
  });
});

/** Kernels the killed worker may have left behind. */
function killLeftKernels(home: string): void {
  for (const tag of existsSync(join(home, RECORDS_DIR)) ? recordedTags(home) : []) {
    for (const r of runsOf(home, tag)) {
      if (processAlive(r.pid)) {
        try {
          process.kill(r.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
}
