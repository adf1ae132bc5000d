/**
 * TypeBox schemas of the schedules API (they validate, serialize and document).
 */
import { Type, type Static } from '@sinclair/typebox';
import { JsonObject, NotifyEmail, SecretNamesT } from './schemas.js';
import { MAX_MISFIRE_GRACE_S, ON_TIME_TOLERANCE_MS } from '../schedules/fire-plan.js';

const Iso = (description: string) => Type.String({ format: 'date-time', description });
/**
 * A string or null, null first: with Fastify's type coercion on, a union tries its branches in order and a
 * string branch first would turn null into "" (refused only by luck of a minLength). The PATCH test sets each
 * nullable field to null and reads null back.
 */
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([Type.Null(), t]);

/**
 * Seconds above 0, or null. One `nullable` number rather than a union with null: with
 * Fastify's type coercion a union turns a refused 0 into null (the default) instead of a 422.
 */
const SecondsOrNull = (description: string) => Type.Unsafe<number | null>({ type: 'number', nullable: true, exclusiveMinimum: 0, description });

const Notify = Type.Object(
  {
    webhook_url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'http(s) URL; loopback/private targets need HUBMILL_WEBHOOK_ALLOW' })),
    email: Type.Optional(NotifyEmail),
    on: Type.Optional(
      Type.Array(Type.Union(['failed', 'timed_out', 'succeeded', 'retrying'].map((e) => Type.Literal(e))), {
        minItems: 1,
        uniqueItems: true,
        description: 'Events to send (default failed, timed_out)',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'A signed webhook (X-Hubmill-Signature: sha256=<HMAC-SHA256 of the body under webhook_secret>; X-Hubmill-Delivery: the delivery id) and/or e-mail; ' +
      'sent through the outbox with retries (GET /api/v1/schedules/{id}/deliveries)',
  },
);

const settings = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  notebook: Type.String({ maxLength: 4096, description: "Notebook path relative to the owner's home ('' for a pipeline schedule)" }),
  pipeline_id: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()], {
    description:
      "Instead of a notebook: the owner's pipeline each fire runs (one run per fire time, carrying schedule_id and scheduled_for; " +
      "`parameters` are the run's). Overlap counts the schedule's queued and running runs; max_retries does not apply (set it on the tasks)",
  }),
  parameters: JsonObject,
  kernel: Nullable(Type.String({ minLength: 1, maxLength: 200 })),
  cron: Type.String({ minLength: 1, maxLength: 200, description: '5 fields (minute precision), 6 with seconds first, or @hourly, @daily, @weekly, @monthly' }),
  timezone: Type.String({ minLength: 1, maxLength: 100, description: 'IANA name, default UTC' }),
  timeout_s: SecondsOrNull('Whole-run timeout of each fire, seconds; null: the server maximum (HUBMILL_MAX_TIMEOUT_S)'),
  cell_timeout_s: SecondsOrNull('Per-cell timeout, seconds; null: the server maximum (HUBMILL_MAX_CELL_TIMEOUT_S)'),
  overlap: Type.Union([Type.Literal('skip'), Type.Literal('queue'), Type.Literal('allow')], { description: 'When an earlier run is still queued or running (default skip)' }),
  max_concurrent: Type.Integer({ minimum: 1, maximum: 100, description: 'Runs at once with overlap "allow" (default 1)' }),
  max_retries: Type.Integer({ minimum: 0, maximum: 20, description: 'Re-runs of a failed or timed-out attempt (default 0)' }),
  retry_backoff_s: Type.Number({ minimum: 0, maximum: 86400, description: 'Attempt n+1 waits retry_backoff_s × 2^(n−1), +0–20 % jitter, at most 1 h (default 60)' }),
  catchup: Type.Union([Type.Literal('latest'), Type.Literal('all'), Type.Literal('none')], {
    description:
      'Fires missed during downtime (default latest): latest runs the most recent one, all up to max_catchup of them, ' +
      `none only a fire reached on time, i.e. late by at most the scheduler's wake-up tolerance (${ON_TIME_TOLERANCE_MS / 1000} s) or misfire_grace_s`,
  }),
  max_catchup: Type.Integer({ minimum: 1, maximum: 10000, description: 'With catchup "all": at most this many missed times run (default 100)' }),
  // One nullable number, not a union with null: coercion would turn null into 0 (number first) or 0 into null (null first).
  misfire_grace_s: Type.Unsafe<number | null>({
    type: 'number',
    nullable: true,
    minimum: 0,
    maximum: MAX_MISFIRE_GRACE_S,
    description: `With catchup "none": a fire this many seconds late still runs (default null: only the ${ON_TIME_TOLERANCE_MS / 1000} s wake-up tolerance)`,
  }),
  start_at: Nullable(Iso('No fire before this time')),
  end_at: Nullable(Iso('No fire after this time')),
  paused: Type.Boolean(),
  notify: Type.Union([Type.Null(), Notify]),
  secrets: SecretNamesT,
};

