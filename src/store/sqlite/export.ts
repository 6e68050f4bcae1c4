import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CopyError, type DatabaseCopy, type OutboxRow, type TargetRow } from '../copy.js';
import { BackupError, backupDatabase } from './backup.js';
import { SCHEMA_VERSION } from './open.js';

/**
 * Every row of the database at `source`, as it was at one instant: read from an online
 * backup (./backup.ts) taken into a temporary folder, so a server still running on the file
 * is neither blocked nor caught half-way through a write, and the rows come from a copy that
 * passed integrity_check. The temporary copy is removed before this returns.
 */
export async function exportDatabase(source: string): Promise<DatabaseCopy> {
  const dir = mkdtempSync(join(tmpdir(), 'spo2-migrate-'));
  try {
    const file = join(dir, 'spo2.db');
    try {
      await backupDatabase(source, file);
    } catch (err) {
      if (err instanceof BackupError) throw new CopyError(err.message, err.usage);
      throw err;
    }
    return readCopy(file, `DATABASE_PATH=${source}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readCopy(file: string, where: string): DatabaseCopy {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.transaction(() => {
      const version = db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck().get() as number;
      // Copying column for column is right only between schemas of the same version.
      if (version < SCHEMA_VERSION) {
        throw new CopyError(`${where} has schema version ${version}, and this SpO₂ copies version ${SCHEMA_VERSION}: start this SpO₂ once on it (it migrates the file at start), stop it, then run spo2 migrate again`, true);
      }
      if (version > SCHEMA_VERSION) {
        throw new CopyError(`${where} has schema version ${version}, written by a newer SpO₂ (this one knows up to ${SCHEMA_VERSION}): run spo2 migrate of that newer version`, true);
      }
      const targets = db.prepare(`SELECT id, url, data, created_at AS createdAt, updated_at AS updatedAt, health
        FROM targets ORDER BY id`).all() as TargetRow[];
      const outbox = db.prepare(`SELECT id, destination, url, event, created_at AS createdAt
        FROM outbox ORDER BY id`).all() as OutboxRow[];
      // AUTOINCREMENT keeps the highest id ever given in sqlite_sequence, which can be past
      // the highest one left (the newest target was removed since).
      const seq = new Map((db.prepare('SELECT name, seq FROM sqlite_sequence').all() as Array<{ name: string; seq: number }>).map((r) => [r.name, r.seq]));
      const last = (table: string, rows: Array<{ id: number }>) => Math.max(seq.get(table) ?? 0, rows.at(-1)?.id ?? 0);
      return { schemaVersion: version, targets, outbox, lastIds: { targets: last('targets', targets), outbox: last('outbox', outbox) } };
    })();
  } finally {
    db.close();
  }
}
