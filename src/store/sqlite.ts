import type Database from 'better-sqlite3';
import pino, { type Logger } from 'pino';
import type { Health } from '../core/health.js';
import { planCanonicalUrls } from './canonical-urls.js';
import { StoreAvailability } from './availability.js';
import { freeBytes, isStorageError, storeErrorOf } from './sqlite-errors.js';
import { openDatabase, WRITE_CHECK_SQL } from './sqlite-open.js';
import type { Store, StoredTarget, StoreUnavailableError, UpsertResult, UrlCleanup } from './ports.js';

type Write = () => unknown;

export interface SqliteStoreOptions {
  /** Where storage trouble is logged (once when it starts, once when it ends). */
  logger?: Logger;
  /** How often a write check runs while the storage is in trouble. */
  recheckMs?: number;
}

/** Every few seconds: recovery shows on /healthz soon, and the check costs one tiny commit. */
const RECHECK_MS = 2_000;

/** Free space that ends a disk-full trouble: room for a few writes, so it does not flap at the edge. */
const ROOM_AFTER_DISK_FULL = 256 * 1024;

interface Pending {
  write: Write;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * SQLite in WAL mode with synchronous=FULL: a commit is on disk when it returns.
 * Writes queued in the same turn of the event loop share one transaction and one fsync
 * (group commit), which is what lets many concurrent registrations stay durable and fast.
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private queue: Pending[] = [];
  private scheduled = false;
  private closed = false;
  private readonly stmts;
  private readonly availability: StoreAvailability;

  /** Throws StoreUnavailableError when the database cannot be used (see openDatabase). */
  constructor(
    private readonly path: string,
    options: SqliteStoreOptions = {},
  ) {
    this.db = openDatabase(path);
    this.availability = new StoreAvailability({
      logger: options.logger ?? pino({ enabled: false }),
      recheckMs: options.recheckMs ?? RECHECK_MS,
      check: () => this.enqueue(() => this.stmts.writeCheck.run(String(Date.now()))),
      // A small commit can fit in space SQLite already holds (the tail of a WAL write that
      // failed): a full disk is over once the file system has room again, not at once.
      over: (trouble) => trouble.kind !== 'disk-full' || (freeBytes(path) ?? Infinity) >= ROOM_AFTER_DISK_FULL,
    });
    this.stmts = {
      writeCheck: this.db.prepare(WRITE_CHECK_SQL),
      all: this.db.prepare('SELECT id, url, data, created_at, health FROM targets ORDER BY id'),
      find: this.db.prepare('SELECT id, created_at, data FROM targets WHERE url = ?'),
      insert: this.db.prepare('INSERT INTO targets (url, data, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id'),
      update: this.db.prepare('UPDATE targets SET data = ?, updated_at = ? WHERE id = ?'),
      updateByUrl: this.db.prepare('UPDATE targets SET data = ?, updated_at = ? WHERE url = ?'),
      remove: this.db.prepare('DELETE FROM targets WHERE url = ?'),
      health: this.db.prepare('UPDATE targets SET health = ? WHERE id = ?'),
    };
  }

  /**
   * Start-up step, before `loadTargets`: rewrites URLs stored before they were canonical
   * (and masks stored credentials), drops the newer of two that become one, and points
   * their pending notifications at the canonical URL. One transaction: all or nothing.
   */
  async canonicaliseUrls(): Promise<UrlCleanup> {
    return this.db.transaction(() => {
      const rows = this.db.prepare('SELECT id, url FROM targets ORDER BY id').all() as Array<{ id: number; url: string }>;
      const plan = planCanonicalUrls(rows);
      if (plan.rewritten.length === 0 && plan.removed.length === 0) return plan;
      const renamed = new Map<string, string>(plan.rewritten.map((r) => [r.from, r.to]));
      // Removals first: a kept row's new URL may still be held by a row that goes.
      const remove = this.db.prepare('DELETE FROM targets WHERE id = ? RETURNING url, data');
      for (const d of plan.removed) {
        const row = remove.get(d.id) as { url: string; data: string };
        renamed.set(row.url, d.url);
        d.data = JSON.parse(row.data) as unknown;
      }
      const rename = this.db.prepare('UPDATE targets SET url = ? WHERE id = ?');
      for (const r of plan.rewritten) rename.run(r.to, r.id);
      const outbox = this.db.prepare('SELECT id, url FROM outbox').all() as Array<{ id: number; url: string }>;
      const point = this.db.prepare("UPDATE outbox SET url = ?, event = json_set(event, '$.url', ?) WHERE id = ?");
      for (const o of outbox) {
        const to = renamed.get(o.url);
        if (to !== undefined) point.run(to, to, o.id);
      }
      return plan;
    })();
  }

  async loadTargets(): Promise<StoredTarget[]> {
    const rows = this.stmts.all.all() as Array<{ id: number; url: string; data: string; created_at: number; health: string | null }>;
    return rows.map((r) => ({
      id: r.id,
      url: r.url,
      data: JSON.parse(r.data) as unknown,
      createdAt: r.created_at,
      health: r.health ? (JSON.parse(r.health) as Health) : null,
    }));
  }

  upsertTarget(url: string, data: unknown, now: number): Promise<UpsertResult> {
    const json = data === undefined ? null : JSON.stringify(data);
    return this.enqueue(() => {
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
    return this.enqueue(() => this.stmts.updateByUrl.run(json, now, url).changes > 0);
  }

  deleteTarget(url: string): Promise<boolean> {
    return this.enqueue(() => this.stmts.remove.run(url).changes > 0);
  }

  saveHealth(items: ReadonlyArray<{ id: number; health: Health }>): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return this.enqueue(() => {
      for (const { id, health } of items) this.stmts.health.run(JSON.stringify(health), id);
    });
  }

  trouble(): StoreUnavailableError | null {
    return this.availability.current;
  }

  /** Runs `write` inside the next group transaction; resolves with its result after commit. */
  enqueue<T>(write: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ write, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const results: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = [];
    try {
      this.db.transaction(() => {
        for (const p of batch) {
          // A write that fails (a constraint, bad data) fails alone; the batch still commits.
          this.db.exec('SAVEPOINT w');
          try {
            results.push({ ok: true, value: p.write() });
            this.db.exec('RELEASE w');
          } catch (err) {
            // Storage trouble fails the whole batch: SQLite may have rolled it all back already.
            if (!this.db.inTransaction || isStorageError(err)) throw err;
            this.db.exec('ROLLBACK TO w');
            this.db.exec('RELEASE w');
            results.push({ ok: false, err });
          }
        }
      })();
    } catch (err) {
      // The commit itself failed (disk full, I/O error): nothing in the batch is durable.
      const trouble = storeErrorOf(err, this.path);
      if (trouble) this.availability.failed(trouble);
      for (const p of batch) p.reject(trouble ?? err);
      return;
    }
    this.availability.succeeded();
    batch.forEach((p, i) => {
      const r = results[i]!;
      if (r.ok) p.resolve(r.value);
      else p.reject(r.err);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.availability.stop();
    this.db.close();
  }
}
