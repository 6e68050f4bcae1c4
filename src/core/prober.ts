import type { ProbeResult } from './status.js';

/** Called once per probe, with the context given to `start`. */
export type ProbeDone<C> = (result: ProbeResult, context: C) => void;

/**
 * How the monitor probes a target. `prepare` once per target: what the prober works out
 * from the URL (and, with per-target checks, from the check) rather than at every probe.
 * `start` per probe: calls `done(result, context)` exactly once, and must settle by itself
 * (the probe's own timeout bounds it). A callback with a context, not a promise: at
 * thousands of probes a second, a promise and a closure per probe are garbage.
 */
export interface Prober<P> {
  prepare(url: string): P;
  start<C>(prepared: P, done: ProbeDone<C>, context: C): void;
}

/** A Prober from a function returning a promise (tests, small tools); a rejection is a bug, reported as Unreachable. */
export function proberFrom(fn: (url: string) => Promise<ProbeResult>): Prober<string> {
  return {
    prepare: (url) => url,
    start: (url, done, context) => {
      const at = Date.now();
      fn(url).then(
        (result) => done(result, context),
        (err: unknown) => done({ status: 'Unreachable', reason: String(err), httpStatus: null, latencyMs: 0, at }, context),
      );
    },
  };
}
