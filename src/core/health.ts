import type { ProbeResult, Status } from './status.js';

/**
 * The health state machine: pure, fed with probe results that carry their own clock.
 * It damps raw results over a window so a blip is not an alert (see DESIGN.md).
 */
export interface HealthConfig {
  /** How many recent results are looked at; the ratio divides by this, not by the fill. */
  windowSize: number;
  intervalMs: number;
  fastIntervalMs: number;
  /** 0 turns reminders off. */
  remindAfterMs: number;
}

export interface Health {
  /** The damped, reported status. */
  status: Status;
  reason: string;
  httpStatus: number | null;
  /** Epoch ms when the reported status began (the start of the outage while bad). */
  since: number;
  bad: boolean;
  /** Recent raw results, oldest first, newest last: true = bad. Never longer than the window. */
  window: boolean[];
  /** When the next "still bad" reminder is due, while bad. */
  remindAt: number | null;
  /** The last raw result, exposed beside the damped status. */
  last: ProbeResult | null;
}

export type TransitionKind = 'bad' | 'recovered' | 'reminder';

/** A change worth telling people about. */
export interface Transition {
  kind: TransitionKind;
  status: Status;
  reason: string;
  httpStatus: number | null;
  at: number;
  /** The reported state just before this transition (for a recovery: the outage it ends). */
  previous: { status: Status; reason: string; httpStatus: number | null; since: number };
}

export function initialHealth(now: number): Health {
  return { status: 'Healthy', reason: '', httpStatus: null, since: now, bad: false, window: [], remindAt: null, last: null };
}

export function badCount(health: Health): number {
  return countTrue(health.window);
}

/** Feeds one probe result; returns the new state and the transition it caused, if any. */
export function observe(health: Health, result: ProbeResult, config: HealthConfig): { health: Health; transition: Transition | null } {
  const isBad = result.status !== 'Healthy';
  const window = health.window.slice(Math.max(0, health.window.length - config.windowSize + 1));
  window.push(isBad);
  const next: Health = { ...health, window, last: result };
  const ratio = countTrue(window) / config.windowSize;

  if (!health.bad) {
    if (ratio >= 0.5 && isBad) {
      Object.assign(next, {
        bad: true, status: result.status, reason: result.reason, httpStatus: result.httpStatus, since: result.at,
        remindAt: config.remindAfterMs > 0 ? result.at + config.remindAfterMs : null,
      });
      return { health: next, transition: { kind: 'bad', status: result.status, reason: result.reason, httpStatus: result.httpStatus, at: result.at, previous: previousOf(health) } };
    }
    return { health: next, transition: null };
  }

  if (ratio === 0) {
    Object.assign(next, { bad: false, status: 'Healthy', reason: '', httpStatus: result.httpStatus, since: result.at, remindAt: null });
    return { health: next, transition: { kind: 'recovered', status: 'Healthy', reason: '', httpStatus: result.httpStatus, at: result.at, previous: previousOf(health) } };
  }

  // Still bad: the reported status follows the latest bad result (Unhealthy may turn
  // Unreachable), but the outage keeps its start time.
  if (isBad) Object.assign(next, { status: result.status, reason: result.reason, httpStatus: result.httpStatus });
  if (health.remindAt !== null && result.at >= health.remindAt) {
    next.remindAt = result.at + config.remindAfterMs;
    return {
      health: next,
      transition: { kind: 'reminder', status: next.status, reason: next.reason, httpStatus: next.httpStatus, at: result.at, previous: previousOf(health) },
    };
  }
  return { health: next, transition: null };
}

/** How long until the next probe of a target in this state. */
export function nextDelay(health: Health, config: HealthConfig): number {
  const ratio = badCount(health) / config.windowSize;
  if (ratio >= 1) return config.intervalMs; // fully down: no hammering
  const lastBad = health.window.length > 0 && health.window[health.window.length - 1] === true;
  if (health.bad || lastBad || ratio >= 0.5) return config.fastIntervalMs;
  return config.intervalMs;
}

function previousOf(h: Health): Transition['previous'] {
  return { status: h.status, reason: h.reason, httpStatus: h.httpStatus, since: h.since };
}

function countTrue(values: boolean[]): number {
  let n = 0;
  for (const v of values) if (v) n++;
  return n;
}
