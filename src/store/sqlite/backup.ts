import { chownSync, closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from './open.js';

/** What a backup holds, for the operator to read (and check against the live server). */
export interface BackupSummary {
  file: string;
  bytes: number;
  targets: number;
  /** Notification events not yet delivered when the copy was taken: restored, they are sent. */
  pendingNotifications: number;
  schemaVersion: number;
  ms: number;
}

/** A backup that cannot be taken: `usage` is the operator's to fix (exit 2), the rest is trouble (exit 1). */
export class BackupError extends Error {
  override name = 'BackupError';

  constructor(message: string, readonly usage: boolean) {
    super(message);
  }
}

/**
 * Copies the database at `source` into `dest` with SQLite's online backup, while SpO₂ may
 * be running and writing (WAL): the pages are copied in one step, inside one read
 * transaction, so the copy is the database as it was at one instant — every registration
 * acknowledged before it is in, none is half in. A WAL reader never blocks the writer; the
 * server only keeps appending to the WAL meanwhile (checkpoints wait for the copy).
 *
 * The copy is written beside `dest` and renamed into place once `integrity_check` passed, so
 * `dest` is never a half-written file; it is one self-contained file (rollback journal, no
 * `-wal`), ready to be copied back as DATABASE_PATH.
 */
export async function backupDatabase(source: string, dest: string, clock: () => number = Date.now): Promise<BackupSummary> {
  const started = clock();
  const where = `DATABASE_PATH=${source}`;
  const stat = statSync(source, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new BackupError(`no database at ${where}`, true);
  const destFolder = dirname(resolve(dest));
  if (!statSync(destFolder, { throwIfNoEntry: false })?.isDirectory()) throw new BackupError(`the folder ${destFolder} does not exist`, true);
  const existing = statSync(dest, { throwIfNoEntry: false });
  if (existing && existing.ino === stat.ino && existing.dev === stat.dev) throw new BackupError(`${dest} is the database itself (${where}): give another file`, true);

  let db: Database.Database;
  try {
    db = new Database(source, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new BackupError(`cannot open ${where}: ${(err as Error).message}`, false);
  }
  const partial = `${dest}.partial-${process.pid}`;
  try {
    const version = schemaVersionOf(db);
    if (version === null) throw new BackupError(`${where} is not a SpO₂ database (no schema_migrations table)`, true);
    // Step one (0 pages) only opens the backup; the progress callback then asks for every
    // page at once: one read transaction, one instant.
    await db.backup(partial, { progress: () => 0x7fffffff });
  } catch (err) {
    rmSync(partial, { force: true });
    if (err instanceof BackupError) throw err;
    throw new BackupError(`backup of ${where} failed: ${(err as Error).message}`, false);
  } finally {
    db.close();
    keepOwner(source, stat);
  }

  try {
    const summary = finish(partial);
    renameSync(partial, dest);
    syncFolder(destFolder); // the rename itself survives a crash
    return { file: dest, bytes: statSync(dest).size, ...summary, ms: clock() - started };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err instanceof BackupError ? err : new BackupError(`backup of ${where} failed: ${(err as Error).message}`, false);
  }
}

/** Checks the copy, makes it one file, and says what it holds. */
function finish(file: string): Omit<BackupSummary, 'file' | 'bytes' | 'ms'> {
  const copy = new Database(file, { fileMustExist: true });
  try {
    const problems = (copy.pragma('integrity_check(5)') as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
    if (problems[0] !== 'ok') throw new BackupError(`the copy fails integrity_check: ${problems.join('; ')}`, false);
    // The copied header says WAL; a backup is one file to move around (SpO₂ turns WAL back on at start).
    copy.pragma('journal_mode = DELETE');
    const count = (sql: string) => copy.prepare(sql).pluck().get() as number;
    return {
      targets: count('SELECT COUNT(*) FROM targets'),
      pendingNotifications: count('SELECT COUNT(*) FROM outbox'),
      schemaVersion: schemaVersionOf(copy) ?? SCHEMA_VERSION,
    };
  } finally {
    copy.close();
  }
}

function schemaVersionOf(db: Database.Database): number | null {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!table) return null;
  return (db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck().get() as number);
}

/**
 * A reader of a WAL database creates its `-wal` and `-shm` files when they are missing (the
 * server is stopped) and leaves them. Made by root, SpO₂ — running as its own user — could
 * not open them at its next start: they go to the database's owner.
 */
function keepOwner(source: string, db: Stats): void {
  if (process.getuid?.() !== 0) return;
  for (const file of [`${source}-wal`, `${source}-shm`]) {
    const s = statSync(file, { throwIfNoEntry: false });
    if (s && (s.uid !== db.uid || s.gid !== db.gid)) chownSync(file, db.uid, db.gid);
  }
}

function syncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
