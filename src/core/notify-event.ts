import type { Transition } from './health.js';
import type { TargetValue } from './target.js';

/** Where notifications go; each has its own queue, retries and rate limit. */
export type Destination = 'slack' | 'webhook';

/** One transition or reminder of one target, as the outbox keeps it and the notifier sends it. */
export interface NotifyEvent extends Transition {
  url: string;
  /** The target's custom JSON data. */
  data: unknown;
}

export function toNotifyEvent(target: TargetValue, transition: Transition): NotifyEvent {
  const { kind, status, reason, httpStatus, at, previous } = transition;
  return { url: target.url, kind, status, reason, httpStatus, at, previous: { ...previous }, data: target.data };
}
