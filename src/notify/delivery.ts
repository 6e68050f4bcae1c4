import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import { Batcher, type Batch, type BatcherOptions } from './batcher.js';
import type { Destination } from './event.js';
import { collapse, type Line } from './format.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import { backoffMs, classify, type Backoff, type Outcome } from './retry.js';

/** A destination knows only its wire format; delivery, retries and pacing live here. */
export interface Sender {
  readonly destination: Destination;
  readonly url: string;
  encode(lines: readonly Line[], now: number): { body: string; headers: Record<string, string> };
}

export interface DeliveryTiming {
  /** Least time between two messages to one destination: Slack takes about one a second per webhook. */
  minGapMs: number;
  backoff: Backoff;
  /** One POST, connect to response body. */
  requestTimeoutMs: number;
}

export const DEFAULT_TIMING: DeliveryTiming = {
  minGapMs: 1000,
  backoff: { baseMs: 1000, maxMs: 5 * 60_000 },
  requestTimeoutMs: 10_000,
};

/** A payload refused this many times in a row is dropped (and logged) so it cannot block the queue. */
const MAX_REJECTIONS = 3;
/** Enough of an error body to log what the destination said. */
const MAX_ERROR_BODY = 1024;

export interface DeliveryOptions {
  sender: Sender;
  outbox: Outbox;
  logger: Logger;
  batch: BatcherOptions;
  timing: DeliveryTiming;
  dispatcher: Dispatcher;
  clock: () => number;
  random: () => number;
}

/**
 * The queue of one destination: batches pending events, sends one message at a time no
 * faster than `minGapMs`, retries with backoff (or as Retry-After says), and clears events
 * from the outbox only after a 2xx. Failed messages go back to the front and may fold in
 * what arrived meanwhile.
 */
export class Delivery {
  private readonly batcher: Batcher;
  /** Ids held here (pending or in flight): an event loaded twice is sent once. */
  private readonly known = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private inFlight: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private notBefore = 0;
  private failures = 0;
  private rejections = 0;
  private stopped = false;

  constructor(private readonly opts: DeliveryOptions) {
    this.batcher = new Batcher(opts.batch);
  }

  get destination(): Destination {
    return this.opts.sender.destination;
  }

  /** Events waiting, in flight included. */
  get pending(): number {
    return this.known.size;
  }

  /** Queues events; `overdue` ones (left over from before a restart) do not wait for company. */
  add(entries: readonly OutboxEntry[], overdue = false): void {
    if (this.stopped) return;
    const now = this.opts.clock();
    for (const entry of entries) {
      if (this.known.has(entry.id)) continue;
      this.known.add(entry.id);
      this.batcher.add(entry, overdue ? now - this.opts.batch.windowMs : now);
    }
    this.schedule();
  }

  /** Stops sending; waits up to `graceMs` for a message in flight, then aborts it. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const flight = this.inFlight;
    if (!flight) return;
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([flight, new Promise<void>((resolve) => { grace = setTimeout(resolve, graceMs); })]);
    clearTimeout(grace);
    this.abort?.abort(new Error('notifier stopping'));
    await flight;
  }

  private schedule(): void {
    if (this.stopped || this.inFlight) return;
    const readyAt = this.batcher.readyAt();
    if (readyAt === null) return;
    const at = Math.max(readyAt, this.notBefore);
    if (this.timer) {
      if (this.timerAt === at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sendNext();
    }, Math.max(0, at - this.opts.clock()));
  }

  private sendNext(): void {
    if (this.stopped || this.inFlight) return;
    const batch = this.batcher.take(this.opts.clock());
    if (!batch) return this.schedule();
    this.inFlight = this.attempt(batch)
      .catch((err: unknown) => this.opts.logger.error({ err, destination: this.destination }, 'notification delivery failed unexpectedly'))
      .finally(() => {
        this.inFlight = null;
        this.schedule();
      });
  }

  private async attempt(batch: Batch): Promise<void> {
    const { sender, logger, timing, clock } = this.opts;
    const lines = batch.groups.map((g) => collapse(g.entries.map((e) => e.event), g.ids.length));
    const { body, headers } = sender.encode(lines, clock());
    const outcome = await this.post(body, headers);
    const now = clock();
    const log = { destination: this.destination, lines: lines.length, events: batch.ids.length };

    if (outcome.kind === 'delivered') {
      this.failures = 0;
      this.rejections = 0;
      this.notBefore = now + timing.minGapMs;
      logger.info({ ...log, pending: this.known.size - batch.ids.length }, 'notification delivered');
      await this.forget(batch);
      return;
    }
    if (outcome.kind === 'rejected' && ++this.rejections >= MAX_REJECTIONS) {
      this.rejections = 0;
      this.notBefore = now + timing.minGapMs;
      logger.error({ ...log, reason: outcome.reason, urls: lines.slice(0, 5).map((l) => l.event.url) }, 'destination keeps rejecting this notification; dropped it');
      await this.forget(batch);
      return;
    }
    this.failures++;
    const retryAfterMs = outcome.kind === 'retry' ? outcome.retryAfterMs : null;
    // The destination's own Retry-After wins over our guess; never spin faster than the gap.
    const wait = Math.max(timing.minGapMs, retryAfterMs ?? backoffMs(this.failures, timing.backoff, this.opts.random));
    this.notBefore = now + wait;
    this.batcher.putBack(batch);
    if (!this.stopped) logger.warn({ ...log, reason: outcome.reason, attempt: this.failures, retryInMs: wait }, 'notification not delivered; will retry');
  }

  private async forget(batch: Batch): Promise<void> {
    for (const id of batch.ids) this.known.delete(id);
    try {
      await this.opts.outbox.delivered(batch.ids);
    } catch (err) {
      this.opts.logger.error({ err, destination: this.destination, events: batch.ids.length }, 'could not clear delivered events from the outbox; they may be sent again after a restart');
    }
  }

  private async post(body: string, headers: Record<string, string>): Promise<Outcome> {
    const { sender, timing, dispatcher } = this.opts;
    const abort = new AbortController();
    this.abort = abort;
    const deadline = setTimeout(() => abort.abort(new Error(`no answer within ${timing.requestTimeoutMs} ms`)), timing.requestTimeoutMs);
    try {
      const res = await request(sender.url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'user-agent': 'spo2', ...headers },
        signal: abort.signal,
        dispatcher,
      });
      const text = await readCapped(res.body, MAX_ERROR_BODY);
      return classify(res.statusCode, res.headers['retry-after'], res.statusCode >= 300 ? text.trim() : '', this.opts.clock());
    } catch (err) {
      const reason = abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason.message : errorMessage(err);
      return { kind: 'retry', reason, retryAfterMs: null };
    } finally {
      clearTimeout(deadline);
      this.abort = null;
    }
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= max) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, max);
}

function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici wraps socket errors: the cause says what actually happened (ECONNREFUSED, ...).
  const cause = (err as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}