export const CreateScheduleBody = Type.Object(
  {
    name: settings.name,
    notebook: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: "Notebook path relative to the owner's home (or give pipeline_id)" })),
    pipeline_id: Type.Optional(settings.pipeline_id),
    cron: settings.cron,
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Owner; defaults to the caller' })),
    parameters: Type.Optional(settings.parameters),
    kernel: Type.Optional(settings.kernel),
    timezone: Type.Optional(settings.timezone),
    timeout_s: Type.Optional(settings.timeout_s),
    cell_timeout_s: Type.Optional(settings.cell_timeout_s),
    overlap: Type.Optional(settings.overlap),
    max_concurrent: Type.Optional(settings.max_concurrent),
    max_retries: Type.Optional(settings.max_retries),
    retry_backoff_s: Type.Optional(settings.retry_backoff_s),
    catchup: Type.Optional(settings.catchup),
    max_catchup: Type.Optional(settings.max_catchup),
    misfire_grace_s: Type.Optional(settings.misfire_grace_s),
    start_at: Type.Optional(settings.start_at),
    end_at: Type.Optional(settings.end_at),
    paused: Type.Optional(settings.paused),
    notify: Type.Optional(settings.notify),
    secrets: Type.Optional(settings.secrets),
  },
  { additionalProperties: false },
);
export type CreateScheduleBodyT = Static<typeof CreateScheduleBody>;

export const PatchScheduleBody = Type.Partial(Type.Omit(CreateScheduleBody, ['username']), { additionalProperties: false });
export type PatchScheduleBodyT = Static<typeof PatchScheduleBody>;

export const ScheduleView = Type.Object(
  {
    id: Type.String(),
    owner: Type.String(),
    created_by: Type.String(),
    ...settings,
    next_run_at: Nullable(Iso('Next fire time; null when it fires no more')),
    last_run: Type.Union([Type.Object({ scheduled_for: Iso('Cron time of the latest fire'), job_id: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
    fires: Type.Integer({ description: 'Fire times that started (or queued) a run' }),
    missed_skipped: Type.Integer({ description: 'Missed fire times catch-up did not run' }),
    overlap_skipped: Type.Integer({ description: 'Fire times skipped because an earlier run was active' }),
    retries: Type.Integer({ description: 'Retries scheduled' }),
    created_at: Iso('Creation time'),
    updated_at: Iso('Last change'),
    webhook_secret: Type.Optional(Type.String({ description: 'Only in the creation response: the HMAC key of the webhook signatures' })),
    links: Type.Object({ self: Type.String(), runs: Type.String(), run: Type.String() }),
  },
  { $id: 'Schedule' },
);
export type ScheduleViewT = Static<typeof ScheduleView>;

export const PreviewQuery = Type.Object({
  cron: Type.String({ minLength: 1, maxLength: 200 }),
  timezone: Type.String({ minLength: 1, maxLength: 100, default: 'UTC' }),
  from: Type.Optional(Iso('Start after this time (default now)')),
  count: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  token: Type.Optional(Type.String()),
});
