/**
 * The sharing statements both databases run (store/sharing-store.ts), and the
 * condition the listings of jobs, schedules and pipelines add for a caller's
 * visibility (its own objects, or those granted to one of its principals).
 */
import { LEVELS, grantOf, levelRank, principalOf, type Grant, type Level, type ObjectKind, type ShareLink, type SharingStore, type Visibility } from '../sharing-store.js';
import { SqlArgs, type Sql, type SqlDialect } from './dialect.js';
import { rowsOf, type Steps } from './steps.js';

/** `column IN (the ids of objects of this kind granted to one of the principals)`. */
function grantedIds(d: SqlDialect, kind: ObjectKind, column: string, principals: string[], a: SqlArgs): string {
  if (principals.length === 0) return d.bool(false);
  return `${column} IN (SELECT object_id FROM grants WHERE object_kind = ${a.add(kind)} AND ${d.oneOf('principal', principals, a)})`;
}

/**
 * The listing condition of a caller: its own rows (`ownerColumn`), or rows granted to it; with `sharedOnly`,
 * only rows of others granted to it. Jobs are also granted through their schedule and pipeline.
 */
export function visibleCondition(d: SqlDialect, table: 'jobs' | 'schedules' | 'pipelines', v: Visibility, a: SqlArgs): string {
  const ownerColumn = table === 'jobs' ? 'username' : 'owner';
  // Arguments are added in the order the text uses them.
  const mine = `${ownerColumn} ${v.sharedOnly ? '<>' : '='} ${a.add(v.owner)}`;
  const shared =
    table === 'jobs'
      ? `(${grantedIds(d, 'job', 'id', v.principals, a)} OR ${grantedIds(d, 'schedule', 'schedule_id', v.principals, a)} OR ${grantedIds(d, 'pipeline', 'pipeline_id', v.principals, a)})`
      : grantedIds(d, table === 'schedules' ? 'schedule' : 'pipeline', 'id', v.principals, a);
  return v.sharedOnly ? `(${mine} AND ${shared})` : `(${mine} OR ${shared})`;
}


function sql(d: SqlDialect, build: (a: SqlArgs) => string): Sql {
  const a = new SqlArgs(d);
  const text = build(a);
  return { text, args: a.values };
}

type GrantRow = { principal: string; level: Level };
type LinkRow = { [K in keyof ShareLink]: ShareLink[K] extends number ? number | string : ShareLink[K] };

function toLink(r: LinkRow): ShareLink {
  return {
    id: r.id as string,
    job_id: r.job_id as string,
    created_by: r.created_by as string,
    created_at_ms: Number(r.created_at_ms),
    expires_at_ms: Number(r.expires_at_ms),
    revoked_at_ms: r.revoked_at_ms === null ? null : Number(r.revoked_at_ms),
  };
}

/** Runs store-core steps: `tx` in one transaction, `read` outside of one. */
export interface StepRunner {
  tx<T>(steps: () => Steps<T>): Promise<T>;
  read<T>(steps: Steps<T>): Promise<T>;
  now(): number;
}

/** The SharingStore of either database, on its job store's connection or pool (store/open.ts). */
export class SharingStoreCore implements SharingStore {
  constructor(
    private readonly d: SqlDialect,
    private readonly run: StepRunner,
  ) {}

  private rows<R>(q: Sql): Promise<R[]> {
    return this.run.read(rowsOf<R>(q));
  }

  async grants(kind: ObjectKind, id: string): Promise<Grant[]> {
    return this.grantsOf([[kind, id]]);
  }

  async grantsOf(objects: Array<[ObjectKind, string]>): Promise<Grant[]> {
    if (objects.length === 0) return [];
    const q = sql(this.d, (a) => {
      const ors = objects.map(([k, id]) => `(object_kind = ${a.add(k)} AND object_id = ${a.add(id)})`).join(' OR ');
      return `SELECT principal, level FROM grants WHERE ${ors} ORDER BY principal`;
    });
    return (await this.rows<GrantRow>(q)).map((r) => grantOf(r.principal, r.level));
  }

  async setGrants(kind: ObjectKind, id: string, grants: Grant[], by: string): Promise<Grant[]> {
    const d = this.d;
    const now = this.run.now();
    // One grant per principal: the highest level wins when a body names one twice.
    const best = new Map<string, Level>();
    for (const g of grants) {
      const p = principalOf(g);
      const had = best.get(p);
      if (!had || levelRank(g.level) > levelRank(had)) best.set(p, g.level);
    }
    await this.run.tx(function* () {
      yield sql(d, (a) => `DELETE FROM grants WHERE object_kind = ${a.add(kind)} AND object_id = ${a.add(id)}`);
      for (const [p, level] of best) {
        if (!(LEVELS as readonly string[]).includes(level)) continue;
        yield sql(
          d,
          (a) =>
            `INSERT INTO grants (object_kind, object_id, principal, level, granted_by, granted_at_ms) VALUES (${a.add(kind)}, ${a.add(id)}, ${a.add(p)}, ${a.add(level)}, ${a.add(by)}, ${a.add(now)})`,
        );
      }
    });
    return this.grants(kind, id);
  }

  async createLink(link: Omit<ShareLink, 'revoked_at_ms'>): Promise<ShareLink> {
    const q = sql(
      this.d,
      (a) =>
        `INSERT INTO share_links (id, job_id, created_by, created_at_ms, expires_at_ms) VALUES (${a.add(link.id)}, ${a.add(link.job_id)}, ${a.add(link.created_by)}, ${a.add(link.created_at_ms)}, ${a.add(link.expires_at_ms)}) RETURNING *`,
    );
    return toLink((await this.rows<LinkRow>(q))[0]!);
  }

  async getLink(id: string): Promise<ShareLink | null> {
    const r = (await this.rows<LinkRow>(sql(this.d, (a) => `SELECT * FROM share_links WHERE id = ${a.add(id)}`)))[0];
    return r ? toLink(r) : null;
  }

  async links(jobId: string): Promise<ShareLink[]> {
    const q = sql(this.d, (a) => `SELECT * FROM share_links WHERE job_id = ${a.add(jobId)} ORDER BY created_at_ms DESC, id DESC`);
    return (await this.rows<LinkRow>(q)).map(toLink);
  }

  async revokeLink(jobId: string, id: string, nowMs: number): Promise<boolean> {
    const q = sql(
      this.d,
      (a) => `UPDATE share_links SET revoked_at_ms = COALESCE(revoked_at_ms, ${a.add(nowMs)}) WHERE id = ${a.add(id)} AND job_id = ${a.add(jobId)} RETURNING id`,
    );
    return (await this.rows<{ id: string }>(q)).length > 0;
  }
}
