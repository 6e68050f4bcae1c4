import type { Transition } from '../core/health.js';
import type { TransitionEvent } from '../events.js';

/** Where notifications go; each has its own queue, retries and rate limit. */
export type Destination = 'slack' | 'webhook';

/** One transition or reminder of one target, as the notifier keeps and sends it. */
export interface NotifyEvent extends Transition {
  url: string;
  /** The target's custom JSON data. */
  data: unknown;
}

export function toNotifyEvent({ target, transition }: TransitionEvent): NotifyEvent {
  const { kind, status, reason, httpStatus, at, previous } = transition;
  return { url: target.url, kind, status, reason, httpStatus, at, previous: { ...previous }, data: target.data };
}
