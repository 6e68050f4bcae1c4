import type { Destination, NotifyEvent } from '../notify/event.js';
import type { Outbox, OutboxEntry } from '../notify/outbox.js';
import type { SqliteStore } from './sqlite.js';

/**
 * The outbox in the SQLite store. Writes go through the store's group commit, so an event
 * lands in the same transaction as the health change that emitted it.
 */
export class SqliteOutbox implements Outbox {
  private readonly stmts;

  constructor(private readonly store: SqliteStore) {
    const db = store.db;
    this.stmts = {
      insert: db.prepare('INSERT INTO outbox (destination, url, event, created_at) VALUES (?, ?, ?, ?)'),
      pending: db.prepare('SELECT id, destination, event FROM outbox WHERE destination = ? ORDER BY id'),
      remove: db.prepare('DELETE FROM outbox WHERE id = ?'),
      counts: db.prepare('SELECT destination, COUNT(*) AS n FROM outbox GROUP BY destination'),
    };
  }

  add(event: NotifyEvent, destinations: readonly Destination[]): Promise<OutboxEntry[]> {
    const json = JSON.stringify(event);
    const now = Date.now();
    return this.store.enqueue(() =>
      destinations.map((destination) => ({ id: Number(this.stmts.insert.run(destination, event.url, json, now).lastInsertRowid), destination, event })),
    );
  }

  async pending(destination: Destination): Promise<OutboxEntry[]> {
    const rows = this.stmts.pending.all(destination) as Array<{ id: number; destination: Destination; event: string }>;
    return rows.map((r) => ({ id: r.id, destination: r.destination, event: JSON.parse(r.event) as NotifyEvent }));
  }

  delivered(ids: readonly number[]): Promise<void> {
    const stored = ids.filter((id) => id > 0);
    if (stored.length === 0) return Promise.resolve();
    return this.store.enqueue(() => {
      for (const id of stored) this.stmts.remove.run(id);
    });
  }

  async counts(): Promise<Record<string, number>> {
    const rows = this.stmts.counts.all() as Array<{ destination: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.destination, r.n]));
  }
}
