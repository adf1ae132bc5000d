/** Ids of schedules, pipelines and pipeline runs: a prefix, the creation time in hex (so they sort by time), random hex. */
import { randomBytes } from 'node:crypto';

export function timeOrderedId(prefix: string, nowMs: number): string {
  return `${prefix}_${nowMs.toString(16).padStart(12, '0')}${randomBytes(6).toString('hex')}`;
}
