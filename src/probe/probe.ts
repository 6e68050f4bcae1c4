import { STATUS_CODES } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import type { ProbeResult } from '../core/status.js';

export interface ProbeOptions {
  /** Connect + response headers must come within this. */
  timeoutMs: number;
  dispatcher: Dispatcher;
}

/** Read at most this much of a body before giving up on the connection. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * One health check: `GET url`, no redirects followed. Resolves (never rejects) with a
 * ProbeResult as soon as the status line arrives; the body is drained in the background,
 * up to a small limit, only so the connection can be reused.
 */
export function probe(url: string, options: ProbeOptions, signal?: AbortSignal): Promise<ProbeResult> {
  const at = Date.now();
  const started = performance.now();
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    let controller: Dispatcher.DispatchController | null = null;
    const finish = (result: Omit<ProbeResult, 'at' | 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({ ...result, at, latencyMs: Math.round((performance.now() - started) * 10) / 10 });
    };
    const fail = (reason: string) => finish({ status: 'Unreachable', reason, httpStatus: null });
    const abortWith = (reason: string) => {
      fail(reason);
      controller?.abort(new Error(reason));
    };
    const onAbort = () => abortWith('probe cancelled');
    const timer = setTimeout(() => abortWith(`timeout after ${options.timeoutMs} ms`), options.timeoutMs);

    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return fail('invalid url');
    }
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    let received = 0;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (settled) c.abort(new Error('probe cancelled'));
      },
      onResponseStart(_c, statusCode, _headers, statusMessage) {
        if (statusCode < 200) return; // 1xx informational: the real answer follows
        const phrase = statusMessage || STATUS_CODES[statusCode] || '';
        if (statusCode < 300) finish({ status: 'Healthy', reason: '', httpStatus: statusCode });
        else finish({ status: 'Unhealthy', reason: `${statusCode} ${phrase}`.trim(), httpStatus: statusCode });
      },
      onResponseData(c, chunk) {
        received += chunk.length;
        if (received > MAX_BODY_BYTES) c.abort(new Error('body too large'));
      },
      onResponseEnd() {},
      onResponseError(_c, err) {
        fail(errorMessage(err));
      },
    };

    try {
      options.dispatcher.dispatch(
        {
          origin: parsed.origin,
          path: parsed.pathname + parsed.search,
          method: 'GET',
          headers: { 'user-agent': 'spo2', accept: '*/*', host: parsed.host },
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        },
        handler,
      );
    } catch (err) {
      fail(errorMessage(err));
    }
  });
}

/** A connection pool shared by all probes: keep-alive per origin, bounded sockets per origin. */
export function createProbeAgent(timeoutMs: number): Agent {
  return new Agent({
    connect: { timeout: timeoutMs },
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
