import type pg from 'pg';
import pino, { type Logger } from 'pino';
import { RECHECK_MS } from '../availability.js';
import { OUTBOX_LIMIT, StoreUnavailableError } from '../ports.js';
import { GroupCommit, run, WRITE_CHECK } from './commit.js';
import { createPool, migrate, redactedUrl } from './connect.js';
import { storeErrorOf } from './errors.js';
import { MIGRATIONS } from './migrations.js';
import { PostgresStore } from './store.js';

export interface PostgresStoreOptions {
  /** Where trouble is logged (once when it starts, once when it ends). */
  logger?: Logger;
  /** How often the write check runs while the database is in trouble. */
  recheckMs?: number;
  /** Most undelivered events kept per destination (SPO2_OUTBOX_LIMIT). */
  outboxLimit?: number;
  /** How long start-up waits for a server that does not answer yet. */
  startWaitMs?: number;
}

/**
 * SpO₂ and its database often start together (a compose file, a node reboot): half a
 * minute covers a server's start and crash recovery; past it, exit 2 and let the
 * supervisor's back-off take over, rather than serve with no targets.
 */
const START_WAIT_MS = 30_000;
const RETRY_MS = 500;

/** The newest schema this SpO₂ knows. */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/**
 * Opens the PostgreSQL store and proves it usable before anything else starts: waits up
 * to START_WAIT_MS for a server that does not answer, migrates the schema (under an
 * advisory lock, connect.ts), refuses a schema newer than this SpO₂ knows, and commits a
 * write check. Throws StoreUnavailableError naming DATABASE_URL (never its password):
 * at once for a login or a database that is refused, after the wait for a server that is away.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const logger = options.logger ?? pino({ enabled: false });
  const where = `DATABASE_URL=${redactedUrl(url)}`;
  const pool = createPool(url, { logger });
  try {
    const applied = await migrateWhenReachable(pool, where, logger, options.startWaitMs ?? START_WAIT_MS);
    const { rows: [newest] } = await pool.query<{ v: number }>('SELECT max(version) AS v FROM schema_migrations');
    // A newer SpO₂ migrated this database (an upgrade rolled back): its tables may hold what this one would lose.
    if (newest!.v > SCHEMA_VERSION) {
      throw new StoreUnavailableError('newer-schema',
        `the database has schema version ${newest!.v}, written by a newer SpO₂ (this one knows up to ${SCHEMA_VERSION}): run that newer version`, where, true);
    }
    if (applied.length > 0 && applied[0]! > 1) logger.info({ from: applied[0]! - 1, to: SCHEMA_VERSION, database: redactedUrl(url) }, `database schema migrated from version ${applied[0]! - 1} to ${SCHEMA_VERSION}`);
    await run(pool, WRITE_CHECK, [String(Date.now())]);
  } catch (err) {
    // The pool holds at most the connections of this failed start: closing it cannot fail in a way worth more than the error itself.
    await pool.end().catch((endErr: unknown) => logger.debug({ err: endErr }, 'closing the pool after a failed start'));
    throw storeErrorOf(err, where) ?? err;
  }
  // At run time the variable's name only: trouble is told to API clients too (a 503), and
  // the server's address is the operator's business (the start-up line and this error give it).
  const commit = new GroupCommit(pool, { where: 'DATABASE_URL', logger, recheckMs: options.recheckMs ?? RECHECK_MS });
  return new PostgresStore(commit, options.outboxLimit ?? OUTBOX_LIMIT);
}

async function migrateWhenReachable(pool: pg.Pool, where: string, logger: Logger, waitMs: number): Promise<number[]> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      return await migrate(pool);
    } catch (err) {
      const trouble = storeErrorOf(err, where);
      if (trouble?.kind !== 'unreachable') throw trouble ?? err;
      if (Date.now() + RETRY_MS >= deadline) {
        throw new StoreUnavailableError('unreachable', `${trouble.reason} for ${Math.round(waitMs / 1000)} s (${detail(err)})`, where, false, { cause: err });
      }
      if (!told) logger.warn({ where, reason: detail(err) }, `the database server does not answer; waiting up to ${Math.round(waitMs / 1000)} s`);
      told = true;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

/** The driver's own words (`connect ECONNREFUSED 10.0.0.7:5432`), from an AggregateError's first error if need be. */
function detail(err: unknown): string {
  const inner = err instanceof AggregateError && err.errors[0] instanceof Error ? err.errors[0] : err;
  return inner instanceof Error ? inner.message : String(inner);
}
