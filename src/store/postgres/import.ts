import type pg from 'pg';
import { CopyError, type DatabaseCopy } from '../copy.js';
import { migrate, redactedUrl } from './connect.js';

export interface ImportSummary {
  targets: number;
  pendingNotifications: number;
  /** Migrations this import applied to the schema first (none when it was up to date). */
  migrated: number[];
}

/** Rows per INSERT: one statement carries a slice as arrays (unnest), far inside the statement timeout. */
const SLICE = 5000;

/**
 * Writes a whole database copy (from another engine) into this one, ids and all, in one
 * transaction: the schema is brought up to date first, then the tables must be empty —
 * this never merges into a database SpO₂ already uses. The identity sequences move past the
 * highest ids the copy ever handed out, so new rows continue the old numbering.
 */
export async function importDatabase(pool: pg.Pool, url: string, copy: DatabaseCopy): Promise<ImportSummary> {
  const where = redactedUrl(url);
  const migrated = await migrate(pool);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const version = (await client.query<{ v: number }>('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations')).rows[0]!.v;
    if (version !== copy.schemaVersion) {
      throw new CopyError(`${where} has schema version ${version}, the SQLite database ${copy.schemaVersion}: use the spo2 migrate of the SpO₂ version that wrote ${version > copy.schemaVersion ? 'the PostgreSQL schema' : 'the SQLite database'}`, true);
    }
    // Writers wait until this commits (and a second migrate waits, then finds the rows):
    // the emptiness seen here still holds at the commit.
    await client.query('LOCK TABLE targets, outbox IN SHARE ROW EXCLUSIVE MODE');
    const { rows: [held] } = await client.query<{ targets: number; outbox: number }>(
      'SELECT (SELECT COUNT(*) FROM targets) AS targets, (SELECT COUNT(*) FROM outbox) AS outbox');
    if (held!.targets > 0 || held!.outbox > 0) {
      throw new CopyError(`${where} is not empty (${held!.targets} targets, ${held!.outbox} undelivered notifications): spo2 migrate copies into an empty database only, and changed nothing`, true);
    }
    for (let i = 0; i < copy.targets.length; i += SLICE) {
      const slice = copy.targets.slice(i, i + SLICE);
      await client.query(`INSERT INTO targets (id, url, data, created_at, updated_at, health)
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[])`,
      [slice.map((t) => t.id), slice.map((t) => t.url), slice.map((t) => t.data), slice.map((t) => t.createdAt), slice.map((t) => t.updatedAt), slice.map((t) => t.health)]);
    }
    for (let i = 0; i < copy.outbox.length; i += SLICE) {
      const slice = copy.outbox.slice(i, i + SLICE);
      await client.query(`INSERT INTO outbox (id, destination, url, event, created_at)
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[])`,
      [slice.map((e) => e.id), slice.map((e) => e.destination), slice.map((e) => e.url), slice.map((e) => e.event), slice.map((e) => e.createdAt)]);
    }
    // The ids are BY DEFAULT identities: given explicitly, they leave the sequence behind.
    // setval(…, n, true) makes n + 1 the next id; (1, false) makes it 1 for a table never used.
    for (const [table, last] of [['targets', copy.lastIds.targets], ['outbox', copy.lastIds.outbox]] as const) {
      await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), $1, $2)`, [Math.max(last, 1), last > 0]);
    }
    await client.query('COMMIT');
    return { targets: copy.targets.length, pendingNotifications: copy.outbox.length, migrated };
  } catch (err) {
    // A rollback that fails means the connection is gone: it must not go back to the pool.
    await client.query('ROLLBACK').catch((rollbackErr: Error) => { broken = rollbackErr; });
    throw err;
  } finally {
    client.release(broken);
  }
}
