/** What an attempt to deliver one message came to. */
export type Outcome =
  | { kind: 'delivered' }
  /** Try again later; `retryAfterMs` is the destination's own wish (429/503 Retry-After). */
  | { kind: 'retry'; reason: string; retryAfterMs: number | null }
  /** The destination refuses this payload itself; retrying it as is will not help. */
  | { kind: 'rejected'; reason: string }
  /** The hook itself is revoked or gone (Slack: 403 invalid_token, 404 no_service, 410 channel_is_archived). */
  | { kind: 'gone'; reason: string };

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** A Retry-After beyond this is a misconfigured server, not a plan: wait at most this. */
const MAX_RETRY_AFTER_MS = 60 * 60_000;

/** Statuses that say the body itself is unacceptable (Slack: 400 invalid_payload, 413 too large). */
const REJECTING = new Set([400, 413, 422]);
/**
 * Statuses that say the hook is revoked or gone: no retry of any payload will help until
 * someone configures a new one. A proxy can answer them for a moment while it reloads, so
 * they are given up on only after a few tries, like a rejection.
 */
const GONE = new Set([403, 404, 410]);

export function classify(statusCode: number, retryAfter: string | string[] | undefined, body: string, now: number): Outcome {
  if (statusCode >= 200 && statusCode < 300) return { kind: 'delivered' };
  const reason = `HTTP ${statusCode}${body ? `: ${body.slice(0, 200)}` : ''}`;
  if (REJECTING.has(statusCode)) return { kind: 'rejected', reason };
  if (GONE.has(statusCode)) return { kind: 'gone', reason };
  return { kind: 'retry', reason, retryAfterMs: parseRetryAfter(retryAfter, now) };
}

/** `Retry-After` in seconds or as an HTTP date, in ms from now; null when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return null;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(raw)) ms = Number(raw) * 1000;
  else {
    const date = Date.parse(raw);
    if (Number.isNaN(date)) return null;
    ms = date - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.round(ms)));
}

/**
 * Exponential backoff with "equal jitter": attempt 1 waits base/2..base, each next one
 * twice as long, capped. Jitter keeps many instances from retrying in step.
 */
export function backoffMs(attempt: number, backoff: Backoff, random: () => number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
