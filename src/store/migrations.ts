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
];
