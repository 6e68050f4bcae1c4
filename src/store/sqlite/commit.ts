import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { StoreAvailability } from '../availability.js';
import type { StoreUnavailableError } from '../ports.js';
import { freeBytes, isStorageError, storeErrorOf } from './errors.js';
import { WRITE_CHECK_SQL } from './open.js';

type Write = () => unknown;

interface Pending {
  write: Write;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitOptions {
  /** DATABASE_PATH, for the messages and the free-space check. */
  path: string;
  /** Where storage trouble is logged (once when it starts, once when it ends). */
  logger: Logger;
  /** How often a write check runs while the storage is in trouble. */
  recheckMs: number;
}

/** Free space that ends a disk-full trouble: room for a few writes, so it does not flap at the edge. */
const ROOM_AFTER_DISK_FULL = 256 * 1024;

/**
 * The SQLite engine's one way to write: writes queued in the same turn of the event loop
 * share one transaction and one fsync (group commit), which is what lets many concurrent
 * registrations stay durable and fast. Each write runs in its own savepoint, so one that
 * fails (a constraint, bad data) fails alone; storage trouble fails the batch and is
 * tracked for /healthz. Internal to this folder: other modules see the ports only.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private closed = false;
  private readonly availability: StoreAvailability;

  constructor(readonly db: Database.Database, private readonly opts: GroupCommitOptions) {
    const writeCheck = db.prepare(WRITE_CHECK_SQL);
    this.availability = new StoreAvailability({
      logger: opts.logger,
      recheckMs: opts.recheckMs,
      check: () => this.enqueue(() => writeCheck.run(String(Date.now()))),
      // A small commit can fit in space SQLite already holds (the tail of a WAL write that
      // failed): a full disk is over once the file system has room again, not at once.
      over: (trouble) => trouble.kind !== 'disk-full' || (freeBytes(opts.path) ?? Infinity) >= ROOM_AFTER_DISK_FULL,
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

  /** Commits what is queued, then refuses further writes. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.availability.stop();
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const db = this.db;
    const results: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = [];
    try {
      db.transaction(() => {
        for (const p of batch) {
          db.exec('SAVEPOINT w');
          try {
            results.push({ ok: true, value: p.write() });
            db.exec('RELEASE w');
          } catch (err) {
            // Storage trouble fails the whole batch: SQLite may have rolled it all back already.
            if (!db.inTransaction || isStorageError(err)) throw err;
            db.exec('ROLLBACK TO w');
            db.exec('RELEASE w');
            results.push({ ok: false, err });
          }
        }
      })();
    } catch (err) {
      // The commit itself failed (disk full, I/O error): nothing in the batch is durable.
      const trouble = storeErrorOf(err, this.opts.path);
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
}
