/**
 * The notifications of a schedule or a pipeline (store/outbox-store.ts): each
 * webhook and mail of its run ends with its state, attempts, last error and
 * next attempt, and a retry by hand of one that failed. Who may see the
 * schedule or pipeline may see and retry its deliveries; anyone else gets 404.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { NotFoundError } from '../../errors.js';
import type { OutboxDelivery, OutboxStore, OutboxSubject } from '../../store/outbox-store.js';
import type { PipelineStore } from '../../store/pipeline-store.js';
import type { ScheduleStore } from '../../store/schedule-store.js';
import { canActFor } from '../auth.js';
import type { RouteContext } from '../context.js';
import { DeliveredError } from '../http-errors.js';
import { iso } from '../render.js';
import { problems } from '../schemas.js';

export interface DeliveryDeps {
  outbox: OutboxStore;
  schedules?: ScheduleStore;
  pipelines?: PipelineStore;
  /** Wakes this node's deliverer after a retry (worker nodes look every second anyway). */
  wake?(): void;
}

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const DeliveryView = Type.Object(
  {
    id: Type.String({ description: 'Sent with the webhook as X-Hubmill-Delivery' }),
    channel: Type.Union([Type.Literal('webhook'), Type.Literal('email')]),
    target: Type.String({ description: 'The webhook URL or the e-mail address' }),
    event: Type.String(),
    run_id: Type.String({ description: 'The job (schedule) or pipeline run whose end it announces' }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')], { description: 'failed: the attempts are spent (or retrying could not help); retry by hand' }),
    attempts: Type.Integer(),
    last_error: Nullable(Type.String()),
    next_attempt_at: Nullable(Type.String({ description: 'While pending' })),
    created_at: Type.String(),
    updated_at: Type.String(),
    delivered_at: Nullable(Type.String()),
  },
  { $id: 'Delivery' },
);
export type DeliveryViewT = Static<typeof DeliveryView>;

export function renderDelivery(d: OutboxDelivery): DeliveryViewT {
  return {
    id: d.id,
    channel: d.channel,
    target: d.target,
    event: d.event,
    run_id: d.ref_id,
    status: d.status,
    attempts: d.attempts,
    last_error: d.last_error,
    next_attempt_at: iso(d.next_attempt_ms),
    created_at: iso(d.created_at_ms)!,
    updated_at: iso(d.updated_at_ms)!,
    delivered_at: iso(d.delivered_at_ms),
  };
}

const deliveryRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext; deliveries: DeliveryDeps }> = async (app, { deliveries }) => {
  app.addSchema(DeliveryView);
  const { outbox } = deliveries;

  const owners: Partial<Record<OutboxSubject, (id: string) => Promise<string | null>>> = {};
  if (deliveries.schedules) owners.schedule = async (id) => (await deliveries.schedules!.get(id))?.owner ?? null;
  if (deliveries.pipelines) owners.pipeline = async (id) => (await deliveries.pipelines!.getPipeline(id))?.owner ?? null;

  for (const [kind, ownerOf] of Object.entries(owners) as [OutboxSubject, (id: string) => Promise<string | null>][]) {
    const plural = `${kind}s`;
    const tags = [plural];
    const visible = async (req: FastifyRequest, id: string): Promise<void> => {
      const owner = await ownerOf(id);
      if (owner === null || !canActFor(req.identity, owner)) throw new NotFoundError(`${kind} '${id}' not found`);
    };

    app.get(
      `/${plural}/:id/deliveries`,
      {
        schema: {
          tags,
          summary: `The ${kind}'s notifications (webhooks, e-mail), newest first: state, attempts, last error, next attempt`,
          params: Type.Object({ id: Type.String({ maxLength: 200 }) }),
          querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }), token: Type.Optional(Type.String()) }),
          response: { 200: Type.Object({ deliveries: Type.Array(Type.Ref('Delivery')) }), ...problems(401, 404) },
        },
      },
      async (req) => {
        await visible(req, req.params.id);
        return { deliveries: (await outbox.list(kind, req.params.id, req.query.limit)).map(renderDelivery) };
      },
    );

    app.post(
      `/${plural}/:id/deliveries/:delivery_id/retry`,
      {
        schema: {
          tags,
          summary: 'Send a failed (or still pending) notification again now, with a fresh count of attempts',
          params: Type.Object({ id: Type.String({ maxLength: 200 }), delivery_id: Type.String({ maxLength: 200 }) }),
          response: { 200: Type.Ref('Delivery'), ...problems(401, 404, 409) },
        },
      },
      async (req) => {
        await visible(req, req.params.id);
        const r = await outbox.retry(kind, req.params.id, req.params.delivery_id);
        if (r === null) throw new NotFoundError(`delivery '${req.params.delivery_id}' of ${kind} '${req.params.id}' not found`);
        if (r === 'delivered') throw new DeliveredError(`delivery '${req.params.delivery_id}' was delivered already`);
        deliveries.wake?.();
        return renderDelivery(r);
      },
    );
  }
};

export default deliveryRoutes;
