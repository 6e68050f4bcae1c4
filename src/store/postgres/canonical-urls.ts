import type pg from 'pg';
import { planCanonicalUrls } from '../canonical-urls.js';
import type { UrlCleanup } from '../ports.js';

/**
 * Applies the canonical-URL plan inside a write (one transaction: all or nothing), as on
 * SQLite (../sqlite/canonical-urls.ts). Pending notifications follow their target to its
 * canonical URL. Start-up only: plain statements, not prepared ones.
 */
export async function canonicaliseUrls(client: pg.PoolClient): Promise<UrlCleanup> {
  const { rows } = await client.query<{ id: number; url: string }>('SELECT id, url FROM targets ORDER BY id');
  const plan = planCanonicalUrls(rows);
  if (plan.rewritten.length === 0 && plan.removed.length === 0) return plan;
  const renamed = new Map<string, string>(plan.rewritten.map((r) => [r.from, r.to]));
  // Removals first: a kept row's new URL may still be held by a row that goes.
  for (const d of plan.removed) {
    const { rows: [row] } = await client.query<{ url: string; data: string }>('DELETE FROM targets WHERE id = $1 RETURNING url, data', [d.id]);
    renamed.set(row!.url, d.url);
    d.data = JSON.parse(row!.data) as unknown;
  }
  for (const r of plan.rewritten) await client.query('UPDATE targets SET url = $1 WHERE id = $2', [r.to, r.id]);
  const { rows: outbox } = await client.query<{ id: number; url: string; event: string }>('SELECT id, url, event FROM outbox WHERE url = ANY($1::text[])', [[...renamed.keys()]]);
  for (const o of outbox) {
    const to = renamed.get(o.url)!;
    // The event is rewritten in JavaScript, not with jsonb_set: JSONB would reorder the keys of its data.
    const event = { ...(JSON.parse(o.event) as Record<string, unknown>), url: to };
    await client.query('UPDATE outbox SET url = $1, event = $2 WHERE id = $3', [to, JSON.stringify(event), o.id]);
  }
  return plan;
}
