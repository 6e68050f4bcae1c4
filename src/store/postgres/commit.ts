import type pg from 'pg';
import type { Logger } from 'pino';
import { StoreAvailability } from '../availability.js';
import type { StoreUnavailableError } from '../ports.js';
import { storeErrorOf } from './errors.js';

/** A named statement: prepared once per connection, then only its values travel. */
export interface Statement {
  name: string;
  text: string;
}

export const sql = (name: string, text: string): Statement => ({ name: `spo2-${name}`, text });

export function run<R extends pg.QueryResultRow = pg.QueryResultRow>(db: pg.ClientBase | pg.Pool, s: Statement, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  return db.query<R>({ name: s.name, text: s.text, values });
}

/** The write check: one tiny row, rewritten; it commits only when the database takes writes. */
export const WRITE_CHECK = sql('write-check', `INSERT INTO store_meta (key, value) VALUES ('write_check', $1)
  ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`);

/** A write: statements on the group's connection, inside its transaction. */
export type Write<T> = (client: pg.PoolClient) => Promise<T>;

interface Pending {
  write: Write<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitOptions {
  /** `DATABASE_URL=` with the password masked, for messages. */
  where: string;
  /** Where trouble is logged (once when it starts, once when it ends). */
  logger: Logger;
  /** How often the write check runs while the database is in trouble. */
  recheckMs: number;
}

/**
 * Most writes in one transaction: a burst of 10,000 registrations commits in slices, so no
 * transaction holds its locks (and the writers behind it) for long.
 */
const MAX_BATCH = 500;

/**
 * The PostgreSQL engine's one way to write, as on SQLite: the writes that arrive while a
 * transaction is in flight go together in the next one (group commit), one at a time, so
 * commits happen in the order the writes were asked for and each costs one round trip of
 * COMMIT and one WAL flush, whatever the number of writes in it. A write that fails for
 * itself (a constraint, bad data) aborts its transaction: the others then go again, each in
 * its own, so it fails alone — rare, so no savepoint (two round trips per write) is paid
 * for it. Trouble of the database fails the batch and is tracked for /healthz; while it
 * lasts, writes and reads fail at once and only the write check goes to the server, every
 * few seconds, until it commits. Internal to this folder: other modules see the ports only.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private draining: Promise<void> | null = null;
  private closed = false;
  private checking: Promise<void> | null = null;
  private readonly availability: StoreAvailability;
  private readonly rolledBack: Array<() => void> = [];

  constructor(readonly pool: pg.Pool, private readonly opts: GroupCommitOptions) {
    this.availability = new StoreAvailability({ logger: opts.logger, recheckMs: opts.recheckMs, check: () => this.check() });
    // An idle connection the server closed is the first sign of an outage (or of a restart):
    // look now, so /healthz says so before the next write finds out.
    pool.on('error', () => void this.check());
  }

  trouble(): StoreUnavailableError | null {
    return this.availability.current;
  }

  /** Runs `write` inside the next group transaction; resolves with its result after commit. */
  enqueue<T>(write: Write<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    const trouble = this.availability.current;
    if (trouble) return Promise.reject(trouble);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ write, resolve: resolve as (v: unknown) => void, reject });
      // The first write waits for the end of this turn, so the writes of the same turn join it.
      this.draining ??= new Promise<void>((done) => setImmediate(done)).then(() => this.drain());
    });
  }

  /** `fn` runs after every transaction that did not commit: what a write kept in memory is void. */
  onRollback(fn: () => void): void {
    this.rolledBack.push(fn);
  }

  /** A read on any connection of the pool; trouble is tracked as for writes. */
  async read<R extends pg.QueryResultRow>(s: Statement, values: unknown[] = []): Promise<R[]> {
    const trouble = this.availability.current;
    if (trouble) throw trouble;
    try {
      return (await run<R>(this.pool, s, values)).rows;
    } catch (err) {
      throw this.seen(err);
    }
  }

  /** Commits what is queued, then refuses further writes and closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.draining;
    this.availability.stop();
    await this.checking;
    await this.pool.end();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      const trouble = this.availability.current;
      if (trouble) for (const p of batch) p.reject(trouble);
      else await this.commit(batch);
    }
    this.draining = null;
  }

  private async commit(batch: Pending[]): Promise<void> {
    let values: unknown[];
    try {
      values = await this.transaction(async (client) => {
        const out: unknown[] = [];
        for (const p of batch) out.push(await p.write(client));
        return out;
      });
    } catch (err) {
      const trouble = storeErrorOf(err, this.opts.where);
      if (trouble) {
        this.availability.failed(trouble);
        for (const p of batch) p.reject(trouble);
      } else if (batch.length === 1) {
        batch[0]!.reject(err);
      } else {
        for (const p of batch) await this.commit([p]);
      }
      return;
    }
    this.availability.succeeded();
    batch.forEach((p, i) => p.resolve(values[i]));
  }

  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A rollback that fails means the connection is gone: it must not go back to the pool.
      await client.query('ROLLBACK').catch((rollbackErr: Error) => { broken = rollbackErr; });
      for (const fn of this.rolledBack) fn();
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Notes trouble in an error (and returns what to throw). */
  private seen(err: unknown): unknown {
    const trouble = storeErrorOf(err, this.opts.where);
    if (!trouble) return err;
    this.availability.failed(trouble);
    return trouble;
  }

  /** The write check, past the fail-fast: its outcome starts or ends the trouble. One at a time. */
  private check(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return (this.checking ??= run(this.pool, WRITE_CHECK, [String(Date.now())]).then(
      () => this.availability.succeeded(),
      (err: unknown) => {
        if (this.seen(err) === err) this.opts.logger.error({ err }, 'the database write check failed');
      },
    ).finally(() => { this.checking = null; }));
  }
}
