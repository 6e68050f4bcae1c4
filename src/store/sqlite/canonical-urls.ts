import type Database from 'better-sqlite3';
import { planCanonicalUrls } from '../canonical-urls.js';
import type { UrlCleanup } from '../ports.js';

/**
 * Applies the canonical-URL plan to a SQLite database in one transaction: all or nothing.
 * Pending notifications follow their target to its canonical URL.
 */
export function canonicaliseUrls(db: Database.Database): UrlCleanup {
  return db.transaction(() => {
    const rows = db.prepare('SELECT id, url FROM targets ORDER BY id').all() as Array<{ id: number; url: string }>;
    const plan = planCanonicalUrls(rows);
    if (plan.rewritten.length === 0 && plan.removed.length === 0) return plan;
    const renamed = new Map<string, string>(plan.rewritten.map((r) => [r.from, r.to]));
    // Removals first: a kept row's new URL may still be held by a row that goes.
    const remove = db.prepare('DELETE FROM targets WHERE id = ? RETURNING url, data');
    for (const d of plan.removed) {
      const row = remove.get(d.id) as { url: string; data: string };
      renamed.set(row.url, d.url);
      d.data = JSON.parse(row.data) as unknown;
    }
    const rename = db.prepare('UPDATE targets SET url = ? WHERE id = ?');
    for (const r of plan.rewritten) rename.run(r.to, r.id);
    const outbox = db.prepare('SELECT id, url FROM outbox').all() as Array<{ id: number; url: string }>;
    const point = db.prepare("UPDATE outbox SET url = ?, event = json_set(event, '$.url', ?) WHERE id = ?");
    for (const o of outbox) {
      const to = renamed.get(o.url);
      if (to !== undefined) point.run(to, to, o.id);
    }
    return plan;
  })();
}
