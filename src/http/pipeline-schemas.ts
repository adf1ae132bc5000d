/**
 * TypeBox schemas of the pipelines API (they validate, serialize and document).
 * What the graph must satisfy (keys, references, cycles, the limits on tasks and
 * items, `run_if`) is not repeated here: the save-time check reports it as a 422
 * naming the task and the problem, with a `problems` list.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_FOR_EACH_ITEMS, MAX_TASKS, RUN_IF, RUN_STATUSES, TASK_STATUSES } from '../pipelines/types.js';
import { JsonObject, JobStatusT, NotifyEmail, ParametersT, SecretNamesT } from './schemas.js';

const Iso = (description: string) => Type.String({ format: 'date-time', description });
const NullableIso = (description: string) => Type.Union([Iso(description), Type.Null()]);
/** See schedule-schemas.ts: one nullable number, so a refused 0 is not coerced into null. */
const SecondsOrNull = (description: string) => Type.Unsafe<number | null>({ type: 'number', nullable: true, exclusiveMinimum: 0, description });

const Params = (what: string) => Type.Record(Type.String(), Type.Unknown(), { description: what + (ParametersT.description ?? '') });

// `items` and the grid's lists are not typed here: with the service's type coercion a union of a list and a
// string would wrap a reference into a one-item list; the save-time check says what is wrong with them instead.
const ForEach = Type.Object(
  {
    items: Type.Optional(
      Type.Unknown({
        description: `A list (at most ${MAX_FOR_EACH_ITEMS} items), or one reference resolved when the task becomes ready, e.g. "{{tasks.extract.result.files}}"`,
      }),
    ),
    grid: Type.Optional(
      Type.Record(Type.String(), Type.Unknown({ description: 'A list of values' }), {
        description:
          'Lists of values by parameter name: the cartesian product, in itertools.product order (the first key varies slowest); ' +
          'each item is an object whose keys are passed as parameters unless the task sets them',
      }),
    ),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "Items running at once (default: the service's concurrency)" })),
  },
  { additionalProperties: false, description: 'Run the task once per item: `items` or `grid`' },
);

export const TaskSpecT = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 200, description: 'Unique in the pipeline: letters, digits, _ and -, starting with a letter or _, at most 64 characters' }),
    notebook: Type.String({ minLength: 1, maxLength: 4096, description: "Relative to the owner's home (the jobs API's rules)" }),
    parameters: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description:
          'Values typed as in the jobs API. A value may reference {{parameters.NAME}}, {{tasks.KEY.result.NAME}} (an upstream task), ' +
          '{{item}} and {{item.NAME}} (in a for_each task), {{run.id}}, {{run.scheduled_for}}: a value that is exactly one reference ' +
          'becomes that value with its JSON type; a reference inside a longer string is written in as text',
      }),
    ),
    depends_on: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { description: 'Keys of the tasks that must end first' })),
    run_if: Type.Optional(Type.String({ description: `When the task runs, given its upstream tasks' ends: ${RUN_IF.join(', ')} (default all_succeeded)` })),
    for_each: Type.Optional(ForEach),
    kernel: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()], { description: "Kernelspec name; default: the notebook's" })),
    timeout_s: Type.Optional(SecondsOrNull('Whole-run timeout of each of its jobs, seconds; null: the server maximum')),
    cell_timeout_s: Type.Optional(SecondsOrNull('Per-cell timeout, seconds; null: the server maximum')),
    max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 20, description: 'Re-runs of a failed or timed-out job (default 0)' })),
    retry_backoff_s: Type.Optional(Type.Number({ minimum: 0, maximum: 86400, description: 'Pause before a retry (default 60)' })),
    secrets: Type.Optional(SecretNamesT),
  },
  { additionalProperties: false },
);

