import { STATUS_CODES } from 'node:http';
import type { LookupFunction } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import type { ProbeResult } from '../core/status.js';

export interface ProbeOptions {
  /** Connect + response headers must come within this. */
  timeoutMs: number;
  dispatcher: Dispatcher;
}

/** The same for every probe: shared, not rebuilt thousands of times a second. */
const HEADERS = { 'user-agent': 'spo2', accept: '*/*' } as const;

function timedOut(call: ProbeCall, timeoutMs: number): void {
  call.abortWith(`timeout after ${timeoutMs} ms`);
}

/** Read at most this much of a body before giving up on the connection. */
const MAX_BODY_BYTES = 64 * 1024;

/** A target's request, worked out once from its URL rather than at every probe. */
export interface ProbeRequest {
  readonly origin: string;
  readonly path: string;
}

/** The request for `url`, or null when it does not parse (its probes then report that). */
export function probeRequest(url: string): ProbeRequest | null {
  try {
    const parsed = new URL(url);
    return { origin: parsed.origin, path: parsed.pathname + parsed.search };
  } catch {
    return null;
  }
}

/** Called once per probe, with the context given to `startProbe`. */
export type ProbeDone<C> = (result: ProbeResult, context: C) => void;

/**
 * One health check: `GET`, no redirects followed. `done(result, context)` is called exactly
 * once, as soon as the status line arrives (or on an error or the timeout); the body is
 * drained in the background, up to a small limit, only so the connection can be reused.
 * The scheduler's path: no promise and no closure per probe, the context carries the rest.
 */
export function startProbe<C>(request: ProbeRequest | null, options: ProbeOptions, done: ProbeDone<C>, context: C): void {
  new ProbeCall(request, options, done as ProbeDone<unknown>, context);
}

/** The same check as a promise that resolves (never rejects) with the result. */
export function probe(url: string, options: ProbeOptions): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => startProbe(probeRequest(url), options, resolve, undefined));
}

/**
 * The state of one probe in flight, and its undici handler. One object per probe, methods
 * on the prototype: at thousands of probes a second, closures per probe are GC work.
 */
class ProbeCall implements Dispatcher.DispatchHandler {
  private readonly at = Date.now();
  private readonly started = performance.now();
  private settled = false;
  private controller: Dispatcher.DispatchController | null = null;
  private received = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    request: ProbeRequest | null,
    options: ProbeOptions,
    private readonly done: ProbeDone<unknown>,
    private readonly context: unknown,
  ) {
    this.timer = setTimeout(timedOut, options.timeoutMs, this, options.timeoutMs);
    if (request === null) {
      this.fail('invalid url');
      return;
    }
    try {
      options.dispatcher.dispatch(
        {
          origin: request.origin,
          path: request.path,
          method: 'GET',
          headers: HEADERS, // undici adds Host from the origin
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        },
        this,
      );
    } catch (err) {
      this.fail(errorMessage(err));
    }
  }

  private finish(status: ProbeResult['status'], reason: string, httpStatus: number | null): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.done({ status, reason, httpStatus, at: this.at, latencyMs: Math.round((performance.now() - this.started) * 10) / 10 }, this.context);
  }

  private fail(reason: string): void {
    this.finish('Unreachable', reason, null);
  }

  abortWith(reason: string): void {
    this.fail(reason);
    this.controller?.abort(new Error(reason));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new Error('probe timed out')); // before the request even started
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, _headers: unknown, statusMessage?: string): void {
    if (statusCode < 200) return; // 1xx informational: the real answer follows
    if (statusCode < 300) return this.finish('Healthy', '', statusCode);
    const phrase = statusMessage || STATUS_CODES[statusCode] || '';
    this.finish('Unhealthy', `${statusCode} ${phrase}`.trim(), statusCode);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.received += chunk.length;
    if (this.received > MAX_BODY_BYTES) controller.abort(new Error('body too large'));
  }

  onResponseEnd(): void {}

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.fail(errorMessage(err));
  }
}

/**
 * A connection pool shared by all probes: keep-alive per origin, bounded sockets per origin.
 * `lookup` resolves hostnames (see probe/dns.ts: off libuv's thread pool); net's dns.lookup when absent.
 */
export function createProbeAgent(timeoutMs: number, lookup?: LookupFunction): Agent {
  return new Agent({
    connect: { timeout: timeoutMs, lookup },
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 30_000,
    // A server's `Keep-Alive: timeout=5` (Node's default) minus undici's default 2 s margin
    // is 3 s, the default interval: every probe of a one-target origin would reconnect.
    // A 1 s margin keeps the connection for the next probe and is still far from the race.
    keepAliveTimeoutThreshold: 1_000,
    connections: 8,
    pipelining: 1,
  });
}

/** The message people see: undici wraps socket errors, the cause has the useful text. */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if ((err.message === 'fetch failed' || err.name === 'TypeError') && cause instanceof Error) return cause.message;
  if (err instanceof AggregateError && err.errors.length > 0) return errorMessage(err.errors[0]);
  return (err.message || err.name).trim();
}
