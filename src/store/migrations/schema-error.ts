/** The errors of a store whose schema this build cannot use; shared by the SQLite and PostgreSQL migrations. */
import { HubmillError } from '../../errors.js';
import { HUBMILL_VERSION } from '../../version.js';

/** The store's schema cannot be used by this build. */
export class StoreSchemaError extends HubmillError {
  override readonly code: string = 'STORE_SCHEMA';
  override readonly httpStatus = 503;
}

/**
 * The store has migrations this build does not know: it was migrated by a newer
 * hubmill. This node refuses to start rather than run old code on a newer schema.
 */
export class SchemaTooNewError extends StoreSchemaError {
  override readonly code = 'STORE_SCHEMA_TOO_NEW';

  constructor(
    where: string,
    readonly known: readonly number[],
    readonly unknown: readonly number[],
  ) {
    super(
      `the job store ${where} has schema migrations this hubmill ${HUBMILL_VERSION} does not know ` +
        `(${unknown.join(', ')}; this build knows ${known.length ? known.join(', ') : 'none'}): ` +
        'it was migrated by a newer hubmill; refusing to start on a newer schema (upgrade this node)',
    );
    Object.assign(this.extra, { known_migrations: [...known], unknown_migrations: [...unknown] });
  }
}
