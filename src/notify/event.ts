import type { TransitionKind } from '../core/health.js';
import type { Status } from '../core/status.js';
import type { TransitionEvent } from '../events.js';

/** Where notifications go; each has its own queue, retries and rate limit. */
export type Destination = 'slack' | 'webhook';

/** One transition or reminder of one target, as the notifier keeps and sends it. */
export interface NotifyEvent {
  url: string;
  kind: TransitionKind;
  status: Status;
  reason: string;
  httpStatus: number | null;
  /** Epoch ms of the probe that caused it. */
  at: number;
  /** The reported state just before (for a recovery: the outage it ends, with its start). */
  previous: { status: Status; reason: string; httpStatus: number | null; since: number };
  /** The target's custom JSON data. */
  data: unknown;
}

export function toNotifyEvent({ target, transition }: TransitionEvent): NotifyEvent {
  const { kind, status, reason, httpStatus, at, previous } = transition;
  return { url: target.url, kind, status, reason, httpStatus, at, previous: { ...previous }, data: target.data };
}
