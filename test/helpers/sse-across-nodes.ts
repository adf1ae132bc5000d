/**
 * An SSE stream opened on an API node shows the cell events of a job that a
 * worker node runs. The job's first cell waits for a flag file that is created
 * only once the stream has delivered its first event, so every later cell event
 * happens while the stream is open (no sleep decides the order). The last cell
 * prints the name of the node its kernel runs on.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { call } from './http.js';
import { collectSse } from './cluster-api.js';
import { code, makeNotebook } from './notebooks.js';

export async function checkSseAcrossNodes(o: { api: string; token: string; username: string; home: string; nodeVar: string; workers: string[] }): Promise<void> {
  const flag = join(o.home, 'sse-go.flag');
  const nb = makeNotebook([
    code(`import os, time\n_deadline = time.time() + 60\nwhile not os.path.exists(${JSON.stringify(flag)}) and time.time() < _deadline:\n    time.sleep(0.02)`),
    code("print('sse-one', flush=True)"),
    code(`print('node', os.environ.get(${JSON.stringify(o.nodeVar)}))`),
  ]);
  await writeFile(join(o.home, 'sse.ipynb'), JSON.stringify(nb));
  const r = await call(o.api, 'POST', '/api/v1/jobs', o.token, { username: o.username, notebook: 'sse.ipynb' });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const events = await collectSse(o.api, o.token, r.body.id, () => {
    if (!existsSync(flag)) void writeFile(flag, '');
  });
  await unlink(flag).catch(() => {});
  const kinds = events.map((e) => `${e.event}${e.data.cell_index ?? ''}`);
  assert.equal(events[0]?.event, 'state', `the stream starts with the state: ${kinds.join(' ')}`);
  const last = events.at(-1)!;
  assert.equal(last.event, 'state');
  assert.equal(last.data.status, 'succeeded', JSON.stringify(last.data.job?.error));
  for (const i of [0, 1, 2]) assert.ok(kinds.includes(`cell_finished${i}`), `cell_finished of cell ${i} in ${kinds.join(' ')}`);
  for (const i of [1, 2]) assert.ok(kinds.includes(`cell_started${i}`), `cell_started of cell ${i} in ${kinds.join(' ')}`);
  const printed = events.filter((e) => e.event === 'output').map((e) => String(e.data.output?.text ?? '')).join('');
  assert.match(printed, /sse-one\n/);
  const node = /node (\S+)\n/.exec(printed)?.[1];
  assert.ok(node && o.workers.includes(node), `the job ran on ${node}, not on a worker (${o.workers.join(', ')})`);
}
