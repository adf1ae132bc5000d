/**
 * The audit hook of sharing: every change of who may do what (permissions set,
 * share link created or revoked) is reported here, once, after it is stored.
 *
 * AUDIT WIRING POINT: the server passes `onPermissionsChanged` (AppDeps) to
 * buildApp; the audit store (issue 18's "Audit", built apart) records the change
 * there. The record holds no secret: principals, levels, link ids, never a link's
 * signed URL.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Grant, ObjectKind } from '../store/sharing-store.js';

export interface PermissionsChange {
  action: 'permissions.set' | 'share_link.create' | 'share_link.revoke';
  kind: ObjectKind;
  id: string;
  owner: string;
  /** Who made the change, and from where (the client address as the trusted proxy reports it). */
  by: string;
  from: string;
  at_ms: number;
  /** permissions.set: the grants before and after. */
  before?: Grant[];
  after?: Grant[];
  /** share_link.*: the link's id and expiry. */
  link_id?: string;
  expires_at_ms?: number;
}

export type PermissionsChangedHook = (change: PermissionsChange) => void | Promise<void>;

/** Calls the hook; a failing hook is logged, never undoes the change nor fails the request. */
export async function onPermissionsChanged(hook: PermissionsChangedHook | null | undefined, change: PermissionsChange, log: FastifyBaseLogger): Promise<void> {
  if (!hook) return;
  try {
    await hook(change);
  } catch (err) {
    log.error({ err, action: change.action, kind: change.kind, id: change.id }, 'the permissions audit hook failed');
  }
}
