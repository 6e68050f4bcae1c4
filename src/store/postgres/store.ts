import type { Destination, NotifyEvent } from '../../core/notify-event.js';
import type { Added, HealthUpdate, Store, StoredTarget, StoreUnavailableError, UpsertResult, UrlCleanup } from '../ports.js';
import { storedTarget, type TargetRecord } from '../rows.js';
import { canonicaliseUrls } from './canonical-urls.js';
import { type GroupCommit, run, sql } from './commit.js';
import { PgOutbox } from './outbox.js';

const SQL = {
  all: sql('targets-all', 'SELECT id, url, data, created_at, health FROM targets ORDER BY id'),
  // A new URL, or nothing: an existing target keeps its data (read by `find` in the same transaction).
  add: sql('targets-add', `INSERT INTO targets (url, data, created_at, updated_at) VALUES ($1, 'null', $2, $2)
    ON CONFLICT (url) DO NOTHING RETURNING id`),
  find: sql('targets-find', 'SELECT id, created_at, data FROM targets WHERE url = $1'),
  // xmax is 0 on a row this statement inserted, set on one it updated: created or not, in one round trip.
  put: sql('targets-put', `INSERT INTO targets (url, data, created_at, updated_at) VALUES ($1, $2, $3, $3)
    ON CONFLICT (url) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at
    RETURNING id, created_at, (xmax = 0) AS created`),
  updateByUrl: sql('targets-update-data', 'UPDATE targets SET data = $1, updated_at = $2 WHERE url = $3'),
  remove: sql('targets-remove', 'DELETE FROM targets WHERE url = $1'),
  health: sql('targets-health', 'UPDATE targets SET health = $1 WHERE id = $2'),
  // The periodic flush: a slice of targets in one statement, their ids and healths as two arrays.
  healths: sql('targets-healths', `UPDATE targets AS t SET health = v.health
    FROM unnest($1::bigint[], $2::text[]) AS v(id, health) WHERE t.id = v.id`),
};

/**
 * PostgreSQL, for deployments that outgrow one machine's disk (DATABASE_URL). The same
 * contract as SQLite: every write resolves after COMMIT (group commit, commit.ts), a
 * transition is one transaction, the periodic flush is one statement per slice.
 */
export class PostgresStore implements Store {
  readonly outbox: PgOutbox;

  /** Use openPostgresStore (open.ts): it waits for the server and migrates first. */
  constructor(private readonly commit: GroupCommit, outboxLimit: number) {
    this.outbox = new PgOutbox(commit, outboxLimit);
  }

  canonicaliseUrls(): Promise<UrlCleanup> {
    return this.commit.enqueue((client) => canonicaliseUrls(client));
  }

  async loadTargets(): Promise<StoredTarget[]> {
    const rows = await this.commit.read<TargetRecord>(SQL.all);
    return rows.map(storedTarget);
  }

  upsertTarget(url: string, data: unknown, now: number): Promise<UpsertResult> {
    if (data === undefined) {
      return this.commit.enqueue(async (client) => {
        const { rows: [added] } = await run<{ id: number }>(client, SQL.add, [url, now]);
        if (added) return { id: added.id, created: true, createdAt: now, data: null };
        const { rows: [found] } = await run<{ id: number; created_at: number; data: string }>(client, SQL.find, [url]);
        return { id: found!.id, created: false, createdAt: found!.created_at, data: JSON.parse(found!.data) as unknown };
      });
    }
    const json = JSON.stringify(data);
    return this.commit.enqueue(async (client) => {
      const { rows: [row] } = await run<{ id: number; created_at: number; created: boolean }>(client, SQL.put, [url, json, now]);
      return { id: row!.id, created: row!.created, createdAt: row!.created_at, data };
    });
  }

  updateData(url: string, data: unknown, now: number): Promise<boolean> {
    const json = JSON.stringify(data ?? null);
    return this.commit.enqueue(async (client) => ((await run(client, SQL.updateByUrl, [json, now, url])).rowCount ?? 0) > 0);
  }

  deleteTarget(url: string): Promise<boolean> {
    return this.commit.enqueue(async (client) => ((await run(client, SQL.remove, [url])).rowCount ?? 0) > 0);
  }

  saveHealth(items: readonly HealthUpdate[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    // Serialised now: the monitor goes on updating its health objects in place.
    const ids = items.map((i) => i.id);
    const healths = items.map((i) => JSON.stringify(i.health));
    return this.commit.enqueue(async (client) => { await run(client, SQL.healths, [ids, healths]); });
  }

  recordTransition(update: HealthUpdate, event: NotifyEvent, destinations: readonly Destination[]): Promise<Added> {
    let health: string;
    let json: string;
    try {
      health = JSON.stringify(update.health);
      json = JSON.stringify(event);
    } catch (err) {
      return Promise.reject(err);
    }
    // One write, so one transaction: the health and the outbox rows commit (or fail) together.
    return this.outbox.write(async (client) => {
      await run(client, SQL.health, [health, update.id]);
      return this.outbox.insert(client, event, json, destinations);
    });
  }

  trouble(): StoreUnavailableError | null {
    return this.commit.trouble();
  }

  close(): Promise<void> {
    return this.commit.close();
  }
}
