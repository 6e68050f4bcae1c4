import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError, type StoreTroubleKind } from '../ports.js';

/** What a SQLite result code says about the storage; `lasting`: no retry can mend it. */
const KINDS: ReadonlyArray<{ code: string; kind: StoreTroubleKind; reason: string; lasting?: boolean }> = [
  { code: 'SQLITE_FULL', kind: 'disk-full', reason: 'disk full' },
  // The file was renamed or deleted under the open connection: only a restart finds it again.
  { code: 'SQLITE_READONLY_DBMOVED', kind: 'read-only', reason: 'database file was moved or deleted while in use', lasting: true },
  { code: 'SQLITE_READONLY', kind: 'read-only', reason: 'database is read-only' },
  { code: 'SQLITE_PERM', kind: 'read-only', reason: 'database is read-only (permission denied)' },
  { code: 'SQLITE_IOERR', kind: 'io-error', reason: 'I/O error on the database file' },
  { code: 'SQLITE_CORRUPT', kind: 'corrupt', reason: 'database file is corrupted', lasting: true },
  { code: 'SQLITE_NOTADB', kind: 'corrupt', reason: 'file is not a SQLite database', lasting: true },
  { code: 'SQLITE_CANTOPEN', kind: 'cannot-open', reason: 'cannot open the database file' },
  // busy_timeout (5 s) has passed: another process holds the write lock.
  { code: 'SQLITE_BUSY', kind: 'locked', reason: 'database is locked by another process' },
  { code: 'SQLITE_LOCKED', kind: 'locked', reason: 'database is locked by another process' },
  { code: 'SQLITE_PROTOCOL', kind: 'locked', reason: 'database locking failed' },
];

/** Less free space than this is a full disk: SQLite writes whole pages (4 KiB) and WAL frames. */
const NEARLY_FULL_BYTES = 64 * 1024;

/** True when `err` is trouble of the storage rather than of one write (a constraint, bad data). */
export function isStorageError(err: unknown): boolean {
  return err instanceof StoreUnavailableError || (err instanceof Database.SqliteError && kindOf(err.code) !== undefined);
}

/**
 * The one place that turns SQLite's errors into StoreUnavailableError; null for an error
 * that is not the storage's. An I/O error or a file that cannot be opened is looked into:
 * SQLite reports EROFS and most ENOSPC cases as a bare SQLITE_IOERR_* or SQLITE_CANTOPEN,
 * so the file system is asked what is wrong.
 */
export function storeErrorOf(err: unknown, path: string): StoreUnavailableError | null {
  if (err instanceof StoreUnavailableError) return err;
  if (!(err instanceof Database.SqliteError)) return null;
  const kind = kindOf(err.code);
  if (!kind) return null;
  const where = `DATABASE_PATH=${path}`;
  const found = kind.kind === 'io-error' || kind.kind === 'cannot-open' ? diagnose(path) : null;
  if (found) return new StoreUnavailableError(found.kind, found.reason, where, false, { cause: err });
  const reason = kind.kind === 'io-error' ? `${kind.reason} (${err.code})` : kind.reason;
  return new StoreUnavailableError(kind.kind, reason, where, kind.lasting ?? false, { cause: err });
}

/** Free bytes on the file system holding `path`'s folder; null when it does not say. */
export function freeBytes(path: string): number | null {
  try {
    const fs = statfsSync(dirname(path));
    return fs.bavail * fs.bsize;
  } catch {
    return null; // no answer from statfs is no figure, not an error of the store
  }
}

function kindOf(code: string): (typeof KINDS)[number] | undefined {
  return KINDS.find((k) => code === k.code || code.startsWith(k.code + '_'));
}

/** Why writing the database fails, as far as the file system tells; null when it does not. */
function diagnose(path: string): { kind: StoreTroubleKind; reason: string } | null {
  const free = freeBytes(path);
  if (free !== null && free < NEARLY_FULL_BYTES) return { kind: 'disk-full', reason: 'disk full' };
  try {
    accessSync(existsSync(path) ? path : dirname(path), constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return { kind: 'read-only', reason: 'database is read-only (the file system is mounted read-only)' };
    if (code === 'EACCES' || code === 'EPERM') return { kind: 'read-only', reason: 'database is read-only (permission denied)' };
  }
  return null;
}
