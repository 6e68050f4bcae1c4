import type { Destination, NotifyEvent } from './event.js';

/** An event waiting for one destination. */
export interface OutboxEntry {
  /** Positive once stored; negative for an event kept only in memory because the write failed. */
  id: number;
  destination: Destination;
  event: NotifyEvent;
}

/**
 * The durable queue of undelivered events: written before any send, cleared only after the
 * destination answered 2xx, so delivery is at least once across outages and restarts.
 * SQLite implements it in src/store/sqlite-outbox.ts; a PostgreSQL store can do the same.
 */
export interface Outbox {
  /**
   * Stores the event once per destination; resolves after commit. Call it synchronously
   * from the bus listener: the write then joins the transaction of the health change
   * that caused it.
   */
  add(event: NotifyEvent, destinations: readonly Destination[]): Promise<OutboxEntry[]>;
  /** Every undelivered event of a destination, oldest first. */
  pending(destination: Destination): Promise<OutboxEntry[]>;
  /** Forgets delivered events; ids that were never stored are ignored. */
  delivered(ids: readonly number[]): Promise<void>;
  /** Undelivered events per destination, including destinations no longer configured. */
  counts(): Promise<Record<string, number>>;
}
