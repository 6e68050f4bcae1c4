import { badCount, type Health, type HealthConfig, observe, type Transition } from '../core/health.js';
import type { ProbeResult } from '../core/status.js';

/** What one probe result meant for its target. */
export interface Observation {
  /** A transition or a reminder to write and tell, if any. */
  transition: Transition | null;
  /** What a dashboard shows changed: the damped status or reason, or the raw outcome. */
  visible: boolean;
  /** Something new worth a periodic write (the window's make-up, a status, a reason). */
  news: boolean;
}

/**
 * Feeds one result to the state machine (`health` is updated in place) and says what came
 * of it. Fills `into`, one object reused for every probe: thousands of results a second
 * leave no garbage here.
 */
export function observeResult(health: Health, result: ProbeResult, config: HealthConfig, into: Observation): Observation {
  const { status, reason, last } = health;
  // Read before observe(), which overwrites `last` in place.
  const lastChanged = last === null || last.status !== result.status || last.reason !== result.reason;
  const bad = badCount(health);
  const sameOutcome = result.status === 'Healthy' ? bad === 0 : bad === health.window.length;
  into.transition = observe(health, result, config);
  into.visible = lastChanged || status !== health.status || reason !== health.reason;
  // A steady target (every result in its window had this outcome, however many) has
  // nothing new worth a write but the time and latency of its last check: those are
  // flushed at stop, not every few seconds for every target. After a crash, an all-good
  // window restores to the same damped state; an all-bad one restores with the bad count
  // of its transition (written at once) and refills in a few fast probes.
  into.news = into.visible || !sameOutcome;
  return into;
}
