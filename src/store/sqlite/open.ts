import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';
import { storeErrorOf } from './errors.js';
import { StoreUnavailableError } from '../ports.js';

/** The write check's statement: one tiny row, rewritten. */
export const WRITE_CHECK_SQL = `INSERT INTO store_meta (key, value) VALUES ('write_check', ?)
  ON CONFLICT (key) DO UPDATE SET value = excluded.value`;

/**
 * Opens the database and proves it usable before anything else starts: the folder exists,
 * the file is a SQLite database, `PRAGMA quick_check` finds no damage (it reads every page
 * but skips the index-content cross-check of integrity_check: ~0.1 s for 30,000 targets),
 * the schema is not newer than this SpO₂ knows, and a write commits. Throws
 * StoreUnavailableError naming DATABASE_PATH otherwise. `migrated` hears of the migrations applied.
 */
export function openDatabase(path: string, migrated?: (m: SchemaChange) => void): Database.Database {
  const where = `DATABASE_PATH=${path}`;
  const folder = dirname(resolve(path));
  const stat = statSync(folder, { throwIfNoEntry: false });
  if (!stat) throw new StoreUnavailableError('cannot-open', `the folder ${folder} does not exist`, where, true);
  if (!stat.isDirectory()) throw new StoreUnavailableError('cannot-open', `${folder} is not a folder`, where, true);

  let db: Database.Database | null = null;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    const damage = (db.pragma('quick_check(5)') as Array<{ quick_check: string }>).map((r) => r.quick_check);
    if (damage[0] !== 'ok') throw new StoreUnavailableError('corrupt', `database file is corrupted (quick_check: ${damage.join('; ').replace(/\s*\n\s*/g, ' ')})`, where, true);
    migrate(db, where, migrated);
    const check = db.prepare(WRITE_CHECK_SQL);
    db.transaction(() => check.run(String(Date.now())))();
    return db;
  } catch (err) {
    db?.close();
    throw storeErrorOf(err, path) ?? err;
  }
}

/** Migrations applied at start-up: the schema went from version `from` (0: a new file) to `to`. */
export interface SchemaChange {
  from: number;
  to: number;
}

/** The newest schema this SpO₂ knows. */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

function migrate(db: Database.Database, where: string, migrated?: (m: SchemaChange) => void): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version));
  // A newer SpO₂ migrated this file (an upgrade rolled back without its backup): running on
  // tables this version does not know could lose what the newer one keeps there.
  const newest = Math.max(0, ...applied);
  if (newest > SCHEMA_VERSION) {
    throw new StoreUnavailableError('newer-schema',
      `the database has schema version ${newest}, written by a newer SpO₂ (this one knows up to ${SCHEMA_VERSION}): run that newer version, or restore the backup taken before the upgrade`,
      where, true);
  }
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
  if (newest < SCHEMA_VERSION) migrated?.({ from: newest, to: SCHEMA_VERSION });
}
