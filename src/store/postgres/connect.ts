import pg from 'pg';
import pino, { type Logger } from 'pino';
import { MIGRATIONS } from './migrations.js';

export interface PoolOptions {
  /** Where dropped idle connections are logged (the store reports the outage itself). */
  logger?: Logger;
  /** Most connections this process opens. */
  max?: number;
}

/**
 * 10 connections: writes are batched into few transactions (group commit), so throughput
 * comes from batching, not from connections; several replicas at 10 each stay far below a
 * managed server's usual max_connections (100).
 */
const MAX_CONNECTIONS = 10;
/** A statement running this long is an outage in all but name: the API answers 503 rather than hang. */
const STATEMENT_TIMEOUT_MS = 10_000;
/** The client's own bound, for when the server cannot even cancel (a partition): a bit past the server's. */
const QUERY_TIMEOUT_MS = 12_000;
/** Without it, pg waits for a connection forever while the database is down. */
const CONNECT_TIMEOUT_MS = 5_000;
/** A replica paused mid-transaction does not hold row locks against the others for longer. */
const IDLE_IN_TRANSACTION_MS = 30_000;

/**
 * BIGINT (int8) columns as numbers, not the strings pg gives by default: ids, epoch
 * milliseconds and counts stay far below 2^53. Set on our pools only, not pg's global table.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** A pool on `DATABASE_URL`; settings in the URL (`?application_name=`, `sslmode=`…) win over ours. */
export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const logger = options.logger ?? pino({ enabled: false });
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? MAX_CONNECTIONS,
    application_name: 'spo2',
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    // TCP keepalive finds a server that vanished (failover, partition) on an idle connection.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    types,
  });
  // An idle connection that drops (server restart, failover) is an 'error' on the pool: without
  // a listener it would end the process. The pool replaces it on the next checkout.
  pool.on('error', (err) => logger.debug({ err, where: redactedUrl(url) }, 'an idle PostgreSQL connection was closed'));
  // A connection checked out of the pool has no such listener: one that drops while a
  // query runs (a failover, pg_terminate_backend) emits 'error' on the client as well as
  // failing the query. The query's rejection is what the store handles; this only keeps
  // the event from ending the process.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** The URL for messages and logs: the password replaced by `***`. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    // The driver also takes the password from the query string.
    for (const key of ['password', 'sslpassword']) if (u.searchParams.has(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return 'DATABASE_URL (unparsable)';
  }
}

/** Any fixed number: the advisory lock's key for migrations. 0x53704f32 is "SpO2". */
const MIGRATION_LOCK = 0x53704f32;
/** Waiting for another replica's migration, or a long DDL, is not an outage: the pool's bounds do not apply. */
const MIGRATION_TIMEOUT_MS = 10 * 60_000;

/**
 * Brings the schema up to date and returns the versions it applied (none when it was).
 * All pending migrations go in one transaction under an advisory lock: replicas that start
 * at once wait for the first, then find nothing to do; a failure leaves the schema as it was.
 */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  // pg reads a per-query query_timeout, which its types do not list.
  const long = (text: string, values?: unknown[]) => client.query({ text, values, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
    await long('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await long(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    // A rollback that fails means the connection is gone: it must not go back to the pool.
    await client.query('ROLLBACK').catch((rollbackErr: Error) => { broken = rollbackErr; });
    throw err;
  } finally {
    client.release(broken);
  }
}
