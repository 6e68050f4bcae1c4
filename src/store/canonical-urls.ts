import type { Logger } from 'pino';
import { canonicalUrl } from '../core/url.js';
import type { UrlCleanup } from './ports.js';

/**
 * Plans the canonicalisation of stored targets, given in id order: each URL becomes its
 * canonical form (credentials masked); of several that become the same URL the oldest (lowest
 * id) stays, keeping its id, data and state, and the others go. Pure: the store applies it.
 */
export function planCanonicalUrls(rows: ReadonlyArray<{ id: number; url: string }>): UrlCleanup {
  const kept = new Map<string, number>();
  const plan: UrlCleanup = { rewritten: [], removed: [], unparsable: [] };
  for (const row of rows) {
    const url = canonicalUrl(row.url);
    if (url === null) {
      plan.unparsable.push(row.id);
      continue;
    }
    const keptId = kept.get(url);
    if (keptId !== undefined) {
      plan.removed.push({ id: row.id, url, keptId });
      continue;
    }
    kept.set(url, row.id);
    if (url !== row.url) plan.rewritten.push({ id: row.id, from: row.url, to: url });
  }
  return plan;
}

/** One summary line for the rewrites, one warning per removed duplicate; no old spelling is logged (it may hold a password). */
export function logUrlCleanup(cleanup: UrlCleanup, logger: Pick<Logger, 'info' | 'warn'>): void {
  const { rewritten, removed, unparsable } = cleanup;
  if (rewritten.length > 0) {
    // Nothing with user info can be registered any more: a rewrite to one masked it.
    const masked = rewritten.filter((r) => hasUserInfo(r.to)).length;
    logger.info({ rewritten: rewritten.length, credentialsMasked: masked, examples: rewritten.slice(0, 5).map((r) => ({ id: r.id, url: r.to })) },
      'stored URLs rewritten to their canonical form');
  }
  for (const d of removed) {
    logger.warn({ id: d.id, url: d.url, keptId: d.keptId, data: d.data }, 'removed a stored target: an older one has the same canonical URL');
  }
  if (unparsable.length > 0) logger.warn({ ids: unparsable.slice(0, 20), count: unparsable.length }, 'stored URLs that do not parse were left as they are');
}

function hasUserInfo(url: string): boolean {
  const parsed = new URL(url);
  return parsed.username !== '' || parsed.password !== '';
}
