import type { Clock } from '../src/core/clock.ts';

/** A Clock whose time moves only when a test says so; timers fire in time order as it does. */
export class FakeClock implements Clock {
  private timers = new Map<number, { at: number; fire: () => void }>();
  private ids = 0;
  /** setTimeout calls so far: how many timers the code under test armed. */
  armed = 0;
  /** How late every timer fires, as on a busy event loop. */
  lag = 0;

  constructor(private time = 0) {}

  now = (): number => this.time;

  setTimeout = (fire: () => void, ms: number): unknown => {
    this.armed++;
    const id = ++this.ids;
    this.timers.set(id, { at: this.time + Math.max(0, ms) + this.lag, fire });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  /** Timers pending now. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fire: () => void }] | undefined;
      for (const t of this.timers) if (t[1].at <= end && (!next || t[1].at < next[1].at)) next = t;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].fire();
    }
    this.time = end;
  }
}
