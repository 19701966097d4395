/** Connection pools with the session settings every Nova connection runs under. */
import pg from "pg";

export interface PoolSettings {
  readonly connectionString: string;
  readonly poolSizeMax?: number;
  /** Ends a session left idle inside a transaction: one stuck writer would stall every reader. */
  readonly idleInTransactionTimeoutMs?: number;
  readonly statementTimeoutMs?: number;
  readonly applicationName?: string;
  /** The role every session works as (`SET ROLE` at connect), e.g. the least-privilege one. */
  readonly role?: string;
}

export const poolSizeMaxDefault = 10;
export const idleInTransactionTimeoutMsDefault = 5_000;
export const statementTimeoutMsDefault = 30_000;

/** Client settings for a connection with Nova's session settings (pools and dedicated ones). */
export function clientConfig(settings: PoolSettings): pg.ClientConfig {
  const idleMs = settings.idleInTransactionTimeoutMs ?? idleInTransactionTimeoutMsDefault;
  const statementMs = settings.statementTimeoutMs ?? statementTimeoutMsDefault;
  return {
    connectionString: settings.connectionString,
    application_name: settings.applicationName ?? "nova-ledger",
    options:
      `-c idle_in_transaction_session_timeout=${idleMs} -c statement_timeout=${statementMs}` +
      (settings.role === undefined ? "" : ` -c role=${settings.role}`),
  };
}

export function createPool(settings: PoolSettings): pg.Pool {
  const pool = new pg.Pool({
    ...clientConfig(settings),
    max: settings.poolSizeMax ?? poolSizeMaxDefault,
  });
  // An idle client's error (e.g. the server restarting) must not crash the process; the next
  // query on the pool gets a fresh connection or a clear error.
  pool.on("error", () => undefined);
  // Nor may a checked-out client's: between two queries of a transaction nobody listens, and
  // an unheard 'error' event ends the process. The query in flight still fails, and the pool
  // drops the broken client when it is released.
  pool.on("connect", (client) => {
    client.on("error", () => undefined);
  });
  return pool;
}
