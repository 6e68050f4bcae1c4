import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import { systemClock, Timer } from '../core/clock.js';
import { Batcher, type Batch, type BatcherOptions } from './batcher.js';
import { DropLedger, type Dropped } from './dropped.js';
import type { Destination } from '../core/notify-event.js';
import { collapse, isNewTrouble, type Line } from './format.js';
import { Incident } from './incident.js';
import type { Outbox, OutboxEntry, Trimmed } from '../store/ports.js';
import { backoffMs, classify, type Backoff, type Outcome } from './retry.js';

/** What a message says besides its lines. */
export interface MessageContext {
  now: number;
  /** The first message of an incident: Slack opens it with the mention (see incident.ts). */
  opensIncident: boolean;
  /** What was given up on since the last delivered message. */
  dropped: Dropped;
}

/** A destination knows only its wire format; delivery, retries and pacing live here. */
export interface Sender {
  readonly destination: Destination;
  readonly url: string;
  encode(lines: readonly Line[], message: MessageContext): { body: string; headers: Record<string, string> };
}

export interface DeliveryTiming {
  /** Least time between two messages to one destination: Slack takes about one a second per webhook. */
  minGapMs: number;
  backoff: Backoff;
  /** One POST, connect to response body. */
  requestTimeoutMs: number;
  /** How often delivered events are tried again to be cleared from an outbox that could not take the write. */
  clearRetryMs?: number;
}

export const DEFAULT_TIMING: DeliveryTiming = {
  minGapMs: 1000,
  backoff: { baseMs: 1000, maxMs: 5 * 60_000 },
  requestTimeoutMs: 10_000,
};

/**
 * A message refused this many times (a rejected payload, or a revoked hook) is dropped and
 * logged so it cannot block the queue; the tries before it take a few seconds of backoff.
 */
