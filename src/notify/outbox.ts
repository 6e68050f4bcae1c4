import type { Destination, NotifyEvent } from './event.js';

/** An event waiting for one destination. */
export interface OutboxEntry {
  /** Positive once stored; negative for an event kept only in memory because the write failed. */
  id: number;
  destination: Destination;
  event: NotifyEvent;
}

/** The oldest events of one destination, dropped to keep its queue within the limit. */
export interface Trimmed {
  destination: string;
  /** How many rows were deleted. */
  count: number;
  /** Every stored event of the destination with an id up to this one is gone. */
  throughId: number;
}

export interface Added {
  entries: OutboxEntry[];
  /** What the same transaction dropped to make room, per destination over the limit. */
  trimmed: Trimmed[];
}

/**
 * The durable queue of undelivered events: written before any send, cleared only after the
 * destination answered 2xx (or refused for good), so delivery is at least once across
 * outages and restarts. Each destination keeps at most a limit of events: beyond it the
 * oldest are dropped, since a queue that grows without bound ends the process that holds
 * it. SQLite implements it in src/store/sqlite-outbox.ts; a PostgreSQL store can do the same.
 */
export interface Outbox {
  /**
   * Stores the event once per destination and drops the oldest events of a destination
   * over the limit, in one transaction; resolves after commit. Call it synchronously
   * from the bus listener: the write then joins the transaction of the health change
   * that caused it.
   */
  add(event: NotifyEvent, destinations: readonly Destination[]): Promise<Added>;
  /** Drops the oldest events of every destination over the limit (a limit lowered since the last run). */
  trim(): Promise<Trimmed[]>;
  /** Every undelivered event of a destination, oldest first. */
  pending(destination: Destination): Promise<OutboxEntry[]>;
  /** Forgets delivered events; ids that were never stored (or were dropped) are ignored. */
  delivered(ids: readonly number[]): Promise<void>;
  /** Undelivered events per destination, including destinations no longer configured. */
  counts(): Promise<Record<string, number>>;
}
