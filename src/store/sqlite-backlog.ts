import type Database from 'better-sqlite3';

/** Undelivered notification events of one destination. */
export interface DestinationBacklog {
  pending: number;
  /** When the oldest of them was stored (ms since the epoch); null when none wait. */
  oldestAt: number | null;
}

/**
 * What the outbox holds, per destination, for /healthz. Cheap enough to ask on every
 * health check: counting and finding the first id walk the (destination, id) index only,
 * and the oldest row is then read by its id.
 */
export class OutboxBacklog {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      groups: db.prepare('SELECT destination, COUNT(*) AS pending, MIN(id) AS first FROM outbox GROUP BY destination'),
      createdAt: db.prepare('SELECT created_at FROM outbox WHERE id = ?').pluck(),
    };
  }

  read(): Record<string, DestinationBacklog> {
    const rows = this.stmts.groups.all() as Array<{ destination: string; pending: number; first: number }>;
    return Object.fromEntries(rows.map((r) => [r.destination, { pending: r.pending, oldestAt: (this.stmts.createdAt.get(r.first) as number | undefined) ?? null }]));
  }
}
