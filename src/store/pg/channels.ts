/** The NOTIFY channels of the PostgreSQL store, all heard on its one LISTEN connection (listener.ts). */

/** Sent (payload: the store's schema) in the transaction that queues a job. */
export const JOB_QUEUED_CHANNEL = 'hubmill_job_queued';
/** Sent (payload: the schema) in the transaction that creates, edits or deletes a schedule. */
export const SCHEDULES_CHANGED_CHANNEL = 'hubmill_schedules_changed';
/** The job store's channels. */
export const STORE_CHANNELS = [JOB_QUEUED_CHANNEL, SCHEDULES_CHANGED_CHANNEL] as const;
export type StoreChannel = (typeof STORE_CHANNELS)[number];
/** The event bus's channel (payload: `<job id> <seq>[ <event JSON>]`). */
export const EVENT_BUS_CHANNEL = 'hubmill_job_events';
