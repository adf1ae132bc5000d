/**
 * A pipeline run's live events (SSE: its task and item state changes,
 * resumable with Last-Event-ID; see pipeline-run-watch.ts) and its results
 * (one row per task item, as JSON or CSV).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../context.js';
import { openEventStream } from '../event-stream.js';
import { losslessReply } from '../json-body.js';
import { visibleRun, type PipelineDeps } from '../pipeline-access.js';
import { renderRun, resultRows, resultsCsv } from '../pipeline-render.js';
import { listRunJobs, type RunEvent } from '../pipeline-run-watch.js';
import { ResultRow, RunIdParams, RunView } from '../pipeline-schemas.js';
import { problems } from '../schemas.js';

const pipelineRunRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext; pipelines: PipelineDeps }> = async (app, { ctx, pipelines }) => {
  const tags = ['pipelines'];
  app.addSchema(RunView);

  app.get(
    '/pipelines/:id/runs/:run_id/events',
    {
      schema: {
        tags,
        summary: "A run's live events (server-sent events): its tasks' and items' state changes",
        description:
          'Sends `event: run` with the current run first (its tasks with their jobs), then, as they happen: `item` when a job of the run ' +
          'is created or changes state ({task_key, item_index, job_id, attempt, status}; item_index null outside for_each), `task` when a ' +
          "task's state or item count changes ({key, status, items_total, items_done, error}) and `run` when the run's state changes " +
          '(with the whole run). The stream ends once the run and all its jobs have ended; a comment line every 15 s keeps proxies from ' +
          'closing it. Each event has an `id:`; a client that reconnects with `Last-Event-ID` gets the events it missed, no snapshot and ' +
          'no event twice (while this process keeps them; otherwise the current run again). A reconnect after the end answers 204. ' +
          "A cell's output and progress are each job's own events (GET /api/v1/jobs/{id}/events). EventSource cannot send headers: pass ?token=.",
        params: RunIdParams,
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 64 })) }),
        produces: ['text/event-stream'],
        response: {
          200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: Type.String() } } },
          204: { description: 'The client already has every event, the end included', type: 'null' },
          ...problems(400, 401, 404),
        },
      },
    },
    async (req, reply) => {
      const run = await visibleRun(pipelines, req, req.params.id, req.params.run_id);
      const log = await pipelines.watch.open(run.id);
      const header = req.headers['last-event-id'];
      const lastSeen = log.numberOf(Array.isArray(header) ? header[0] : header);
      const resume = lastSeen !== null && lastSeen >= log.firstKept && lastSeen <= log.last ? lastSeen : null;
      if (resume !== null && resume === log.last && log.settled) return reply.code(204).send();
      const reading = log.reading;
      if (!reading) return reply.code(204).send();

      let unsubscribe: (() => void) | undefined;
      const stream = openEventStream(reply, ctx.sseHeartbeatMs, () => unsubscribe?.());
      if (resume === null) {
        // The snapshot stands for every event up to the log's newest: live events follow it without a gap.
        const snapshot = renderRun(reading.run, reading.jobs, ctx.prefix);
        stream.write('run', { type: 'run', run_id: run.id, status: reading.run.status, run: snapshot }, log.idOf(log.last));
        if (log.settled) return stream.finish();
      }
      unsubscribe = log.subscribe((ev: RunEvent, id: string) => {
        stream.write(ev.type, ev, id);
        if (ev.type === 'run' && log.settled) stream.finish();
      }, resume ?? log.last);
      // Replayed events may already have ended the stream.
      if (stream.closed) unsubscribe();
    },
  );

  app.get(
    '/pipelines/:id/runs/:run_id/results',
    {
      schema: {
        tags,
        summary: "A run's results: one row per task, or per item of a for_each task (a sweep's table)",
        description:
          "Each row has the item, the job's parameters, its state, its result values (scrapbook's glue), its attempt and duration; " +
          "each item's job of its current run or repair counts. `?format=csv` answers the same rows as CSV, with one column per item key, " +
          'parameter (`param.NAME`) and result (`result.NAME`); lists and objects are written as JSON.',
        params: RunIdParams,
        querystring: Type.Object({
          format: Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' }),
          task: Type.Optional(Type.String({ maxLength: 200, description: 'Only the rows of this task' })),
          token: Type.Optional(Type.String()),
        }),
        produces: ['application/json', 'text/csv'],
        response: {
          200: {
            description: 'The rows',
            content: {
              'application/json': {
                schema: Type.Object({ run_id: Type.String(), status: Type.String(), rows: Type.Array(ResultRow) }),
              },
              'text/csv': { schema: Type.String() },
            },
          },
          ...problems(400, 401, 404),
        },
      },
      ...losslessReply,
    },
    async (req, reply) => {
      const run = await visibleRun(pipelines, req, req.params.id, req.params.run_id);
      const jobs = await listRunJobs(ctx.store, run.id);
      let rows = resultRows(run, jobs);
      if (req.query.task !== undefined) rows = rows.filter((r) => r.task === req.query.task);
      if (req.query.format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="run-${run.id.replace(/[^A-Za-z0-9_-]/g, '_')}-results.csv"`)
          .send(resultsCsv(rows));
      }
      return { run_id: run.id, status: run.status, rows };
    },
  );
};

export default pipelineRunRoutes;
