import type { Logger } from 'pino';
import { type Clock, systemClock } from '../core/clock.js';
import { type HealthConfig, initialHealth, nextDelay, type Transition } from '../core/health.js';
import type { Destination } from '../core/notify-event.js';
import type { Prober } from '../core/prober.js';
import type { ProbeResult } from '../core/status.js';
import { type ChangeKind, type Target, type TargetValue, toValue } from '../core/target.js';
import type { EventBus } from '../events.js';
import type { Store, StoredTarget } from '../store/ports.js';
import type { ProbeLagSummary } from './lag.js';
import { type Observation, observeResult } from './observe.js';
import { type Scheduled, Scheduler } from './scheduler.js';
import { TargetTable } from './targets.js';
import { HealthWriter, type Persisted } from './writer.js';

export interface MonitorOptions<P> {
  health: HealthConfig;
  /** Most probes in flight at once; more due targets wait their turn in order. */
  concurrency: number;
  flushIntervalMs: number;
  probe: Prober<P>;
  bus: EventBus;
  store: Store;
  /** Where a transition's notification goes (its outbox rows); empty when notifications are off. */
  destinations: readonly Destination[];
  logger: Logger;
  clock?: Clock;
  random?: () => number;
}

/** The monitor as the API's write path sees it: the targets, without the prober's types. */
export type LiveTargets = Pick<Monitor, 'get' | 'getById' | 'has' | 'values' | 'list' | 'size' | 'add' | 'updateData' | 'remove'>;

/** One target being checked: one object holding what each part of the monitor keeps of it. */
interface Entry<P> extends Scheduled, Persisted {
  /** What the prober worked out once from the URL. */
  prepared: P;
}

/**
 * Checks the registered targets: keeps them in the table (targets.ts), has the scheduler
 * start their probes (scheduler.ts), interprets each result (observe.ts), has the writer
 * persist what changed (writer.ts), and publishes changes and transitions on the event
 * bus. Flow is one way: a transition is written first (health and outbox rows, one store
 * call), then emitted, and the notifier delivers the rows it was told about.
 */
export class Monitor<P = unknown> {
  private readonly table = new TargetTable<Entry<P>>();
  private readonly scheduler: Scheduler<Entry<P>>;
  private readonly writer: HealthWriter<Entry<P>>;
  /** The one Observation every result is interpreted into. */
  private readonly seen: Observation = { transition: null, visible: false, news: false };
  private restoredAt: number | null = null;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(private readonly opts: MonitorOptions<P>) {
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.scheduler = new Scheduler<Entry<P>>({ concurrency: opts.concurrency, clock: this.clock, run: this.run });
    this.writer = new HealthWriter<Entry<P>>({
      store: opts.store, destinations: opts.destinations, flushIntervalMs: opts.flushIntervalMs,
      entries: () => this.table.entries(), logger: opts.logger,
    });
  }

  get size(): number {
    return this.table.size;
  }

  get probesInFlight(): number {
    return this.scheduler.probesInFlight;
  }

  /**
   * How late probes start against their due time: over the last minute, and (`overdueMs`)
   * the probe most overdue right now but not started (a stalled scheduler or a full queue
   * shows here before any late probe starts).
   */
  probeLag(): ProbeLagSummary & { overdueMs: number } {
    return this.scheduler.lag();
  }

  /** Loads stored targets with their damped state; their first probes spread over one interval. */
  restore(stored: StoredTarget[]): void {
    const now = this.clock.now();
    this.restoredAt = now;
    for (const s of stored) {
      const health = s.health ?? initialHealth(s.createdAt);
      this.insert({ id: s.id, url: s.url, data: s.data, createdAt: s.createdAt, health }, now);
    }
  }

  start(): void {
    // The phases of restored targets count from now, not from the restore: what start-up
    // took in between (the listener, the notifier) would otherwise fire as one burst.
    const shift = this.restoredAt === null ? 0 : this.clock.now() - this.restoredAt;
    this.restoredAt = null;
    this.scheduler.start(shift);
    this.writer.start();
  }

  /** Stops probing (results of probes still in flight are dropped) and writes the latest results. */
  async stop(): Promise<void> {
    this.scheduler.stop();
    await this.writer.stop();
  }

  /** Writes the probe results worth keeping now (see HealthWriter.flush). */
  flush(all = false): Promise<void> {
    return this.writer.flush(all);
  }

