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
  /** The last raw result, exposed beside the damped status; `observe` overwrites it in place. */
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

/**
 * Feeds one probe result into `health`, which is updated in place, and returns the
 * transition it caused, if any. In place, because a target's state lives as long as the
 * target: a fresh copy per probe would be old-generation garbage, thousands a second.
 */
export function observe(health: Health, result: ProbeResult, config: HealthConfig): Transition | null {
  const isBad = result.status !== 'Healthy';
  // The window and the last result are updated in place too: a fresh array or result
  // object per probe would live one period, long enough to be promoted, then die.
  const window = health.window;
  while (window.length > config.windowSize) window.shift(); // the window size was lowered
  if (window.length < config.windowSize) window.push(isBad);
  else {
    for (let i = 1; i < window.length; i++) window[i - 1] = window[i]!;
    window[window.length - 1] = isBad;
  }
  const last = health.last;
  if (last === null) health.last = { ...result };
  else {
    last.status = result.status;
    last.reason = result.reason;
    last.httpStatus = result.httpStatus;
    last.latencyMs = result.latencyMs;
    last.at = result.at;
  }
  const ratio = countTrue(window) / config.windowSize;

  if (!health.bad) {
    if (ratio < 0.5 || !isBad) return null;
    const previous = previousOf(health);
    Object.assign(health, {
      bad: true, status: result.status, reason: result.reason, httpStatus: result.httpStatus, since: result.at,
      remindAt: config.remindAfterMs > 0 ? result.at + config.remindAfterMs : null,
    });
    return { kind: 'bad', status: result.status, reason: result.reason, httpStatus: result.httpStatus, at: result.at, previous };
  }

  if (ratio === 0) {
    const previous = previousOf(health);
    Object.assign(health, { bad: false, status: 'Healthy', reason: '', httpStatus: result.httpStatus, since: result.at, remindAt: null });
    return { kind: 'recovered', status: 'Healthy', reason: '', httpStatus: result.httpStatus, at: result.at, previous };
  }

  // Still bad: the reported status follows the latest bad result (Unhealthy may turn
  // Unreachable), but the outage keeps its start time.
  const previous = previousOf(health);
  if (isBad) Object.assign(health, { status: result.status, reason: result.reason, httpStatus: result.httpStatus });
  if (health.remindAt === null || result.at < health.remindAt) return null;
  health.remindAt = result.at + config.remindAfterMs;
  return { kind: 'reminder', status: health.status, reason: health.reason, httpStatus: health.httpStatus, at: result.at, previous };
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
