import { formatDuration } from '../core/duration.js';
import type { TransitionKind } from '../core/health.js';
import type { Status } from '../core/status.js';
import type { Dropped } from './dropped.js';
import type { NotifyEvent } from '../core/notify-event.js';

/** One URL's events in a batch, collapsed to the latest without losing what they said. */
export interface Line {
  /** The latest event of the URL. */
  event: NotifyEvent;
  /** 'bad' also when the URL went bad in this batch and a reminder followed. */
  kind: TransitionKind;
  /** How many earlier events of the URL this line stands for. */
  folded: number;
  /** Epoch ms of the URL's earliest event in the batch. */
  firstAt: number;
}

/** The Slack incoming-webhook payload. */
export interface SlackMessage {
  text: string;
}

/** One element of the generic webhook's `events` array. */
export interface WebhookEvent {
  url: string;
  status: Status;
  previous: Status;
  reason: string;
  httpStatus: number | null;
  /** ISO time of the probe that caused the event. */
  at: string;
  data: unknown;
  kind: TransitionKind;
  previousReason: string;
  previousHttpStatus: number | null;
  /** ISO time the previous status began (for a recovery: when the outage started). */
  previousSince: string;
  folded: number;
}

/** A message that goes out this much after its oldest event says so. */
const DELAY_NOTE_MS = 2 * 60_000;
/** Reasons come from remote servers: keep a line readable whatever they send. */
const MAX_REASON_CHARS = 300;

/**
 * Collapses the events of one URL (oldest first, at least one) into one line. `total` is
 * how many events the line stands for when only some of them are given.
 */
export function collapse(events: readonly NotifyEvent[], total = events.length): Line {
  const event = events[events.length - 1];
  if (!event) throw new Error('collapse() needs at least one event');
  // A reminder right after the URL went bad in the same batch is still news to the reader.
  const wentBad = event.kind === 'reminder' && events.some((e) => e.kind === 'bad');
  return { event, kind: wentBad ? 'bad' : event.kind, folded: Math.max(events.length, total) - 1, firstAt: events[0]!.at };
}

/** True when the line tells of a target that newly went bad (and has not recovered). */
export function isNewTrouble(line: Line): boolean {
  return line.kind === 'bad';
}

/**
 * The Slack message of a batch. The mention opens it only when a target newly went bad
 * (the caller passes an empty mention for the later messages of an incident); `text`
 * carries every line. Lines follow the notification contract in DESIGN.md.
 */
export function formatSlack(lines: readonly Line[], opts: { mention: string; now: number; dropped?: Dropped }): SlackMessage {
  const out: string[] = [];
  if (opts.mention !== '' && lines.some(isNewTrouble)) out.push(opts.mention);
  for (const line of lines) out.push(slackLine(line));
  const folded = lines.reduce((n, l) => n + l.folded, 0);
  // A bad+recovered pair is fully told by its line; say so only when more was folded away.
  if (lines.some((l) => l.folded >= 2)) out.push(`(${folded} earlier ${plural(folded, 'event')} folded into these lines)`);
  if (opts.dropped) out.push(...droppedNotes(opts.dropped));
  const oldest = lines.reduce((t, l) => Math.min(t, l.firstAt), Infinity);
  if (opts.now - oldest > DELAY_NOTE_MS) {
    out.push(`(delivered late: the oldest event is from ${isoSeconds(oldest)}, ${formatDuration(opts.now - oldest)} ago)`);
  }
  return { text: out.join('\n') };
}

/** What was given up on since the last delivered message: a reader must know lines are missing. */
export function droppedNotes(d: Dropped): string[] {
  const out: string[] = [];
  if (d.outboxFull > 0) {
    out.push(`(${d.outboxFull} older ${plural(d.outboxFull, 'event')} ${d.outboxFull === 1 ? 'was' : 'were'} dropped: the outbox of this destination was full, see SPO2_OUTBOX_LIMIT)`);
  }
  if (d.refused > 0) {
    out.push(`(${d.refused} ${plural(d.refused, 'event')} ${d.refused === 1 ? 'was' : 'were'} dropped after this destination refused them: ${escapeSlack(clip(d.refusedReason))})`);
  }
  return out;
}

export function slackLine(line: Line): string {
  const e = line.event;
  const url = escapeSlack(e.url);
  switch (line.kind) {
    case 'bad':
      return `${url} reported ${e.status}${e.reason ? ` (${escapeSlack(clip(e.reason))})` : ''}`;
    case 'reminder':
      return `${url} is still ${e.status}`;
    case 'recovered': {
      const base = `${url} is now Healthy 🎉`;
      if (line.folded === 0) return base;
      // The outage ended before anyone was told: keep its status, reason and length.
      const p = e.previous;
      const facts = [p.status, escapeSlack(clip(p.reason)), `for ${formatDuration(Math.max(0, e.at - p.since))}`].filter((f) => f !== '');
      return `${base} (was ${facts.join(', ')})`;
    }
  }
}

/** The generic webhook body of a batch: one element per line, newest facts first-class. */
export function formatWebhook(lines: readonly Line[], dropped?: Dropped): { events: WebhookEvent[]; dropped?: Dropped } {
  const told = dropped && (dropped.outboxFull > 0 || dropped.refused > 0) ? { dropped } : {};
  return {
    events: lines.map(({ event: e, kind, folded }) => ({
      url: e.url,
      status: e.status,
      previous: e.previous.status,
      reason: e.reason,
      httpStatus: e.httpStatus,
      at: new Date(e.at).toISOString(),
      data: e.data,
      kind,
      previousReason: e.previous.reason,
      previousHttpStatus: e.previous.httpStatus,
      previousSince: new Date(e.previous.since).toISOString(),
      folded,
    })),
    ...told,
  };
}

/** Slack reads `<...>` as links and mentions: a URL or a reason must never become one. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string): string {
  return text.length > MAX_REASON_CHARS ? text.slice(0, MAX_REASON_CHARS - 1) + '…' : text;
}

function plural(n: number, word: string): string {
  return n === 1 ? word : word + 's';
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
