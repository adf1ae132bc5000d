/**
 * Errors of the schedules layer. The HTTP error handler maps them like every
 * other HubmillError.
 */
import { HubmillError } from '../errors.js';

/** A cron expression, time zone, bound or notification setting that cannot be used. Raised while validating a schedule; 422. */
export class InvalidScheduleError extends HubmillError {
  override readonly code = 'INVALID_SCHEDULE';
  override readonly httpStatus = 422;
}

/** A webhook URL that is not http(s), or points at a refused address (metadata, link-local, loopback/private unless allowed). Raised when a schedule is saved and before every delivery; 422. */
export class WebhookRefusedError extends HubmillError {
  override readonly code = 'WEBHOOK_REFUSED';
  override readonly httpStatus = 422;
}
