/**
 * Schedules saved before the `job_template` column have none: their fires build
 * the job from the settings, unchecked (the old-row path of `scheduleJob`). The
 * scheduler gives each one its checked template once: every schedule at its
 * first pass, and, for any still without one (saved by an older node since, or
 * refused then), just before its fire. The check is the runner's, as when a
 * schedule is saved through the API; the template is stored only if the row is
 * still as it was read (`ScheduleStore.storeJobTemplate`), so an edit made
 * meanwhile is never overwritten by a template of the old settings.
 *
 * A refusal (a notebook deleted since, a parameter name saved before checks
 * existed, a kernel gateway down) is logged as a warning and the schedule keeps
 * firing from its settings; the runner's `prepare` then fails that job with an
 * error naming the problem, as for any fire. It is checked again at a fire at
 * least `retryAfterMs` later, so a fixed notebook gets its template.
 */
import type { Logger } from 'pino';
import type { NewJob } from '../store/job-store.js';
import { jobTemplateOf, scheduleCheckJob, type Schedule, type ScheduleStore } from '../store/schedule-store.js';

/** Schedules read per page of the first pass. */
const PAGE = 200;

export interface TemplateBackfillOptions {
  store: ScheduleStore;
  /** The runner's check of a submitted job (home, notebook, kernel, parameters, limits): the job as it is stored, or a refusal. */
  check(job: NewJob): Promise<NewJob>;
  now(): number;
  logger?: Logger;
  /** After a refusal, the schedule is checked again at a fire this much later (default 10 min). */
  retryAfterMs?: number;
}

export class TemplateBackfill {
  /** Schedule id → when its check was last refused. */
  private readonly refused = new Map<string, number>();

  constructor(private readonly opts: TemplateBackfillOptions) {}

  /** Every schedule without a template gets one (the first pass); returns how many were stored. */
  async all(): Promise<number> {
    let stored = 0;
    let cursor: string | undefined;
    do {
      const page = await this.opts.store.list({ cursor, limit: PAGE });
      for (const s of page.schedules) if (s.job_template === null && (await this.fill(s))) stored++;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    if (stored) this.opts.logger?.info({ schedules: stored }, 'stored the checked job templates of schedules saved without one');
    return stored;
  }

  /** Before a fire: a schedule without a template gets one, unless its check was refused within `retryAfterMs`. */
  async beforeFire(s: Schedule): Promise<void> {
    if (s.job_template !== null) return;
    const at = this.refused.get(s.id);
    if (at !== undefined && this.opts.now() - at < (this.opts.retryAfterMs ?? 600_000)) return;
    await this.fill(s);
  }

  private async fill(s: Schedule): Promise<boolean> {
    let checked: NewJob;
    try {
      checked = await this.opts.check(scheduleCheckJob(s.owner, s, s.created_by));
    } catch (err) {
      if (this.refused.size > 10_000) this.refused.clear();
      this.refused.set(s.id, this.opts.now());
      this.opts.logger?.warn(
        { scheduleId: s.id, err: (err as Error).message },
        'the job of a schedule saved without a checked template was refused; it fires from its settings until it passes',
      );
      return false;
    }
    this.refused.delete(s.id);
    return this.opts.store.storeJobTemplate(s.id, jobTemplateOf(checked), s.updated_at_ms);
  }
}
