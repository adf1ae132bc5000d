/**
 * The environment the bench gives a `hubmill serve` it measures: a data dir and
 * homes under `work`, a token, quiet logs, and no rate limit or per-user queue
 * cap (one user submits every burst).
 */
import { join } from 'node:path';

export function benchServeEnv(work: string, token: string): Record<string, string> {
  return {
    HUBMILL_API_TOKEN: token,
    HUBMILL_HOME_TEMPLATE: join(work, 'homes', '{username}'),
    HUBMILL_DATA_DIR: join(work, 'data'),
    HUBMILL_LOG_LEVEL: 'warn',
    HUBMILL_RATE_LIMIT_PER_MIN: '0',
    HUBMILL_RATE_LIMIT_IP_PER_MIN: '0',
    HUBMILL_MAX_QUEUED_PER_USER: '0',
  };
}
