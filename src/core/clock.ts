/**
 * Time and timers, passed in rather than taken from globals, so that logic with timing
 * (the scheduler, a delivery's pacing) runs in tests on a fake clock instead of sleeps.
 */
export interface Clock {
  now(): number;
  setTimeout(fire: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: Date.now,
  setTimeout: (fire, ms) => setTimeout(fire, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * One timer that is armed for one time at most and moved when that time changes. Its
 * callback is fixed at construction, so arming it costs no closure: the scheduler arms it
 * for every batch of due probes, a delivery for every message.
 */
export class Timer {
  private handle: unknown = null;
  private due = Infinity;

  constructor(private readonly fire: () => void, private readonly clock: Clock = systemClock) {}

  /** When it fires next; Infinity when it is not armed. */
  get at(): number {
    return this.due;
  }

  /** Fires at `at` (at once when that is past); a timer armed for another time is moved. */
  set(at: number): void {
    if (this.handle !== null) {
      if (this.due === at) return;
      this.clock.clearTimeout(this.handle);
    }
    this.due = at;
    this.handle = this.clock.setTimeout(this.onFire, Math.max(0, at - this.clock.now()));
  }

  cancel(): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.due = Infinity;
  }

  private readonly onFire = (): void => {
    this.handle = null;
    this.due = Infinity;
    this.fire();
  };
}
