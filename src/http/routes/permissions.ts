/**
 * Sharing (issue 18): `GET`/`PUT /{schedules|pipelines|jobs}/{id}/permissions`.
 * Reading needs `view` (the Share dialog shows them), changing needs `manage`.
 * The rule itself is access.ts's; each change goes to the audit hook
 * (permissions-hook.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { NotFoundError } from '../../errors.js';
import type { Job } from '../../store/job-store.js';
import type { ScheduleStore } from '../../store/schedule-store.js';
import type { PipelineStore } from '../../store/pipeline-store.js';
import type { Grant, Level, ObjectKind, SharingStore } from '../../store/sharing-store.js';
import { LEVELS } from '../../store/sharing-store.js';
import type { RouteContext } from '../context.js';
import { levelFor } from '../access.js';
import { onPermissionsChanged, type PermissionsChangedHook } from '../permissions-hook.js';
import { JobIdParams, problems } from '../schemas.js';

const LevelT = Type.Union(LEVELS.map((l) => Type.Literal(l)), { description: 'view < run < manage' });
const GrantT = Type.Union([
  Type.Object({ user: Type.String({ minLength: 1, maxLength: 128 }), level: LevelT }, { additionalProperties: false }),
  Type.Object({ group: Type.String({ minLength: 1, maxLength: 255 }), level: LevelT }, { additionalProperties: false }),
]);
export const PermissionsBody = Type.Object({ permissions: Type.Array(GrantT, { maxItems: 500 }) }, { additionalProperties: false });
export const PermissionsView = Type.Object(
  {
    owner: Type.String({ description: 'Always has manage' }),
    permissions: Type.Array(GrantT),
    inherited: Type.Array(Type.Object({ from: Type.String(), id: Type.String(), user: Type.Optional(Type.String()), group: Type.Optional(Type.String()), level: LevelT }), {
      description: "A job's: the grants of the schedule or pipeline that started it",
    }),
    your_level: LevelT,
  },
  { $id: 'Permissions' },
);
type PermissionsViewT = Static<typeof PermissionsView>;

export interface PermissionsDeps {
  sharing: SharingStore;
  schedules?: ScheduleStore;
  pipelines?: PipelineStore;
  onPermissionsChanged?: PermissionsChangedHook | null;
}

const permissionRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext; deps: PermissionsDeps }> = async (app, { ctx, deps }) => {
  app.addSchema(PermissionsView);
  const { sharing } = deps;

  type Loaded = { owner: string; parents: Array<[ObjectKind, string]>; job?: Job };
  /** The object's owner, and the parents whose grants a job inherits; null: no such object. */
  async function load(kind: ObjectKind, id: string): Promise<Loaded | null> {
    if (kind === 'schedule') {
      const s = await deps.schedules?.get(id);
      return s ? { owner: s.owner, parents: [] } : null;
    }
    if (kind === 'pipeline') {
      const p = await deps.pipelines?.getPipeline(id);
      return p ? { owner: p.owner, parents: [] } : null;
    }
    const j = await ctx.store.get(id);
    if (!j) return null;
    const parents: Array<[ObjectKind, string]> = [];
    if (j.schedule_id) parents.push(['schedule', j.schedule_id]);
    if (j.pipeline_id) parents.push(['pipeline', j.pipeline_id]);
    return { owner: j.username, parents, job: j };
  }

  async function checked(req: FastifyRequest, kind: ObjectKind, id: string, need: Level) {
    const o = await load(kind, id);
    if (!o) throw new NotFoundError(`${kind} '${id}' not found`);
    if (o.job) await ctx.access.checkJob(req, o.job, need);
    else await ctx.access.check(req, kind, id, o.owner, need, `${kind} '${id}'`);
    return o;
  }

  async function view(req: FastifyRequest, kind: ObjectKind, id: string, o: Loaded): Promise<PermissionsViewT> {
    const own = await sharing.grants(kind, id);
    const inherited: PermissionsViewT['inherited'] = [];
    const all: Grant[] = [...own];
    for (const [k, pid] of o.parents) {
      for (const g of await sharing.grants(k, pid)) {
        all.push(g);
        inherited.push({ from: k, id: pid, ...g });
      }
    }
    return { owner: o.owner, permissions: own, inherited, your_level: levelFor(req.identity, o.owner, all) ?? 'view' };
  }

  const kinds: Array<[ObjectKind, string]> = [['job', 'jobs']];
  if (deps.schedules) kinds.push(['schedule', 'schedules']);
  if (deps.pipelines) kinds.push(['pipeline', 'pipelines']);
  for (const [kind, plural] of kinds) {
    const tags = [plural];
    const byId = { params: JobIdParams, querystring: Type.Object({ token: Type.Optional(Type.String()) }) };
    app.get(
      `/${plural}/:id/permissions`,
      {
        schema: {
          tags,
          summary: `Who may see, run or manage this ${kind} (needs view)`,
          ...byId,
          response: { 200: Type.Ref('Permissions'), ...problems(401, 403, 404) },
        },
      },
      async (req) => view(req, kind, req.params.id, await checked(req, kind, req.params.id, 'view')),
    );
    app.put(
      `/${plural}/:id/permissions`,
      {
        schema: {
          tags,
          summary: `Replace the grants of this ${kind} (needs manage)`,
          description:
            'Each grant names a `user` or a hub `group` and a level: `view` (see it, its runs, outputs, events, results), `run` (also run now, ' +
            'start, cancel, repair; runs execute as the owner), `manage` (also edit, pause, resume, delete, change permissions). The owner ' +
            'always has manage, hub admins everything.',
          ...byId,
          body: PermissionsBody,
          response: { 200: Type.Ref('Permissions'), ...problems(400, 401, 403, 404, 415) },
        },
      },
      async (req) => {
        const id = req.params.id;
        const o = await checked(req, kind, id, 'manage');
        const before = await sharing.grants(kind, id);
        const by = req.identity?.name ?? o.owner;
        const after = await sharing.setGrants(kind, id, req.body.permissions as Grant[], by);
        await onPermissionsChanged(deps.onPermissionsChanged, { action: 'permissions.set', kind, id, owner: o.owner, by, from: req.ip, at_ms: Date.now(), before, after }, req.log);
        return view(req, kind, id, o);
      },
    );
  }
};

export default permissionRoutes;