const Notify = Type.Object(
  {
    webhook_url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'http(s) URL; loopback/private targets need HUBMILL_WEBHOOK_ALLOW' })),
    email: Type.Optional(NotifyEmail),
    on: Type.Optional(
      Type.Array(Type.Union(['failed', 'succeeded', 'cancelled'].map((e) => Type.Literal(e))), { minItems: 1, uniqueItems: true, description: 'Run ends to send (default failed)' }),
    ),
  },
  { additionalProperties: false, description: "A signed webhook when a run ends (event `pipeline_run.<status>`; the body names the pipeline, the run, its times, its tasks' states and a link), and/or e-mail, sent through the outbox by a node that runs jobs, with retries (GET /api/v1/pipelines/{id}/deliveries)" },
);

const spec = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  parameters: Type.Optional(Params("The pipeline's parameters with their defaults; a run's own override them. ")),
  tasks: Type.Array(TaskSpecT, { minItems: 1, description: `At most ${MAX_TASKS} tasks` }),
  max_concurrent_runs: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Runs at once; more wait as queued (default 1)' })),
  notify: Type.Optional(Type.Union([Notify, Type.Null()])),
};

export const CreatePipelineBody = Type.Object(
  { ...spec, username: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Owner; defaults to the caller' })) },
  { additionalProperties: false },
);
export type CreatePipelineBodyT = Static<typeof CreatePipelineBody>;

export const PatchPipelineBody = Type.Object(
  {
    name: Type.Optional(spec.name),
    parameters: spec.parameters,
    tasks: Type.Optional(spec.tasks),
    max_concurrent_runs: spec.max_concurrent_runs,
    notify: spec.notify,
  },
  { additionalProperties: false },
);
export type PatchPipelineBodyT = Static<typeof PatchPipelineBody>;

/** Paths of the bodies whose values keep their JSON types (1.0 a float, big integers exact): see json-body.ts. */
export const PIPELINE_LOSSLESS = ['parameters', 'tasks.*.parameters', 'tasks.*.for_each.items', 'tasks.*.for_each.grid'] as const;

const PlannedTaskView = Type.Object({
  key: Type.String(),
  notebook: Type.String({ description: "As stored: relative to the owner's home" }),
  depends_on: Type.Array(Type.String()),
  kernel: Type.Union([Type.String(), Type.Null()], { description: 'The kernel its jobs run on, resolved when the pipeline was saved' }),
  kernel_language: Type.Union([Type.String(), Type.Null()]),
  declared_parameters: Type.Array(Type.String(), { description: "The names its notebook's parameters cell declares: pipeline parameters are passed only to these" }),
});

export const PipelineView = Type.Object(
  {
    id: Type.String(),
    owner: Type.String(),
    created_by: Type.String(),
    name: Type.String(),
    parameters: JsonObject,
    tasks: Type.Array(Type.Object({}, { additionalProperties: true }), { description: 'The tasks as saved' }),
    max_concurrent_runs: Type.Integer(),
    notify: Type.Union([Type.Object({ webhook_url: Type.Optional(Type.String()), email: Type.Optional(Type.Array(Type.String())), on: Type.Array(Type.String()) }), Type.Null()]),
    webhook_secret: Type.Optional(
      Type.String({ description: 'Only in the answer that gave the pipeline its first webhook: the HMAC key of its signatures (X-Hubmill-Signature: sha256=<HMAC-SHA256 of the body>)' }),
    ),
    plan: Type.Object(
      { tasks: Type.Array(PlannedTaskView, { description: 'In topological order' }), default_concurrency: Type.Integer() },
      { description: 'What the save-time check resolved' },
    ),
    created_at: Iso('Creation time'),
    updated_at: Iso('Last change'),
    links: Type.Object({ self: Type.String(), runs: Type.String() }),
  },
  { $id: 'Pipeline' },
);
export type PipelineViewT = Static<typeof PipelineView>;

const TaskJobView = Type.Object({
  id: Type.String(),
  item_index: Type.Union([Type.Integer(), Type.Null()]),
  attempt: Type.Integer(),
  status: JobStatusT,
  started_at: NullableIso('When it started'),
  finished_at: NullableIso('When it ended'),
  links: Type.Object({ self: Type.String() }),
});

const RunTaskView = Type.Object({
  key: Type.String(),
  notebook: Type.String(),
  status: Type.Union(TASK_STATUSES.map((s) => Type.Literal(s))),
  depends_on: Type.Array(Type.String()),
  run_if: Type.String(),
  for_each: Type.Boolean({ description: 'Whether it runs once per item' }),
  items_total: Type.Union([Type.Integer(), Type.Null()], { description: 'for_each: the number of items, once known' }),
  items_done: Type.Union([Type.Integer(), Type.Null()], { description: 'for_each: items that ended' }),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why it failed without a job of its own (a missing reference, too many items)' }),
  result: Type.Union([JsonObject, Type.Null()], { description: "Its job's result; for for_each, each name's list of item values in item order" }),
  started_at: NullableIso('When its first job started'),
  finished_at: NullableIso('When it ended'),
  jobs: Type.Array(TaskJobView, { description: 'Every job of the task in this run, every attempt, by item then attempt' }),
});

export const RunView = Type.Object(
  {
    id: Type.String(),
    pipeline_id: Type.String(),
    owner: Type.String(),
    status: Type.Union(RUN_STATUSES.map((s) => Type.Literal(s))),
    parameters: JsonObject,
    schedule_id: Type.Union([Type.String(), Type.Null()]),
    scheduled_for: NullableIso('The cron time of a scheduled run'),
    submitted_by: Type.String(),
    created_at: Iso('Creation time'),
    started_at: NullableIso('When it started running'),
    finished_at: NullableIso('When it ended'),
    cancel_requested: Type.Boolean(),
    repairs: Type.Array(Type.Object({ at: Iso('When'), by: Type.String(), tasks: Type.Array(Type.String()), items: Type.Record(Type.String(), Type.Array(Type.Integer())) })),
    tasks: Type.Array(RunTaskView, { description: 'In topological order' }),
    links: Type.Object({ self: Type.String(), events: Type.String(), results: Type.String(), cancel: Type.String(), repair: Type.String(), jobs: Type.String() }),
  },
  { $id: 'PipelineRun' },
);
export type RunViewT = Static<typeof RunView>;
export type RunTaskViewT = Static<typeof RunTaskView>;

export const StartRunBody = Type.Object(
  { parameters: Type.Optional(Params("Override the pipeline's parameters (only its own names). ")) },
  { additionalProperties: false },
);

export const RepairBody = Type.Object(
  {
    tasks: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { description: 'Tasks to re-run (with everything downstream of them)' })),
    items: Type.Optional(Type.Record(Type.String(), Type.Array(Type.Integer({ minimum: 0 })), { description: 'For for_each tasks: the item indexes to re-run, by task key' })),
  },
  {
    additionalProperties: false,
    description:
      'Default: every failed, timed-out, cancelled or upstream_failed task, and for a for_each task only its failed items. ' +
      'Tasks downstream of anything re-run run again; succeeded upstream tasks keep their jobs and results.',
  },
);

export const ResultRow = Type.Object({
  task: Type.String(),
  item_index: Type.Union([Type.Integer(), Type.Null()]),
  item: Type.Unknown({ description: 'The item (for_each), else null' }),
  parameters: JsonObject,
  status: Type.String({ description: "The job's state, or the task's when it has no job (skipped, upstream_failed, pending)" }),
  job_id: Type.Union([Type.String(), Type.Null()]),
  attempt: Type.Union([Type.Integer(), Type.Null()]),
  result: Type.Union([JsonObject, Type.Null()]),
  duration_s: Type.Union([Type.Number(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
});
export type ResultRowT = Static<typeof ResultRow>;

export const RunIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }), run_id: Type.String({ minLength: 1, maxLength: 100 }) });
