/**
 * TypeBox schemas shared by the routes: they validate requests, serialize
 * responses and generate the OpenAPI document from the same source.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { JOB_STATUSES } from '../store/job-store.js';
import { MAX_PARAMETER_DEPTH } from '../notebook/parameters-json.js';

/** RFC 9457 problem document; `detail` keeps FastAPI-style clients (which read `detail`) working. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'urn:hubmill:error:<code>' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: 'Human-readable reason (FastAPI clients read this field).' }),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. NOT_FOUND, UNSAFE_PATH.' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object({ loc: Type.Array(Type.Union([Type.String(), Type.Integer()])), msg: Type.String(), type: Type.String() }),
        { description: 'Validation errors, FastAPI-style.' },
      ),
    ),
  },
  { $id: 'Problem', additionalProperties: true, description: 'application/problem+json error document' },
);
export type ProblemT = Static<typeof Problem>;

/** Error responses every protected route may give. */
export function problems(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) {
    out[s] = { description: PROBLEM_DESCRIPTIONS[s] ?? 'Error', content: { 'application/problem+json': { schema: Type.Ref('Problem') } } } as unknown as TSchema;
  }
  return out;
}

/** One error response with its own description (where the table's general one would mislead). */
export function problemAs(status: number, description: string): Record<number, TSchema> {
  return { [status]: { description, content: { 'application/problem+json': { schema: Type.Ref('Problem') } } } as unknown as TSchema };
}

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request: hostile path, invalid username, bad query',
  401: 'Missing or invalid token',
  403: 'Not allowed to act for that user',
  404: 'Unknown user, notebook, job or route',
  409: 'The run was cancelled',
  413: 'Request body larger than the server limit (HUBMILL_MAX_BODY_BYTES)',
  415: 'The body was not sent as JSON: add the header Content-Type: application/json',
  422: 'Invalid body, malformed notebook, unknown kernel, timeout above the maximum, a parameter name that is not an identifier of the notebook\'s language, parameters nested too deeply, with `strict_parameters` an undeclared parameter or a value of the wrong type',
  500: 'The notebook raised an exception (as the seed answered when papermill failed)',
  503: 'The service cannot run notebooks right now (kernel start failed, store or kernel gateway unavailable)',
  504: 'The run timed out, or is still running when the synchronous wait ended',
};

export const JsonObject = Type.Record(Type.String(), Type.Unknown(), { description: 'JSON object' });

/** Parameters as submitted; the description is the contract for their types (see http/json-body.ts). */
/** A JupyterHub named server ('' = the default server); the same rule as SERVER_NAME in homes/hub-servers.ts. */
export const ServerNameT = Type.String({
  maxLength: 64,
  pattern: '^([A-Za-z0-9][A-Za-z0-9._-]*)?$',
  description: "The user's named server (target user-server, and the listings with HUBMILL_HOMES=user-server); '' or absent: the default server",
});

export const ParametersT = Type.Record(Type.String(), Type.Unknown(), {
  description:
    'Parameter names to JSON values, typed as Python\'s json module types them: a number written with a fraction or an exponent is a ' +
    'float (`1.0` injects `x = 1.0`, `1e3` injects `x = 1000.0`), other numbers are ints with every digit kept (beyond 2^53 too). ' +
    `Names must be identifiers of the notebook's language; at most ${MAX_PARAMETER_DEPTH} levels of nesting. Answered back as written.`,
});

export const JobStatusT = Type.Union(
  JOB_STATUSES.map((s) => Type.Literal(s)),
  { description: 'Job state' },
);

export const RunErrorT = Type.Object({
  ename: Type.String(),
  evalue: Type.String(),
  traceback: Type.Array(Type.String()),
  cell_index: Type.Union([Type.Integer(), Type.Null()], {
    description: "The failing cell's 0-based index in the input notebook (injected parameters and error-marker cells not counted); null when the error is not tied to a cell of the input",
  }),
  execution_count: Type.Optional(Type.Union([Type.Integer(), Type.Null()], { description: "The failing cell's execution count (its In [n]); null when it did not run" })),
});