const MAX_REFUSALS = 3;
/** Drops from a full outbox come with every insert: log them at most this often. */
const DROP_LOG_EVERY_MS = 10_000;
/** Storage trouble is rechecked every few seconds: clearing is tried again as often. */
const CLEAR_RETRY_MS = 5_000;
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
  /** How long without new trouble ends an incident (see incident.ts). */
  incidentQuietMs: number;
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
  private readonly timer: Timer;
  private inFlight: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private notBefore = 0;
  private failures = 0;
  private refusals = 0;
  private stopped = false;
  /** Delivered events the outbox could not forget (storage trouble): cleared later, or they go out again after a restart. */
  private uncleared: number[] = [];
  private clearRetry: NodeJS.Timeout | null = null;
  private readonly incident: Incident;
  private readonly ledger = new DropLedger();
  /** Every stored event of this destination up to this id was dropped from the full outbox. */
  private droppedThrough = 0;
  private dropsNotLogged = 0;
  private dropLoggedAt = -Infinity;
  private dropLog: NodeJS.Timeout | null = null;

  constructor(private readonly opts: DeliveryOptions) {
    this.batcher = new Batcher(opts.batch);
    this.incident = new Incident(opts.incidentQuietMs);
    this.timer = new Timer(() => this.sendNext(), { ...systemClock, now: opts.clock });
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

  /** Forgets events the outbox dropped to stay within its limit; the next message says how many. */
  dropped(trimmed: Trimmed): void {
    this.droppedThrough = Math.max(this.droppedThrough, trimmed.throughId);
    for (const id of this.known) if (id > 0 && id <= trimmed.throughId) this.known.delete(id);
    this.batcher.dropThrough(trimmed.throughId);
    this.ledger.outboxFull(trimmed.count);
    this.dropsNotLogged += trimmed.count;
    // One line for the drops of a burst (and of every insert while the outbox stays full).
    if (!this.dropLog && !this.stopped) {
      const wait = Math.max(0, this.dropLoggedAt + DROP_LOG_EVERY_MS - this.opts.clock());
      this.dropLog = setTimeout(() => this.logDrops(this.opts.clock()), wait);
    }
  }

  private logDrops(now: number): void {
    if (this.dropLog) clearTimeout(this.dropLog);
    this.dropLog = null;
    if (this.dropsNotLogged === 0) return;
    this.opts.logger.warn(
      { destination: this.destination, dropped: this.dropsNotLogged, pending: this.known.size },
      'outbox full: dropped the oldest undelivered notifications (see SPO2_OUTBOX_LIMIT)',
    );
    this.dropsNotLogged = 0;
    this.dropLoggedAt = now;
  }

  /** Stops sending; waits up to `graceMs` for a message in flight, then aborts it. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    this.logDrops(this.opts.clock());
    this.timer.cancel();
    if (this.clearRetry) clearTimeout(this.clearRetry);
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
    this.timer.set(Math.max(readyAt, this.notBefore));
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
    const trouble = lines.some(isNewTrouble);
    const sentAt = clock();
    const message: MessageContext = { now: sentAt, opensIncident: trouble && this.incident.opens(sentAt), dropped: this.ledger.unreported() };
    const { body, headers } = sender.encode(lines, message);
    const outcome = await this.post(body, headers);
    const now = clock();
    // Events of this message the full outbox dropped while it was in flight.
    const droppedInFlight = batch.ids.filter((id) => id > 0 && id <= this.droppedThrough).length;
    const log = { destination: this.destination, lines: lines.length, events: batch.ids.length };

    if (outcome.kind === 'delivered') {
      this.failures = 0;
      this.refusals = 0;
      this.notBefore = now + timing.minGapMs;
      this.ledger.reported(message.dropped);
      this.ledger.deliveredAfterAll(droppedInFlight);
      if (trouble) this.incident.told(now, message.opensIncident);
      logger.info({ ...log, pending: this.known.size - (batch.ids.length - droppedInFlight) }, 'notification delivered');
      await this.forget(batch);
      return;
    }
    if ((outcome.kind === 'rejected' || outcome.kind === 'gone') && ++this.refusals >= MAX_REFUSALS) {
      // Given up on: the next message goes out at the usual pace, not after this one's backoff.
      this.refusals = 0;
      this.failures = 0;
      this.notBefore = now + timing.minGapMs;
      this.ledger.refused(batch.ids.length - droppedInFlight, outcome.reason);
      const urls = lines.slice(0, 5).map((l) => l.event.url);
      if (outcome.kind === 'gone') {
        logger.error({ ...log, reason: outcome.reason, urls }, 'destination says the hook is revoked or gone; dropped this notification (configure a new hook and restart)');
      } else {
        logger.error({ ...log, reason: outcome.reason, urls }, 'destination keeps rejecting this notification; dropped it');
      }
      await this.forget(batch);
      return;
    }
    this.failures++;
    const retryAfterMs = outcome.kind === 'retry' ? outcome.retryAfterMs : null;
    // The destination's own Retry-After wins over our guess; never spin faster than the gap.
    const wait = Math.max(timing.minGapMs, retryAfterMs ?? backoffMs(this.failures, timing.backoff, this.opts.random));
    this.notBefore = now + wait;
    this.batcher.putBack(batch);
    if (droppedInFlight > 0) this.batcher.dropThrough(this.droppedThrough);
    if (!this.stopped) logger.warn({ ...log, reason: outcome.reason, attempt: this.failures, retryInMs: wait }, 'notification not delivered; will retry');
  }

  private async forget(batch: Batch): Promise<void> {
    for (const id of batch.ids) this.known.delete(id);
    await this.clear(batch.ids);
  }

  /**
   * Removes delivered events from the outbox. During storage trouble that fails: the ids
   * are kept and tried again (with the next delivery, or every few seconds), so a message
   * sent during an outage is not sent a second time after the next restart.
   */
  private async clear(ids: readonly number[]): Promise<void> {
    if (this.clearRetry) clearTimeout(this.clearRetry);
    this.clearRetry = null;
    const all = this.uncleared.length > 0 ? [...this.uncleared, ...ids] : ids;
    try {
      await this.opts.outbox.delivered(all);
      if (this.uncleared.length > 0) this.opts.logger.info({ destination: this.destination, events: this.uncleared.length }, 'cleared delivered events from the outbox after storage trouble');
      this.uncleared = [];
    } catch (err) {
      if (this.uncleared.length === 0) this.opts.logger.error({ err, destination: this.destination, events: all.length }, 'could not clear delivered events from the outbox; trying again until storage works');
      this.uncleared = [...all];
      if (!this.stopped) {
        this.clearRetry = setTimeout(() => void this.clear([]), this.opts.timing.clearRetryMs ?? CLEAR_RETRY_MS);
        this.clearRetry.unref();
      }
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
