import type pg from 'pg';
import type { Destination, NotifyEvent } from '../../core/notify-event.js';
import { type Added, type DestinationBacklog, type Outbox, type OutboxEntry, StoreUnavailableError, type Trimmed } from '../ports.js';
import { type GroupCommit, run, sql, type Write } from './commit.js';

const SQL = {
  // One row per destination in one statement; unnest keeps the order of the array.
  insert: sql('outbox-insert', `INSERT INTO outbox (destination, url, event, created_at)
    SELECT d, $2, $3, $4 FROM unnest($1::text[]) WITH ORDINALITY AS x(d, n) ORDER BY n RETURNING id, destination`),
  pending: sql('outbox-pending', 'SELECT id, destination, event FROM outbox WHERE destination = $1 ORDER BY id'),
  remove: sql('outbox-remove', 'DELETE FROM outbox WHERE id = ANY($1::bigint[]) RETURNING destination'),
  counts: sql('outbox-counts', 'SELECT destination, count(*) AS n FROM outbox GROUP BY destination'),
  // Counting and finding the first id walk the (destination, id) index; the oldest row is then read by its id.
  backlog: sql('outbox-backlog', `SELECT b.destination, b.pending, o.created_at FROM
    (SELECT destination, count(*) AS pending, min(id) AS first FROM outbox GROUP BY destination) AS b
    JOIN outbox AS o ON o.id = b.first`),
  count: sql('outbox-count', 'SELECT count(*) AS n FROM outbox WHERE destination = $1'),
  nthOldest: sql('outbox-nth-oldest', 'SELECT id FROM outbox WHERE destination = $1 ORDER BY id LIMIT 1 OFFSET $2'),
  dropThrough: sql('outbox-drop-through', 'DELETE FROM outbox WHERE destination = $1 AND id <= $2'),
};

/**
 * The outbox in the PostgreSQL database, as on SQLite (../sqlite/outbox.ts): writes go
 * through the store's group commit, and the oldest events of a destination over `limit`
 * leave in the transaction that added events.
 */
export class PgOutbox implements Outbox {
  /**
   * Rows per destination, counted once and then kept in step, so the limit costs no count
   * per insert. Forgotten after any transaction that did not commit: the next use counts again.
   */
  private readonly sizes = new Map<string, number>();

  constructor(private readonly commit: GroupCommit, private readonly limit: number) {
    commit.onRollback(() => this.sizes.clear());
  }

  /** Stores the event once per destination and trims over the limit; inside a write (see PostgresStore.recordTransition). */
  async insert(client: pg.PoolClient, event: NotifyEvent, json: string, destinations: readonly Destination[]): Promise<Added> {
    if (destinations.length === 0) return { entries: [], trimmed: [] };
    for (const d of destinations) await this.size(client, d);
    const { rows } = await run<{ id: number; destination: Destination }>(client, SQL.insert, [destinations, event.url, json, Date.now()]);
    const entries = rows.map((r) => ({ id: r.id, destination: r.destination, event }));
    for (const d of destinations) this.sizes.set(d, this.sizes.get(d)! + 1);
    const trimmed: Trimmed[] = [];
    for (const d of destinations) {
      const t = await this.trimOne(client, d);
      if (t) trimmed.push(t);
    }
    return { entries, trimmed };
  }

  trim(): Promise<Trimmed[]> {
    return this.write(async (client) => {
      const { rows } = await run<{ destination: string }>(client, SQL.counts);
      const trimmed: Trimmed[] = [];
      for (const { destination } of rows) {
        const t = await this.trimOne(client, destination);
        if (t) trimmed.push(t);
      }
      return trimmed;
    });
  }

  async pending(destination: Destination): Promise<OutboxEntry[]> {
    const rows = await this.commit.read<{ id: number; destination: Destination; event: string }>(SQL.pending, [destination]);
    return rows.map((r) => ({ id: r.id, destination: r.destination, event: JSON.parse(r.event) as NotifyEvent }));
  }

  delivered(ids: readonly number[]): Promise<void> {
    const stored = ids.filter((id) => id > 0);
    if (stored.length === 0) return Promise.resolve();
    return this.write(async (client) => {
      const { rows } = await run<{ destination: string }>(client, SQL.remove, [stored]);
      for (const { destination } of rows) {
        const size = this.sizes.get(destination);
        if (size !== undefined) this.sizes.set(destination, size - 1);
      }
    });
  }

  async backlog(): Promise<Record<string, DestinationBacklog>> {
    let rows: Array<{ destination: string; pending: number; created_at: number }>;
    try {
      rows = await this.commit.read(SQL.backlog);
    } catch (err) {
      // For /healthz, which needs no credentials: the reason, not where the database is.
      if (err instanceof StoreUnavailableError) throw new Error(err.reason);
      throw err;
    }
    return Object.fromEntries(rows.map((r) => [r.destination, { pending: r.pending, oldestAt: r.created_at }]));
  }

  async counts(): Promise<Record<string, number>> {
    const rows = await this.commit.read<{ destination: string; n: number }>(SQL.counts);
    return Object.fromEntries(rows.map((r) => [r.destination, r.n]));
  }

  /** Deletes the oldest rows of a destination over the limit, to 1 % below it (see ../sqlite/outbox.ts for why). */
  private async trimOne(client: pg.PoolClient, destination: string): Promise<Trimmed | null> {
    const size = await this.size(client, destination);
    if (size <= this.limit) return null;
    const excess = size - (this.limit - Math.floor(this.limit / 100));
    const { rows: [last] } = await run<{ id: number }>(client, SQL.nthOldest, [destination, excess - 1]);
    const { rowCount } = await run(client, SQL.dropThrough, [destination, last!.id]);
    this.sizes.set(destination, size - (rowCount ?? 0));
    return { destination, count: rowCount ?? 0, throughId: last!.id };
  }

  private async size(client: pg.PoolClient, destination: string): Promise<number> {
    let n = this.sizes.get(destination);
    if (n === undefined) {
      n = (await run<{ n: number }>(client, SQL.count, [destination])).rows[0]!.n;
      this.sizes.set(destination, n);
    }
    return n;
  }

  /** A write through the group commit (a transaction that fails makes the sizes be counted again). */
  write<T>(fn: Write<T>): Promise<T> {
    return this.commit.enqueue(fn);
  }
}
