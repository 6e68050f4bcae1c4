import { type Clock, Timer } from '../core/clock.js';
import { DueHeap, type Timed } from './heap.js';
import { ProbeLag, type ProbeLagSummary } from './lag.js';

/** How early a probe may start so that probes due close together share one timer. */
const TICK_SLACK_MS = 5;

/** What the scheduler keeps on each target's entry (one object per target: no garbage per probe). */
export interface Scheduled extends Timed {
  /** Taken out by remove(): never started again, not even from the waiting queue. */
  removed: boolean;
  /** Its probe is running, since `startedAt`. */
  probing: boolean;
  startedAt: number;
}

export interface SchedulerOptions<T> {
  /** Most probes in flight at once; more due entries wait their turn in order. */
  concurrency: number;
  clock: Clock;
  /** Starts the probe of a due entry; it counts as in flight until `ended(entry)`. */
  run: (entry: T) => void;
}

/**
 * When each target is probed, and nothing else: one heap of due times and one timer for
 * all of them, a bound on probes in flight with a queue of the ones waiting, and each
 * target kept on its own grid.
 */
export class Scheduler<T extends Scheduled> {
  private readonly heap = new DueHeap<T>();
  private readonly waiting: T[] = [];
  private readonly timer: Timer;
  private readonly lateness = new ProbeLag();
  private inFlight = 0;
  private active = false;
  private draining = false;

  constructor(private readonly opts: SchedulerOptions<T>) {
    this.timer = new Timer(this.tick, opts.clock);
  }

  get running(): boolean {
    return this.active;
  }

  get probesInFlight(): number {
    return this.inFlight;
  }

  /**
   * How late probes start against their due time: over the last minute, and (`overdueMs`)
   * the probe most overdue right now but not started (a stalled scheduler or a full queue
   * shows here before any late probe starts).
   */
  lag(): ProbeLagSummary & { overdueMs: number } {
    const now = this.opts.clock.now();
    const next = this.heap.peek();
    const oldest = Math.min(next && this.active ? next.dueAt : Infinity, this.waiting[0]?.dueAt ?? Infinity);
    return { ...this.lateness.summary(now), overdueMs: oldest === Infinity ? 0 : Math.max(0, Math.round(now - oldest)) };
  }

  /** Queues an entry for its first probe at `dueAt`. */
  add(entry: T, dueAt: number): void {
    entry.dueAt = dueAt;
    this.heap.push(entry);
    this.arm();
  }

  /** No probe of it starts any more; one in flight ends and is dropped by the caller. */
  remove(entry: T): void {
    entry.removed = true;
    this.heap.remove(entry);
  }

  /** Starts timing; every queued due time moves `shiftMs` later first (see Monitor.start). */
  start(shiftMs = 0): void {
    this.active = true;
    if (shiftMs > 0) this.heap.shift(shiftMs);
    this.arm();
  }

  /** Starts no probe after this; the waiting queue is dropped. */
  stop(): void {
    this.active = false;
    this.timer.cancel();
    this.waiting.length = 0;
  }

  /**
   * A probe of `entry` ended: its slot goes to the next waiting entry. False for a second
   * end of the same probe (a faulty prober), which must change nothing.
   */
  ended(entry: T): boolean {
    if (!entry.probing) return false;
    entry.probing = false;
    this.inFlight--;
    this.next();
    return true;
  }

  /** Queues `entry` again, `delay` after its last planned probe. */
  again(entry: T, delay: number): void {
    // Each target keeps its own grid: a tick's few ms of lateness must not add to every
    // period (at 10,000 targets that alone lost ~1 % of the probes). A probe that ran much
    // later than planned (a queue, a stall) starts a new grid instead of catching up.
    const scheduledAt = entry.dueAt;
    const base = entry.startedAt - scheduledAt <= delay / 10 ? scheduledAt : entry.startedAt;
    entry.dueAt = Math.max(base + delay, this.opts.clock.now());
    this.heap.push(entry);
    this.arm();
  }

  private arm(): void {
    if (!this.active) return;
    const next = this.heap.peek();
    if (next && next.dueAt < this.timer.at) this.timer.set(next.dueAt);
  }

  private readonly tick = (): void => {
    // Probes due within the next few ms go now too: one timer per batch instead of one per
    // probe (at 10,000 targets, probes fall due every 0.3 ms). Their grids are unchanged.
    const horizon = this.opts.clock.now() + TICK_SLACK_MS;
    for (let e = this.heap.peek(); e && e.dueAt <= horizon; e = this.heap.peek()) {
      this.heap.pop();
      if (this.inFlight >= this.opts.concurrency) this.waiting.push(e);
      else this.run(e);
    }
    this.arm();
  };

  private run(e: T): void {
    this.inFlight++;
    e.probing = true;
    e.startedAt = this.opts.clock.now();
    this.lateness.record(e.startedAt - e.dueAt, e.startedAt);
    this.opts.run(e);
  }

  private next(): void {
    // Not re-entered: a probe that settles at once (inside run) calls next() again.
    if (!this.active || this.draining) return;
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
}
