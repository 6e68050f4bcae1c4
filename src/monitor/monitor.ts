import type { Logger } from 'pino';
import { badCount, type HealthConfig, initialHealth, nextDelay, observe } from '../core/health.js';
import type { ProbeResult } from '../core/status.js';
import { type Destination, toNotifyEvent } from '../core/notify-event.js';
import { type ChangeKind, type Target, type TargetValue, toValue } from '../core/target.js';
import type { EventBus } from '../events.js';
import { type Store, type StoredTarget, StoreUnavailableError } from '../store/ports.js';
import { DueHeap, type Timed } from './heap.js';

/** How early a probe may start so that probes due close together share one timer. */
const TICK_SLACK_MS = 5;

/** Most rows per transaction when flushing results. */
const FLUSH_SLICE = 1000;

/**
 * How the monitor probes a target: `prepare` once per target (URL parsing, say), `start`
 * per probe. `start` calls `done(result, context)` exactly once, and must settle by itself
 * (the probe's own timeout bounds it). A callback with a context, not a promise: at
 * thousands of probes a second, a promise and a closure per probe are garbage.
 */
export interface Prober {
  prepare(url: string): unknown;
  start<C>(prepared: unknown, done: (result: ProbeResult, context: C) => void, context: C): void;
}

/** A Prober from a function returning a promise (tests, small tools); a rejection is a bug, reported as Unreachable. */
export function proberFrom(fn: (url: string) => Promise<ProbeResult>): Prober {
  return {
    prepare: (url) => url,
    start: (url, done, context) => {
      const at = Date.now();
      fn(url as string).then(
        (result) => done(result, context),
        (err: unknown) => done({ status: 'Unreachable', reason: String(err), httpStatus: null, latencyMs: 0, at }, context),
      );
    },
  };
}

export interface MonitorOptions {
  health: HealthConfig;
  /** Most probes in flight at once; more due targets wait their turn in order. */
  concurrency: number;
  flushIntervalMs: number;
  probe: Prober;
  bus: EventBus;
  store: Store;
  /** Where a transition's notification goes (its outbox rows); empty when notifications are off. */
  destinations: readonly Destination[];
  logger: Logger;
  now?: () => number;
  random?: () => number;
}

interface Entry extends Timed {
  target: Target;
  removed: boolean;
  /** Results with something new to keep (the window's make-up, a status, a reason) not yet written. */
  dirty: boolean;
  /** Any result not yet written, if only its time and latency. */
  stale: boolean;
  /** What the prober worked out once from the URL. */
  prepared: unknown;
  /** A probe of this entry is running (started at `startedAt`). */
  probing: boolean;
  startedAt: number;
}

/**
 * Owns the targets being checked and when each one is probed: one heap of due times and
 * one timer for all of them, a bound on probes in flight, the state machine applied to
 * every result, and the resulting changes published on the event bus.
 */
