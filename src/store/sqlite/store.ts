import pino, { type Logger } from 'pino';
import type { Destination, NotifyEvent } from '../../core/notify-event.js';
import { RECHECK_MS } from '../availability.js';
import { type Added, type HealthUpdate, OUTBOX_LIMIT, type Store, type StoredTarget, type StoreUnavailableError, type UpsertResult, type UrlCleanup } from '../ports.js';
import { storedTarget, type TargetRecord } from '../rows.js';
import { canonicaliseUrls } from './canonical-urls.js';
import { GroupCommit } from './commit.js';
import { openDatabase } from './open.js';
import { SqliteOutbox } from './outbox.js';

export interface SqliteStoreOptions {
  /** Where storage trouble is logged (once when it starts, once when it ends). */
  logger?: Logger;
  /** How often a write check runs while the storage is in trouble. */
  recheckMs?: number;
  /** Most undelivered events kept per destination (SPO2_OUTBOX_LIMIT). */
  outboxLimit?: number;
}

/**
 * The embedded default engine: SQLite in WAL mode with synchronous=FULL, so a commit is
 * on disk when it returns. Every write goes through the group commit (commit.ts).
 */
export class SqliteStore implements Store {
  readonly outbox: SqliteOutbox;
  private readonly commit: GroupCommit;
  private readonly stmts;

  /** Throws StoreUnavailableError when the database cannot be used (see openDatabase). */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    const logger = options.logger ?? pino({ enabled: false });
    // An upgrade is worth a line (a roll-back then needs the backup); a new file is not.
    const db = openDatabase(path, ({ from, to }) => { if (from > 0) logger.info({ from, to, database: path }, `database schema migrated from version ${from} to ${to}`); });
    this.commit = new GroupCommit(db, { path, logger, recheckMs: options.recheckMs ?? RECHECK_MS });
    this.outbox = new SqliteOutbox(this.commit, options.outboxLimit ?? OUTBOX_LIMIT);
    this.stmts = {
      all: db.prepare('SELECT id, url, data, created_at, health FROM targets ORDER BY id'),
      find: db.prepare('SELECT id, created_at, data FROM targets WHERE url = ?'),
      insert: db.prepare('INSERT INTO targets (url, data, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id'),
      update: db.prepare('UPDATE targets SET data = ?, updated_at = ? WHERE id = ?'),
      updateByUrl: db.prepare('UPDATE targets SET data = ?, updated_at = ? WHERE url = ?'),
      remove: db.prepare('DELETE FROM targets WHERE url = ?'),
      health: db.prepare('UPDATE targets SET health = ? WHERE id = ?'),
    };
  }

  async canonicaliseUrls(): Promise<UrlCleanup> {
    return canonicaliseUrls(this.commit.db);
  }

  async loadTargets(): Promise<StoredTarget[]> {
    return (this.stmts.all.all() as TargetRecord[]).map(storedTarget);
  }

  upsertTarget(url: string, data: unknown, now: number): Promise<UpsertResult> {
    const json = data === undefined ? null : JSON.stringify(data);
    return this.commit.enqueue(() => {
      const existing = this.stmts.find.get(url) as { id: number; created_at: number; data: string } | undefined;
      if (existing) {
        if (json === null) return { id: existing.id, created: false, createdAt: existing.created_at, data: JSON.parse(existing.data) as unknown };
        this.stmts.update.run(json, now, existing.id);
        return { id: existing.id, created: false, createdAt: existing.created_at, data };
      }
      const row = this.stmts.insert.get(url, json ?? 'null', now, now) as { id: number };
      return { id: row.id, created: true, createdAt: now, data: data ?? null };
    });
  }

  updateData(url: string, data: unknown, now: number): Promise<boolean> {
    const json = JSON.stringify(data ?? null);
    return this.commit.enqueue(() => this.stmts.updateByUrl.run(json, now, url).changes > 0);
  }

  deleteTarget(url: string): Promise<boolean> {
    return this.commit.enqueue(() => this.stmts.remove.run(url).changes > 0);
  }

  saveHealth(items: readonly HealthUpdate[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return this.commit.enqueue(() => {
      for (const { id, health } of items) this.stmts.health.run(JSON.stringify(health), id);
    });
  }

  recordTransition(update: HealthUpdate, event: NotifyEvent, destinations: readonly Destination[]): Promise<Added> {
    // The health as it is now: the monitor goes on updating its object in place.
    const health = JSON.stringify(update.health);
    // One write, so one savepoint: the health and the outbox rows commit (or fail) together.
    return this.outbox.write(() => {
      this.stmts.health.run(health, update.id);
      return this.outbox.insert(event, destinations);
    });
  }

  trouble(): StoreUnavailableError | null {
    return this.commit.trouble();
  }

  async close(): Promise<void> {
    this.commit.close();
    if (this.commit.db.open) this.commit.db.close();
  }
}
