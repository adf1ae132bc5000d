/**
 * The one access rule of owned objects (schedules, pipelines, their runs, jobs),
 * with sharing (issue 18):
 * - the owner, hub admins and identities that may act for the owner (`canActFor`:
 *   the service token, `admin:users!user=` delegation) have `manage`;
 * - anyone else has the highest level granted to their user name or to one of
 *   their hub groups (`identity.groups`, read at the token check);
 * - a job also has the grants of the schedule and of the pipeline that started it
 *   (resolved here when read, through `schedule_id` and `pipeline_id`; nothing is
 *   copied at enqueue); a pipeline run has its pipeline's.
 *
 * Levels: `view` (see the object, its runs, outputs, events, results) < `run`
 * (run now, start a run, cancel, repair; runs still execute as the owner) <
 * `manage` (edit, pause and resume, delete, change permissions, share links).
 * No level at all is a 404 (the id leaks nothing); too low a level is a 403 that
 * names the level needed.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { NotFoundError } from '../errors.js';
import type { Job } from '../store/job-store.js';
import { levelRank, principalOf, type Grant, type Level, type ObjectKind, type SharingStore, type Visibility } from '../store/sharing-store.js';
import { canActFor, listingOwner, type Identity } from './auth.js';
import { ForbiddenError } from './http-errors.js';

/** A grantee below the level an action needs: 403 naming it (`level_needed`, and the caller's `level`). */
export class LevelNeededError extends ForbiddenError {
  override readonly extra: Record<string, unknown>;
  constructor(what: string, need: Level, level: Level) {
    super(`${what}: this needs the '${need}' permission; you have '${level}'`);
    this.extra = { level_needed: need, level };
  }
}

/** The `?shared=true` of the listings. */
export const SharedQuery = Type.Boolean({ default: false, description: 'Only what others shared with you' });

/** The principals a grant may name that match this caller: its user name (hub users) and its hub groups. */
export function principalsOf(identity: Identity | null): string[] {
  if (!identity || identity.kind !== 'user') return [];
  return [principalOf({ user: identity.name, level: 'view' }), ...(identity.groups ?? []).map((g) => principalOf({ group: g, level: 'view' }))];
}

/** The caller's level on an object of `owner` with these grants; null: none (404). */
export function levelFor(identity: Identity | null, owner: string, grants: readonly Grant[]): Level | null {
  if (!identity) return null;
  if (canActFor(identity, owner)) return 'manage';
  const mine = new Set(principalsOf(identity));
  let best: Level | null = null;
  for (const g of grants) {
    if (mine.has(principalOf(g)) && (best === null || levelRank(g.level) > levelRank(best))) best = g.level;
  }
  return best;
}

/** Throws 404 (no level) or 403 naming the level needed; returns the caller's level. */
export function requireLevel(identity: Identity | null, owner: string, grants: readonly Grant[], need: Level, what: string): Level {
  const level = levelFor(identity, owner, grants);
  if (level === null) throw new NotFoundError(`${what} not found`);
  if (levelRank(level) < levelRank(need)) {
    throw new LevelNeededError(what, need, level);
  }
  return level;
}

/** The objects whose grants reach a job: itself, the schedule and the pipeline that started it. */
export function jobGrantSources(job: Pick<Job, 'id' | 'schedule_id' | 'pipeline_id'>): Array<[ObjectKind, string]> {
  const out: Array<[ObjectKind, string]> = [['job', job.id]];
  if (job.schedule_id) out.push(['schedule', job.schedule_id]);
  if (job.pipeline_id) out.push(['pipeline', job.pipeline_id]);
  return out;
}

/**
 * Access checks with the grants read from the sharing store (null: sharing is not mounted, e.g. the
 * in-memory store of HTTP tests; then only `canActFor` grants anything, as before sharing).
 */
export class Access {
  constructor(readonly sharing: SharingStore | null) {}

  private async grants(objects: Array<[ObjectKind, string]>, identity: Identity | null, owner: string): Promise<Grant[]> {
    // The owner and admins need no read.
    if (!this.sharing || !identity || canActFor(identity, owner) || identity.kind !== 'user') return [];
    return this.sharing.grantsOf(objects);
  }

  async check(req: FastifyRequest, kind: ObjectKind, id: string, owner: string, need: Level, what: string): Promise<Level> {
    return requireLevel(req.identity, owner, await this.grants([[kind, id]], req.identity, owner), need, what);
  }

  async checkJob(req: FastifyRequest, job: Job, need: Level): Promise<Level> {
    return requireLevel(req.identity, job.username, await this.grants(jobGrantSources(job), req.identity, job.username), need, `job '${job.id}'`);
  }

  /** What a listing shows the caller: its own objects and those granted to it; null when sharing is not mounted. */
  visibility(identity: Identity | null, sharedOnly: boolean): Visibility | null {
    if (!this.sharing || !identity) return null;
    return { owner: identity.name, principals: principalsOf(identity), sharedOnly };
  }

  /**
   * The filter of a listing: `?shared=true`, only what others shared with the caller; a hub user naming no
   * `username`, its own and what is shared with it; otherwise as before sharing (admins: everyone's or
   * `?username=`'s; others: a user they may act for, 403 otherwise). Null: an empty page.
   */
  listing(identity: Identity | null, username: string | undefined, shared: boolean): { owner?: string; visible?: Visibility } | null {
    const v = this.visibility(identity, shared);
    if (shared) return v ? { visible: v } : null;
    if (!identity?.admin && username === undefined && v && identity?.kind === 'user') return { visible: v };
    return { owner: listingOwner(identity, username) };
  }
}
