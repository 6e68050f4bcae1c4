/** Pure text helpers of the dashboard: what a card says, computed without the DOM. */

export interface UrlParts {
  scheme: string;
  host: string;
  rest: string;
}

/** Splits a URL as written (not normalized) so the host can be highlighted. */
export function splitUrl(url: string): UrlParts {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m) return { scheme: '', host: url, rest: '' };
  const [, scheme = '', authority = '', rest = ''] = m;
  const at = authority.lastIndexOf('@'); // never show credentials in the highlight
  return { scheme, host: at >= 0 ? authority.slice(at + 1) : authority, rest };
}

/** `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`: precise when short, coarse when long. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export function formatLatency(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

const MAX_DATA_TEXT = 240;

/** Custom data as one readable line: `team: payments · tier: 1`, or compact JSON. */
export function formatData(data: unknown): string {
  if (data === null || data === undefined) return '';
  let text: string;
  if (typeof data === 'object' && !Array.isArray(data)) {
    text = Object.entries(data as Record<string, unknown>)
      .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' · ');
  } else {
    text = typeof data === 'string' ? data : JSON.stringify(data);
  }
  return text.length > MAX_DATA_TEXT ? text.slice(0, MAX_DATA_TEXT - 1) + '…' : text;
}

/**
 * Cuts a piece of URL after each `/`, `.`, `-`, `?`, `&` and `=`, so a long URL wraps
 * between its words (the page puts a <wbr> between the pieces) rather than in the middle
 * of a host or path segment. Joined, the pieces are the text exactly.
 */
export function urlPieces(text: string): string[] {
  return text.match(/[^/.\-?&=]*(?:[/.\-?&=]+|$)/g)!.filter((piece) => piece !== '');
}

/** `checked just now`, `checked 4 s ago`, `checked 3 min ago`. */
export function formatChecked(ms: number): string {
  return ms < 1000 ? 'checked just now' : `checked ${formatDuration(ms)} ago`;
}

/** `9,995` in any locale: a wall is read from across the room, the grouping must be plain. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * The custom data as search text: every top-level value, lower-cased, keyed by its field
 * (for `team:search`), and all values joined (for plain words).
 */
export function dataFields(data: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    if (data !== null && data !== undefined) fields.set('', (typeof data === 'string' ? data : JSON.stringify(data)).toLowerCase());
    return fields;
  }
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    fields.set(key.toLowerCase(), (typeof value === 'string' ? value : JSON.stringify(value)).toLowerCase());
  }
  return fields;
}
