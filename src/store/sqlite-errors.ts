import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from './store.js';

/** What a SQLite result code says about the storage; `lasting`: no retry can mend it. */
const KINDS: ReadonlyArray<{ code: string; reason: string; lasting?: boolean }> = [
  { code: 'SQLITE_FULL', reason: 'disk full' },
  // The file was renamed or deleted under the open connection: only a restart finds it again.
  { code: 'SQLITE_READONLY_DBMOVED', reason: 'database file was moved or deleted while in use', lasting: true },
  { code: 'SQLITE_READONLY', reason: 'database is read-only' },
  { code: 'SQLITE_PERM', reason: 'database is read-only (permission denied)' },
  { code: 'SQLITE_IOERR', reason: 'I/O error on the database file' },
  { code: 'SQLITE_CORRUPT', reason: 'database file is corrupted', lasting: true },
  { code: 'SQLITE_NOTADB', reason: 'file is not a SQLite database', lasting: true },
  { code: 'SQLITE_CANTOPEN', reason: 'cannot open the database file' },
  // busy_timeout (5 s) has passed: another process holds the write lock.
  { code: 'SQLITE_BUSY', reason: 'database is locked by another process' },
  { code: 'SQLITE_LOCKED', reason: 'database is locked by another process' },
  { code: 'SQLITE_PROTOCOL', reason: 'database locking failed' },
];

/** Less free space than this is a full disk: SQLite writes whole pages (4 KiB) and WAL frames. */
const NEARLY_FULL_BYTES = 64 * 1024;

/** True when `err` is trouble of the storage rather than of one write (a constraint, bad data). */
export function isStorageError(err: unknown): boolean {
  return err instanceof StoreUnavailableError || (err instanceof Database.SqliteError && kindOf(err.code) !== undefined);
}

/**
 * The one place that turns SQLite's errors into StoreUnavailableError; null for an error
 * that is not the storage's. An I/O error is looked into: SQLite reports EROFS and most
 * ENOSPC cases as a bare SQLITE_IOERR_*, so the file system is asked what is wrong.
 */
export function storeErrorOf(err: unknown, path: string): StoreUnavailableError | null {
  if (err instanceof StoreUnavailableError) return err;
  if (!(err instanceof Database.SqliteError)) return null;
  const kind = kindOf(err.code);
  if (!kind) return null;
  const where = `DATABASE_PATH=${path}`;
  const reason = kind.code === 'SQLITE_IOERR' ? (diagnose(path) ?? `${kind.reason} (${err.code})`) : kind.reason;
  return new StoreUnavailableError(reason, where, kind.lasting ?? false, { cause: err });
}

function kindOf(code: string): (typeof KINDS)[number] | undefined {
  return KINDS.find((k) => code === k.code || code.startsWith(k.code + '_'));
}

/** Why writing the database fails, as far as the file system tells; null when it does not. */
function diagnose(path: string): string | null {
  const folder = dirname(path);
  try {
    const fs = statfsSync(folder);
    if (fs.bavail * fs.bsize < NEARLY_FULL_BYTES) return 'disk full';
  } catch {
    // No answer from statfs is no diagnosis; the SQLite code still says it was an I/O error.
  }
  try {
    accessSync(existsSync(path) ? path : folder, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return 'database is read-only (the file system is mounted read-only)';
    if (code === 'EACCES' || code === 'EPERM') return 'database is read-only (permission denied)';
  }
  return null;
}