  get(url: string): TargetValue | undefined {
    return this.table.get(url);
  }

  getById(id: number): TargetValue | undefined {
    return this.table.getById(id);
  }

  has(url: string): boolean {
    return this.table.has(url);
  }

  /** Every target, oldest registration first. */
  values(): IterableIterator<TargetValue> {
    return this.table.values();
  }

  list(): TargetValue[] {
    return this.table.list();
  }

  add(target: Omit<Target, 'health'>): TargetValue {
    const now = this.clock.now();
    const entry = this.insert({ ...target, health: initialHealth(now) }, now);
    return this.publish('added', entry);
  }

  updateData(url: string, data: unknown): TargetValue | undefined {
    const e = this.table.entry(url);
    if (!e) return undefined;
    e.target = { ...e.target, data };
    return this.publish('updated', e);
  }

  remove(url: string): TargetValue | undefined {
    const e = this.table.entry(url);
    if (!e) return undefined;
    this.table.delete(e);
    this.scheduler.remove(e);
    return this.publish('removed', e);
  }

  private insert(target: Target, now: number): Entry<P> {
    const entry: Entry<P> = {
      target, dueAt: 0, heapIndex: -1, removed: false, dirty: false, stale: false,
      prepared: this.opts.probe.prepare(target.url), probing: false, startedAt: 0,
    };
    this.table.set(entry);
    // A random phase within one interval: 10,000 targets registered (or restored) at once
    // are spread over the interval instead of all firing in the same millisecond.
    this.scheduler.add(entry, now + Math.floor(this.random() * this.opts.health.intervalMs));
    return entry;
  }

  /** The scheduler's hand-off: starts the probe of a due entry. */
  private readonly run = (e: Entry<P>): void => {
    // No cancellation per probe: each is bounded by its timeout, and the result of one whose
    // target was removed (or whose monitor stopped) is dropped in settle(). Saves an
    // AbortController and two listeners per probe on the hot path.
    try {
      this.opts.probe.start(e.prepared, this.settle, e);
    } catch (err) {
      // A prober reports every network outcome as a result; a throw is a bug worth a log line.
      this.opts.logger.error({ err, url: e.target.url }, 'probe failed unexpectedly');
      this.settle({ status: 'Unreachable', reason: String(err), httpStatus: null, latencyMs: 0, at: e.startedAt }, e);
    }
  };

  /** Every probe's end: one function for all of them, the entry comes as the context. */
  private readonly settle = (result: ProbeResult, e: Entry<P>): void => {
    if (!this.scheduler.ended(e)) return; // a second call from a faulty prober
    if (e.removed || !this.scheduler.running) return; // removed while in flight: never brought back
    try {
      this.apply(e, result);
    } catch (err) {
      // A listener that throws (a bug) must neither crash the process nor stop this target.
      this.opts.logger.error({ err, url: e.target.url }, 'could not apply a probe result');
    }
    this.scheduler.again(e, nextDelay(e.target.health, this.opts.health));
  };

  private apply(e: Entry<P>, result: ProbeResult): void {
    const seen = observeResult(e.target.health, result, this.opts.health, this.seen);
    this.writer.noted(e, seen.news);
    // Taken before publish(): a listener may run a probe result into `seen` again.
    const { transition, visible } = seen;
    if (transition) this.transition(e, transition);
    if (visible) this.publish('status', e);
  }

  /** Written first (health and outbox rows, one transaction), then told: the notifier delivers what is stored. */
  private transition(e: Entry<P>, transition: Transition): void {
    const value = toValue(e.target);
    const { bus, logger } = this.opts;
    this.writer.transition(e, value, transition)
      .then((outbox) => bus.emit('transition', { target: value, transition, outbox }))
      // A listener that throws (a bug) must not become an unhandled rejection.
      .catch((err: unknown) => logger.error({ err, url: value.url }, 'a transition listener failed'));
    if (transition.kind !== 'reminder') {
      logger.info(
        { url: e.target.url, status: transition.status, reason: transition.reason, previous: transition.previous.status },
        transition.kind === 'bad' ? 'target went bad' : 'target recovered',
      );
    }
  }

  private publish(kind: ChangeKind, e: Entry<P>): TargetValue {
    const value = toValue(e.target);
    this.opts.bus.emit('change', { kind, value });
    return value;
  }
}
