import { STATUS_CODES } from 'node:http';
import type { LookupFunction } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import type { ProbeDone, Prober } from '../core/prober.js';
import type { ProbeResult } from '../core/status.js';
import type { GateWaiter, OriginGate, OriginGates } from './origin-gate.js';

export interface ProbeOptions {
  /** Connect + response headers must come within this, counted once the probe has its slot. */
  timeoutMs: number;
  dispatcher: Dispatcher;
  /** Each origin's connection budget: the same limit as the dispatcher's connections per origin. */
  gates: OriginGates;
}

/** The same for every probe: shared, not rebuilt thousands of times a second. */
const HEADERS = { 'user-agent': 'spo2', accept: '*/*' } as const;

function timedOut(call: ProbeCall, timeoutMs: number): void {
  call.abortWith(`timeout after ${timeoutMs} ms`);
}

function bodyTooSlow(call: ProbeCall): void {
  call.closeConnection('body did not end');
}

function afterVerdict(call: ProbeCall): void {
  call.checkBody();
}

/**
 * After the verdict a body is read only to keep its connection: at most this much, and only
 * while it ends within BODY_GRACE_MS. A longer or endless one (an SSE stream, a trickle)
 * costs its connection instead, which undici then destroys: read on, it would pin one of the
 * origin's connections per probe until every probe of the origin waited behind it.
 */
const MAX_BODY_BYTES = 64 * 1024;
const BODY_GRACE_MS = 200;

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

/** The monitor's prober: HTTP checks through `options` (one agent, the origins' gates). */
export function httpProber(options: ProbeOptions): Prober<ProbeRequest | null> {
  return { prepare: probeRequest, start: (request, done, context) => startProbe(request, options, done, context) };
}

/**
 * One health check: `GET`, no redirects followed. `done(result, context)` is called exactly
 * once, as soon as the status line arrives (or on an error or the timeout). A probe whose
 * origin's connections are all in use waits for one first; its timeout and latency start
 * when it gets it. After the verdict the body is discarded if it is small and ends at once
 * (the connection is then reused), else the connection is closed.
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
 * The state of one probe, and its undici handler. One object per probe, methods on the
 * prototype: at thousands of probes a second, closures per probe are GC work.
 * Its life: waiting for a slot in its origin's gate → `begin()` (timer and clocks start,
 * dispatched) → the verdict (`done`) → undici done with the request (end, error or abort),
 * which gives the slot back.
 */
class ProbeCall implements Dispatcher.DispatchHandler, GateWaiter {
  nextWaiter: GateWaiter | null = null;
  private at = 0;
  private started = 0;
  private settled = false;
  private released = false;
  private controller: Dispatcher.DispatchController | null = null;
  private received = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  private readonly gate: OriginGate | null = null;

  constructor(
    private readonly request: ProbeRequest | null,
    private readonly options: ProbeOptions,
    private readonly done: ProbeDone<unknown>,
    private readonly context: unknown,
  ) {
    if (request === null) {
      this.at = Date.now();
      this.started = performance.now();
      this.fail('invalid url');
      return;
    }
    this.gate = options.gates.of(request.origin);
    this.gate.enter(this);
  }

  /** The slot is ours: from here on the timeout runs and the latency counts. */
  begin(): void {
    const { request, options } = this;
    this.at = Date.now();
    this.started = performance.now();
    this.timer = setTimeout(timedOut, options.timeoutMs, this, options.timeoutMs);
    try {
      options.dispatcher.dispatch(
        {
          origin: request!.origin,
          path: request!.path,
          method: 'GET',
          headers: HEADERS, // undici adds Host from the origin
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        },
        this,
      );
    } catch (err) {
      this.fail(errorMessage(err));
      this.release();
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

  /** Undici is done with the request: the slot goes to the next probe of the origin. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.timer); // the body's grace timer, if one runs
    this.gate?.leave();
  }

  abortWith(reason: string): void {
    this.fail(reason);
    this.controller?.abort(new Error(reason));
  }

  /** Aborting makes undici destroy the socket (client-h1's abort), not return it to the pool. */
  closeConnection(reason: string): void {
    this.controller?.abort(new Error(reason));
  }

  /**
   * Just after the verdict: a body that came with the headers has ended by now (undici
   * parses one read in one go). Any other gets a short grace, then its connection is closed.
   */
  checkBody(): void {
    if (!this.released) this.timer = setTimeout(bodyTooSlow, BODY_GRACE_MS, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new Error('probe timed out')); // timed out while connecting
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, _headers: unknown, statusMessage?: string): void {
    if (statusCode < 200) return; // 1xx informational: the real answer follows
    if (statusCode < 300) this.finish('Healthy', '', statusCode);
    else this.finish('Unhealthy', `${statusCode} ${statusMessage || STATUS_CODES[statusCode] || ''}`.trim(), statusCode);
    process.nextTick(afterVerdict, this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.received += chunk.length;
    if (this.received > MAX_BODY_BYTES) controller.abort(new Error('body too large'));
  }

  onResponseEnd(): void {
    this.release();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.fail(errorMessage(err));
    this.release();
  }
}

/**
 * A connection pool shared by all probes: keep-alive per origin, at most `originConnections`
 * sockets per origin (the gates keep probes beyond it waiting, so undici never queues).
 * Undici opens them only as probes need them and closes idle ones: the pool follows load.
 * `lookup` resolves hostnames (see probe/dns.ts: off libuv's thread pool); net's dns.lookup when absent.
 */
export function createProbeAgent({ timeoutMs, originConnections, lookup }: { timeoutMs: number; originConnections: number; lookup?: LookupFunction }): Agent {
  return new Agent({
    connect: { timeout: timeoutMs, lookup },
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 30_000,
    // A server's `Keep-Alive: timeout=5` (Node's default) minus undici's default 2 s margin
    // is 3 s, the default interval: every probe of a one-target origin would reconnect.
    // A 1 s margin keeps the connection for the next probe and is still far from the race.
    keepAliveTimeoutThreshold: 1_000,
    connections: originConnections,
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