export class Monitor {
  private readonly entries = new Map<string, Entry>();
  private readonly byId = new Map<number, Entry>();
  private readonly heap = new DueHeap<Entry>();
  private readonly waiting: Entry[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private flushTimer: NodeJS.Timeout | null = null;
  private running = false;
  private draining = false;
  private restoredAt: number | null = null;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly opts: MonitorOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  get size(): number {
    return this.entries.size;
  }

  get probesInFlight(): number {
    return this.inFlight;
  }

  /** Loads stored targets with their damped state; their first probes spread over one interval. */
  restore(stored: StoredTarget[]): void {
    const now = this.now();
    this.restoredAt = now;
    for (const s of stored) {
      const health = s.health ?? initialHealth(s.createdAt);
      this.insert({ id: s.id, url: s.url, data: s.data, createdAt: s.createdAt, health }, now);
    }
  }

  start(): void {
    this.running = true;
    // The phases of restored targets count from now, not from the restore: what start-up
    // took in between (the listener, the notifier) would otherwise fire as one burst.
    // One shift for every queued entry keeps the heap's order.
    const shift = this.restoredAt === null ? 0 : this.now() - this.restoredAt;
    if (shift > 0) for (const e of this.entries.values()) if (e.heapIndex >= 0) e.dueAt += shift;
    this.restoredAt = null;
    this.arm();
    this.flushTimer = setInterval(() => void this.flush(), this.opts.flushIntervalMs);
    this.flushTimer.unref();
  }

  /** Stops probing (results of probes still in flight are dropped) and writes the latest results. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.timer = null;
    this.waiting.length = 0;
    await this.flush(true);
  }

  get(url: string): TargetValue | undefined {
    const e = this.entries.get(url);
    return e && toValue(e.target);
  }

  getById(id: number): TargetValue | undefined {
    const e = this.byId.get(id);
    return e && toValue(e.target);
  }

  has(url: string): boolean {
    return this.entries.has(url);
  }

  /** Every target, oldest registration first. */
  *values(): IterableIterator<TargetValue> {
    for (const e of this.entries.values()) yield toValue(e.target);
  }

  list(): TargetValue[] {
    return [...this.values()];
  }

  add(target: Omit<Target, 'health'>): TargetValue {
    const now = this.now();
    const entry = this.insert({ ...target, health: initialHealth(now) }, now);
    return this.publish('added', entry);
  }

  updateData(url: string, data: unknown): TargetValue | undefined {
    const e = this.entries.get(url);
    if (!e) return undefined;
    e.target = { ...e.target, data };
    return this.publish('updated', e);
  }

  remove(url: string): TargetValue | undefined {
    const e = this.entries.get(url);
    if (!e) return undefined;
    e.removed = true;
    this.entries.delete(url);
    this.byId.delete(e.target.id);
    this.heap.remove(e);
    return this.publish('removed', e);
  }

  private insert(target: Target, now: number): Entry {
    // A random phase within one interval: 10,000 targets registered (or restored) at once
    // are spread over the interval instead of all firing in the same millisecond.
    const entry: Entry = {
      target, dueAt: now + Math.floor(this.random() * this.opts.health.intervalMs),
      heapIndex: -1, removed: false, dirty: false, stale: false,
      prepared: this.opts.probe.prepare(target.url), probing: false, startedAt: 0,
    };
    this.entries.set(target.url, entry);
    this.byId.set(target.id, entry);
    this.heap.push(entry);
    this.arm();
    return entry;
  }

  private arm(): void {
    if (!this.running) return;
    const next = this.heap.peek();
    if (!next) return;
    if (this.timer && this.timerAt <= next.dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next.dueAt;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next.dueAt - this.now()));
  }

  private tick(): void {
    this.timer = null;
    this.timerAt = Infinity;
    // Probes due within the next few ms go now too: one timer per batch instead of one per
    // probe (at 10,000 targets, probes fall due every 0.3 ms). Their grids are unchanged.
    const horizon = this.now() + TICK_SLACK_MS;
    for (let e = this.heap.peek(); e && e.dueAt <= horizon; e = this.heap.peek()) {
      this.heap.pop();
      this.dispatch(e);
    }
    this.arm();
  }

  private dispatch(e: Entry): void {
    if (this.inFlight >= this.opts.concurrency) {
      this.waiting.push(e);
      return;
    }
    this.run(e);
  }

  private run(e: Entry): void {
    // No cancellation per probe: each is bounded by its timeout, and the result of one whose
    // target was removed (or whose monitor stopped) is dropped in settle(). Saves an
    // AbortController and two listeners per probe on the hot path.
    this.inFlight++;
    e.probing = true;
    e.startedAt = this.now();
    try {
      this.opts.probe.start(e.prepared, this.settle, e);
    } catch (err) {
      // A prober reports every network outcome as a result; a throw is a bug worth a log line.
      this.opts.logger.error({ err, url: e.target.url }, 'probe failed unexpectedly');
      this.settle({ status: 'Unreachable', reason: String(err), httpStatus: null, latencyMs: 0, at: e.startedAt }, e);
    }
  }

