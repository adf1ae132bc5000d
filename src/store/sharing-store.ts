/**
 * Sharing (issue 18): the grants on schedules, pipelines and jobs, and the share
 * links of finished runs. One table each (`grants`, `share_links`), in the job
 * store's database (SQLite migration 80, PostgreSQL 40); the statements are
 * core/sharing-sql.ts's, written once for both.
 *
 * A grant names a principal, `user:<name>` or `group:<name>` (a JupyterHub
 * group), and a level. A job inherits the grants of the schedule and of the
 * pipeline that started it: they are resolved when read (through the job's
 * `schedule_id` and `pipeline_id`), not copied at enqueue, so a change of the
 * parent's grants reaches its past runs at once and the producer stays as it is.
 */
export const LEVELS = ['view', 'run', 'manage'] as const;
export type Level = (typeof LEVELS)[number];
export type ObjectKind = 'schedule' | 'pipeline' | 'job';

const RANK: Record<Level, number> = { view: 1, run: 2, manage: 3 };
/** view < run < manage. */
export const levelRank = (l: Level): number => RANK[l];

/** One grant as the API shows it: exactly one of `user` and `group`. */
export type Grant = { user: string; level: Level } | { group: string; level: Level };

/** A stored grant's principal: `user:<name>` or `group:<name>`. */
export function principalOf(g: Grant): string {
  return 'user' in g ? `user:${g.user}` : `group:${g.group}`;
}

export function grantOf(principal: string, level: Level): Grant {
  return principal.startsWith('group:') ? { group: principal.slice(6), level } : { user: principal.slice(5), level };
}

/** What a listing shows a caller besides its own objects: what is granted to one of its principals. */
export interface Visibility {
  /** The caller's own objects (owner / username), unless `sharedOnly`. */
  owner: string;
  /** `user:<name>` and `group:<g>` for each of its hub groups. */
  principals: string[];
  /** Only what others shared with the caller (`?shared=true`). */
  sharedOnly: boolean;
}

export interface ShareLink {
  id: string;
  job_id: string;
  created_by: string;
  created_at_ms: number;
  expires_at_ms: number;
  revoked_at_ms: number | null;
}

export interface SharingStore {
  /** The grants of one object, in principal order. */
  grants(kind: ObjectKind, id: string): Promise<Grant[]>;
  /** The grants of several objects at once (a job and its parents). */
  grantsOf(objects: Array<[ObjectKind, string]>): Promise<Grant[]>;
  /** Replaces the grants of one object (one transaction). */
  setGrants(kind: ObjectKind, id: string, grants: Grant[], by: string): Promise<Grant[]>;
  createLink(link: Omit<ShareLink, 'revoked_at_ms'>): Promise<ShareLink>;
  getLink(id: string): Promise<ShareLink | null>;
  links(jobId: string): Promise<ShareLink[]>;
  /** Marks a link revoked; false when the job has no such link. */
  revokeLink(jobId: string, id: string, nowMs: number): Promise<boolean>;
}
