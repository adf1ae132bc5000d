/** The sharing API (issue 18): permissions of schedules, pipelines and jobs, and a job's share links. */
import { api } from './api';

export type Level = 'view' | 'run' | 'manage';
export const LEVELS: Level[] = ['view', 'run', 'manage'];
export type Grant = { user: string; level: Level } | { group: string; level: Level };
export type Kind = 'schedules' | 'pipelines' | 'jobs';
export interface Permissions {
  owner: string;
  permissions: Grant[];
  inherited: Array<{ from: string; id: string; user?: string; group?: string; level: Level }>;
  your_level: Level;
}
export interface ShareLink {
  id: string;
  job_id: string;
  url: string;
  created_by: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

const perms = (kind: Kind, id: string) => `api/v1/${kind}/${encodeURIComponent(id)}/permissions`;
export const getPermissions = (kind: Kind, id: string) => api<Permissions>(perms(kind, id));
export const putPermissions = (kind: Kind, id: string, permissions: Grant[]) => api<Permissions>(perms(kind, id), { method: 'PUT', body: { permissions } });

const links = (jobId: string) => `api/v1/jobs/${encodeURIComponent(jobId)}/share-links`;
export const listShareLinks = (jobId: string) => api<{ links: ShareLink[] }>(links(jobId));
export const createShareLink = (jobId: string, expires_in_s: number) => api<ShareLink>(links(jobId), { method: 'POST', body: { expires_in_s } });
export const revokeShareLink = (jobId: string, linkId: string) => api<null>(`${links(jobId)}/${encodeURIComponent(linkId)}`, { method: 'DELETE' });