export const JobView = Type.Object(
  {
    id: Type.String(),
    status: JobStatusT,
    username: Type.String(),
    notebook: Type.String({ description: "Relative to the user's home" }),
    parameters: JsonObject,
    kernel: Type.Union([Type.String(), Type.Null()]),
    timeout_s: Type.Union([Type.Number(), Type.Null()]),
    cell_timeout_s: Type.Union([Type.Number(), Type.Null()]),
    idempotency_key: Type.Union([Type.String(), Type.Null()]),
    submitted_by: Type.String(),
    triggered_by: Type.String({ description: 'Who started the run (pressed the button); it runs as `username`, the owner, whoever triggered it' }),
    source: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    duration_s: Type.Union([Type.Number(), Type.Null()]),
    output_path: Type.Union([Type.String(), Type.Null()], { description: "Output notebook, relative to the user's home" }),
    progress: Type.Object({ cells_total: Type.Integer(), cells_done: Type.Integer() }),
    error: Type.Union([RunErrorT, Type.Null()]),
    result: Type.Union([JsonObject, Type.Null()], { description: "Values recorded with scrapbook's glue, by name" }),
    cancel_requested: Type.Boolean(),
    attempts: Type.Integer(),
    target: Type.Union([Type.Literal('local'), Type.Literal('user-server')], { description: "Where the kernel runs: hubmill's own kernels, or the user's single-user server" }),
    server_name: Type.Union([Type.String(), Type.Null()], { description: "Target user-server: the user's named server it runs in (null: the default server)" }),
    schedule_id: Type.Union([Type.String(), Type.Null()], { description: 'The schedule that started it, if any' }),
    scheduled_for: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'The cron time it runs for (null for runs started by hand)' }),
    attempt: Type.Integer({ description: '1 for the first run of a fire (or of a pipeline task item), 2.. for its retries (and repairs)' }),
    pipeline_id: Type.Union([Type.String(), Type.Null()], { description: 'The pipeline whose run started it, if any' }),
    pipeline_run_id: Type.Union([Type.String(), Type.Null()], { description: 'That run (list its jobs with GET /api/v1/jobs?pipeline_run_id=…)' }),
    task_key: Type.Union([Type.String(), Type.Null()], { description: 'The pipeline task it runs' }),
    item_index: Type.Union([Type.Integer(), Type.Null()], { description: "Its item's index in a for_each task; null outside for_each" }),
    item: Type.Unknown({ description: 'Its item in a for_each task (null outside for_each)' }),
    secrets: Type.Array(Type.String(), { description: 'The secrets the run gets as environment variables (names only; values are never shown)' }),
    links: Type.Object({ self: Type.String(), output: Type.String(), events: Type.String(), cancel: Type.String() }),
  },
  { $id: 'Job' },
);
export type JobViewT = Static<typeof JobView>;

/** A parameter of a notebook's parameters cell, as `hubmill inspect` reads it. */
const Parameter = Type.Object({
  name: Type.String(),
  inferred_type_name: Type.String(),
  default: Type.String(),
  help: Type.String(),
});

export const NotebookInfo = Type.Object({
  name: Type.String(),
  path: Type.String({ description: "Relative to the user's home; use it as `notebook` when submitting a job" }),
  size: Type.Integer(),
  modified: Type.String({ format: 'date-time' }),
  kernel: Type.Union([Type.String(), Type.Null()]),
  language: Type.Union([Type.String(), Type.Null()]),
  parameters: Type.Array(Parameter),
  error: Type.Union([Type.Object({ code: Type.String(), detail: Type.String() }), Type.Null()]),
});

export const NotebooksResponse = Type.Object({
  username: Type.String(),
  user_home: Type.String({ description: "The home's local path; '' with HUBMILL_HOMES=user-server (paths are relative to the server's root)" }),
  notebook_count: Type.Integer(),
  truncated: Type.Boolean(),
  notebooks: Type.Array(NotebookInfo),
});

export type NotebookInfoT = Static<typeof NotebookInfo>;

/** The web UI's session (`GET /ui/api/me`): who is signed in, the home it opens, whose homes an admin can switch to. */
export const MeView = Type.Object({
  name: Type.String(),
  kind: Type.Union([Type.Literal('token'), Type.Literal('user'), Type.Literal('service')]),
  admin: Type.Boolean(),
  xsrf_token: Type.Union([Type.String(), Type.Null()], { description: 'Send as X-XSRF-Token with unsafe methods when signed in by cookie' }),
  home_user: Type.Union([Type.String(), Type.Null()], { description: 'The user whose home the UI opens; null: none (choose one)' }),
  users: Type.Array(Type.String(), { description: 'Admins: users with a home' }),
  groups: Type.Array(Type.String(), { description: "The caller's JupyterHub groups (the Share dialog offers them)" }),
});
export type MeViewT = Static<typeof MeView>;

