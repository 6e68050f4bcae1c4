import type { Logger } from 'pino';
import type { Transition } from '../core/health.js';
import { type Destination, toNotifyEvent } from '../core/notify-event.js';
import { type Target, type TargetValue } from '../core/target.js';
import { type Added, type Store, StoreUnavailableError } from '../store/ports.js';

/** Most rows per transaction when flushing results. */
const FLUSH_SLICE = 1000;

/** What the writer keeps on each target's entry. */
export interface Persisted {
  target: Target;
  /** Results with something new to keep (the window's make-up, a status, a reason) not yet written. */
  dirty: boolean;
  /** Any result not yet written, if only its time and latency. */
  stale: boolean;
}

export interface HealthWriterOptions<E> {
  store: Store;
  /** Where a transition's notification goes (its outbox rows); empty when notifications are off. */
  destinations: readonly Destination[];
  flushIntervalMs: number;
  /** The entries to look through at each flush. */
  entries: () => Iterable<E>;
  logger: Logger;
}

/**
 * The monitor's persistence: a transition is written at once (its health and its outbox
 * rows in one store call, one transaction); raw results wait for the periodic flush, which
 * writes only those worth keeping, in slices, and keeps what failed for the next flush.
 */
export class HealthWriter<E extends Persisted> {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: HealthWriterOptions<E>) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.opts.flushIntervalMs);
    this.timer.unref();
  }

  /** Stops the periodic flush and writes every result not yet written. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush(true);
  }

  /** A result was applied to the entry's health; `news`: it is worth the next periodic write. */
  noted(e: E, news: boolean): void {
    e.stale = true;
    if (news) e.dirty = true;
  }

  /**
   * Writes a transition of `e` (whose health already holds it) with its outbox rows.
   * Resolves with the rows written, or null when the write failed: the health then goes
   * with the next periodic flush, and the notifier sends the event from memory.
   */
  transition(e: E, value: TargetValue, transition: Transition): Promise<Added | null> {
    e.dirty = e.stale = false;
    const { store, destinations, logger } = this.opts;
    return store.recordTransition({ id: e.target.id, health: e.target.health }, toNotifyEvent(value, transition), destinations).catch((err: unknown) => {
      e.dirty = e.stale = true;
      // Storage trouble is logged by the store, once; a line per transition would flood.
      if (!(err instanceof StoreUnavailableError)) logger.error({ err, url: e.target.url }, 'could not save health state');
      return null;
    });
  }

  /**
   * Writes the probe results worth keeping (`all`: every result not yet written, at stop),
   * a slice per transaction so one flush of 10,000 targets never blocks the loop for long.
   */
  async flush(all = false): Promise<void> {
    const entries: E[] = [];
    for (const e of this.opts.entries()) {
      if (!(all ? e.stale : e.dirty)) continue;
      e.dirty = e.stale = false;
      entries.push(e);
    }
    for (let i = 0; i < entries.length; i += FLUSH_SLICE) {
      const slice = entries.slice(i, i + FLUSH_SLICE);
      try {
        await this.opts.store.saveHealth(slice.map((e) => ({ id: e.target.id, health: e.target.health })));
      } catch (err) {
        // Kept for the next flush rather than lost until the target changes again.
        for (const e of slice) e.dirty = e.stale = true;
        if (!(err instanceof StoreUnavailableError)) this.opts.logger.error({ err, count: slice.length }, 'could not flush probe results');
      }
    }
  }
}
