import type { Logger } from 'pino';
import type { StoreUnavailableError } from './ports.js';

/** How often an engine in trouble checks whether it can write again: recovery shows on /healthz within seconds, and the check costs one tiny commit. */
export const RECHECK_MS = 2_000;

export interface AvailabilityOptions {
  logger: Logger;
  /** A tiny write (a meta row) that commits only when the storage can take writes again. */
  check: () => Promise<unknown>;
  /** How often `check` runs while the trouble lasts. */
  recheckMs: number;
  /** Whether a commit that succeeded ends `trouble`; by default it does. */
  over?: (trouble: StoreUnavailableError) => boolean;
}

/**
 * Whether the store can write, from the outcome of its commits. Trouble is logged once
 * when it starts and once when it ends, never per write; while it lasts a write check runs
 * every few seconds, so recovery is seen even when nobody writes.
 */
export class StoreAvailability {
  private trouble: StoreUnavailableError | null = null;
  private since = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly opts: AvailabilityOptions) {}

  get current(): StoreUnavailableError | null {
    return this.trouble;
  }

  /** A commit failed because of the storage. */
  failed(err: StoreUnavailableError): void {
    const was = this.trouble;
    // Corruption outranks whatever follows it: a later disk-full write must not hide it.
    if (was?.lasting && !err.lasting) return;
    this.trouble = err;
    if (was === null) {
      this.since = Date.now();
      this.opts.logger.error({ reason: err.reason, where: err.where, err: err.cause }, `storage trouble: ${err.reason}; writes answer 503 until it is fixed`);
    } else if (was.reason !== err.reason) {
      this.opts.logger.error({ reason: err.reason, previous: was.reason, where: err.where }, `storage trouble changed: ${err.reason}`);
    }
    if (err.lasting) this.cancel();
    else this.arm();
  }

  /** A commit succeeded: the storage writes again (unless the damage is lasting). */
  succeeded(): void {
    const was = this.trouble;
    if (was === null || was.lasting || this.opts.over?.(was) === false) return;
    this.trouble = null;
    this.cancel();
    this.opts.logger.info({ reason: was.reason, where: was.where, lastedMs: Date.now() - this.since }, 'storage recovered: writes work again');
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  private arm(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      // The check's outcome reaches failed()/succeeded() through the commit itself; here it
      // only decides whether to look again.
      const again = () => { if (this.trouble && !this.trouble.lasting) this.arm(); };
      this.opts.check().then(again, again);
    }, this.opts.recheckMs);
    this.timer.unref();
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
