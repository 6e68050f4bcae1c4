/**
 * Versioned schema migrations, applied in order at start-up inside one transaction each.
 * Append only: a released migration is never edited.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'targets',
    sql: `
      CREATE TABLE targets (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        url         TEXT    NOT NULL UNIQUE,
        data        TEXT    NOT NULL DEFAULT 'null',
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        health      TEXT
      );
    `,
  },
  {
    version: 2,
    name: 'outbox',
    // Notification events wait here, one row per destination, until that destination
    // answered 2xx: a Slack outage or a kill -9 loses none of them.
    sql: `
      CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        destination TEXT    NOT NULL,
        url         TEXT    NOT NULL,
        event       TEXT    NOT NULL,
        created_at  INTEGER NOT NULL
      );
      CREATE INDEX outbox_by_destination ON outbox (destination, id);
    `,
  },
  {
    version: 3,
    name: 'store_meta',
    // The store's own facts; the write check rewrites one row of it to prove the storage
    // takes writes (at start-up, and every few seconds while it does not).
    sql: `
      CREATE TABLE store_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
];