  /** Every probe's end: one function for all of them, the entry comes as the context. */
  private readonly settle = (result: ProbeResult, e: Entry): void => {
    if (!e.probing) return; // a second call from a faulty prober
    e.probing = false;
    this.inFlight--;
    this.next();
    if (e.removed || !this.running) return; // removed while in flight: never brought back
    try {
      this.apply(e, result);
    } catch (err) {
      // A listener that throws (a bug) must neither crash the process nor stop this target.
      this.opts.logger.error({ err, url: e.target.url }, 'could not apply a probe result');
    }
    const delay = nextDelay(e.target.health, this.opts.health);
    // Each target keeps its own grid: a tick's few ms of lateness must not add to every
    // period (at 10,000 targets that alone lost ~1 % of the probes). A probe that ran much
    // later than planned (a queue, a stall) starts a new grid instead of catching up.
    const scheduledAt = e.dueAt;
    const base = e.startedAt - scheduledAt <= delay / 10 ? scheduledAt : e.startedAt;
    e.dueAt = Math.max(base + delay, this.now());
    this.heap.push(e);
    this.arm();
  };

  private next(): void {
    // Not re-entered: a probe that settles at once (inside start) calls next() again.
    if (!this.running || this.draining) return;
    this.draining = true;
    try {
      while (this.inFlight < this.opts.concurrency && this.waiting.length > 0) {
        const e = this.waiting.shift()!;
        if (!e.removed) this.run(e);
      }
    } finally {
      this.draining = false;
    }
  }

  private apply(e: Entry, result: ProbeResult): void {
    const health = e.target.health;
    const { status, reason, last } = health;
    // Read before observe(), which overwrites `last` in place.
    const lastChanged = last === null || last.status !== result.status || last.reason !== result.reason;
    const bad = badCount(health);
    const sameOutcome = result.status === 'Healthy' ? bad === 0 : bad === health.window.length;
    const transition = observe(health, result, this.opts.health);
    // What a dashboard shows changed: the damped status or reason, or the raw outcome.
    const visible = lastChanged || status !== health.status || reason !== health.reason;
    // A steady target (every result in its window had this outcome, however many) has
    // nothing new worth a write but the time and latency of its last check: those are
    // flushed at stop, not every few seconds for every target. After a crash, an all-good
    // window restores to the same damped state; an all-bad one restores with the bad count
    // of its transition (written at once) and refills in a few fast probes.
    e.stale = true;
    if (visible || !sameOutcome) e.dirty = true;
    if (transition) {
      // State changes are written at once; raw results wait for the periodic flush.
      // A transition, its health and its outbox rows are one store call, one transaction;
      // the notifier hears of it only after that commit, with the rows it must deliver.
      e.dirty = e.stale = false;
      const value = toValue(e.target);
      const { logger, bus, store, destinations } = this.opts;
      store.recordTransition({ id: e.target.id, health }, toNotifyEvent(value, transition), destinations).then(
        (outbox) => bus.emit('transition', { target: value, transition, outbox }),
        (err: unknown) => {
          e.dirty = e.stale = true; // the periodic flush writes the health once the storage is back
          // Storage trouble is logged by the store, once; a line per transition would flood.
          if (!(err instanceof StoreUnavailableError)) logger.error({ err, url: e.target.url }, 'could not save health state');
          bus.emit('transition', { target: value, transition, outbox: null });
        },
      );
      if (transition.kind !== 'reminder') {
        logger.info(
          { url: e.target.url, status: transition.status, reason: transition.reason, previous: transition.previous.status },
          transition.kind === 'bad' ? 'target went bad' : 'target recovered',
        );
      }
    }
    if (visible) this.publish('status', e);
  }

  private publish(kind: ChangeKind, e: Entry): TargetValue {
    const value = toValue(e.target);
    this.opts.bus.emit('change', { kind, value });
    return value;
  }

  /**
   * Writes the probe results worth keeping (`all`: every result not yet written, at stop),
   * a slice per transaction so one flush of 10,000 targets never blocks the loop for long.
   */
  async flush(all = false): Promise<void> {
    const entries: Entry[] = [];
    for (const e of this.entries.values()) {
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
