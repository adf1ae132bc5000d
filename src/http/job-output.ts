/** A job's output notebook as text, from the owner's home (local, or its own server's Contents API); 404 until it exists. */
import { readFile } from 'node:fs/promises';
import { NotFoundError } from '../errors.js';
import { Homes } from '../homes/homes.js';
import type { Job } from '../store/job-store.js';
import type { RouteContext } from './context.js';

export async function readOutputText(ctx: Pick<RouteContext, 'homes' | 'localHomes'>, job: Job): Promise<string> {
  const missing = () => new NotFoundError(`the output notebook of job '${job.id}' does not exist yet`);
  if (!job.output_path) throw missing();
  const path = job.output_path;
  let text: string;
  if (job.target === 'user-server') {
    const server = ctx.homes.userServer(job.username, job.server_name);
    text = await Homes.using(server, async () => (await server.open()).api.readText(path)).catch((e: unknown) => {
      if (e instanceof NotFoundError) throw missing();
      throw e;
    });
  } else {
    const abs = await ctx.localHomes.resolveInside(ctx.localHomes.homeFor(job.username), path, { mustExist: false });
    text = await readFile(abs, 'utf8').catch(() => '');
  }
  if (text === '') throw missing();
  return text;
}
