/**
 * `DELETE /api/v1/users/{username}/sessions`: ends every browser session of a user
 * (browser-sessions.ts), on every node at once (the sessions are in the store). Admins
 * may do it for anyone, a user for themselves ("sign out everywhere"), as `canActFor` says.
 * The user's API tokens are untouched: they are the hub's (or the service's) to revoke.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { assertCanActFor } from '../auth.js';
import type { BrowserSessions } from '../browser-sessions.js';
import { problems } from '../schemas.js';

const Params = Type.Object({ username: Type.String({ minLength: 1, maxLength: 128, description: "The user whose sessions end ('admin' for the service token's)" }) });
const Revoked = Type.Object({
  username: Type.String(),
  revoked: Type.Integer({ minimum: 0, description: 'How many sessions were ended' }),
});

const sessionRoutes: FastifyPluginAsyncTypebox<{ sessions: BrowserSessions }> = async (app, { sessions }) => {
  app.delete(
    '/users/:username/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: "End all of a user's browser sessions (their cookies stop working on every node)",
        params: Params,
        response: { 200: Revoked, ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const { username } = req.params;
      assertCanActFor(req.identity, username);
      const revoked = await sessions.revokeUser(username);
      req.log.info({ username, revoked }, 'browser sessions revoked');
      return { username, revoked };
    },
  );
};

export default sessionRoutes;
