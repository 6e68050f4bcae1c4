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
