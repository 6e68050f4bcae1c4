/**
 * A whole SpO₂ database as rows, for `spo2 migrate` to carry from one engine to another:
 * what one engine exports and the other imports. Values stay as stored (JSON as its text,
 * times as epoch milliseconds), so nothing is re-encoded on the way and a target's data
 * comes back byte for byte.
 */

export interface TargetRow {
  id: number;
  url: string;
  /** JSON text. */
  data: string;
  createdAt: number;
  updatedAt: number;
  /** JSON text; null when no probe result was ever persisted. */
  health: string | null;
}

export interface OutboxRow {
  id: number;
  destination: string;
  url: string;
  /** JSON text. */
  event: string;
  createdAt: number;
}

export interface DatabaseCopy {
  schemaVersion: number;
  /** Oldest first (id order). */
  targets: TargetRow[];
  /** Undelivered notifications, in id order (the order they are delivered in). */
  outbox: OutboxRow[];
  /**
   * The highest id each table ever handed out, deleted rows included: the new database
   * continues past it, so no id names two different targets (or events) over time.
   */
  lastIds: { targets: number; outbox: number };
}

/** A copy that cannot be made: `usage` is the operator's to fix (exit 2), the rest is trouble (exit 1). */
export class CopyError extends Error {
  override name = 'CopyError';

  constructor(message: string, readonly usage: boolean) {
    super(message);
  }
}