/** The `secrets` a job, schedule or pipeline task names: environment variable names of secrets its owner may read. */
export const SecretNamesT = Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' }), {
  maxItems: 64,
  uniqueItems: true,
  description:
    "Secrets (POST /api/v1/secrets) the kernel gets as environment variables of the same names: the owner's own, else one of their hub groups'. " +
    'Never injected as parameters; their values (and base64 / URL-encoded forms) are replaced by [REDACTED:NAME] in outputs, results, events and ' +
    "webhooks. A name the owner cannot read, or a job in the user's own server (target user-server), is refused with 422.",
});

export const JobIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export const SubmitJobBody = Type.Object(
  {
    notebook: Type.String({ minLength: 1, maxLength: 4096, description: "Notebook path relative to the user's home" }),
    parameters: Type.Optional(ParametersT),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Defaults to the caller' })),
    kernel: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "Kernelspec name; default: the notebook's" })),
    timeout_s: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: 'Whole-run timeout, seconds; above the server maximum (HUBMILL_MAX_TIMEOUT_S) refused with 422; default: the maximum' }),
    ),
    cell_timeout_s: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: 'Per-cell timeout, seconds; above the server maximum (HUBMILL_MAX_CELL_TIMEOUT_S) refused with 422; default: the maximum' }),
    ),
    idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    output_path: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: "Relative to the home; default chosen by the runner" })),
    strict_parameters: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          "Refuse (422) any parameter the notebook's parameters cell does not declare, or whose value does not fit the declared or " +
          'inferred type (int, float — an int fits too —, bool, str, list, dict; Optional[X] also takes null; other and unknown types ' +
          'take anything), naming each parameter with the expected and given type. Python notebooks only (422 otherwise, when ' +
          'parameters are given). Default false: papermill semantics, any parameter is injected. The web UI\'s run form sends true.',
      }),
    ),
    target: Type.Optional(
      Type.Union([Type.Literal('local'), Type.Literal('user-server')], {
        description:
          "Where the kernel runs. `local` (default): hubmill's own kernels. `user-server`: a kernel in the user's single-user " +
          'server through JupyterHub (started if needed), so the run sees exactly the user\'s environment; needs a hub (422 otherwise). ' +
          "With HUBMILL_HOMES=user-server the default is `user-server` and the notebook is read and the output written through the server's Contents API.",
      }),
    ),
    server_name: Type.Optional(ServerNameT),
    secrets: Type.Optional(SecretNamesT),
  },
  { additionalProperties: false },
);

export const SeedExecuteBody = Type.Object(
  {
    username: Type.String({ description: 'Owner of the notebook; its home comes from the home template' }),
    notebook_name: Type.String({ description: 'A file name searched anywhere in the home, or a path relative to it' }),
    parameters: Type.Optional(ParametersT),
    server_name: Type.Optional(ServerNameT),
  },
  { $id: 'NotebookExecuteRequest' },
);

export const SeedExecuteResponse = Type.Object(
  {
    status: Type.Literal('success'),
    username: Type.String(),
    input_notebook: Type.String(),
    output_notebook: Type.String(),
    parameters: JsonObject,
    timestamp: Type.String(),
    job_id: Type.String({ description: 'hubmill extra: the job that ran it' }),
  },
  { $id: 'NotebookExecuteResponse' },
);

export const SeedRunBody = Type.Object(
  {
    params: Type.Optional(ParametersT),
    input_path: Type.String({ description: "Absolute path inside a user's home" }),
    output_path: Type.String({ description: "Absolute path inside the same user's home (overwritten, as papermill does)" }),
  },
  { $id: 'NotebookRunRequest' },
);

export const SeedRunResponse = Type.Object(
  {
    status: Type.Literal('success'),
    input_path: Type.String(),
    output_path: Type.String(),
    params: JsonObject,
    username: Type.String(),
    timestamp: Type.String(),
    job_id: Type.String(),
  },
  { $id: 'NotebookRunResponse' },
);

/** E-mail recipients of a `notify` (schedules and pipelines). */
export const NotifyEmail = Type.Array(Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@<>,;]+@[^\\s@<>,;]+$' }), {
  minItems: 1,
  maxItems: 20,
  uniqueItems: true,
  description: 'E-mail addresses (needs HUBMILL_SMTP_URL and HUBMILL_SMTP_FROM): a plain-text and an HTML part with the status, duration, failing cell, results and a link',
});
