/**
 * When a message holding new trouble (a target that newly went bad) is followed by another
 * within this many notify windows, both belong to one incident. Messages of one wave go
 * out a gap (~1 s) apart when full and at most a window apart otherwise; three windows
 * leave room for a retry or a straggler that crossed the threshold a little later.
 */
const QUIET_WINDOWS = 3;
/** With a short (or zero) window, a wave still spreads over a few probe periods: not less than this. */
const MIN_QUIET_MS = 30_000;
/** A steady trickle of failures must not keep one incident open forever and silence the channel. */
export const MAX_INCIDENT_MS = 10 * 60_000;

/** The quiet period that ends an incident, from SPO2_NOTIFY_WINDOW. */
export function incidentQuietMs(notifyWindowMs: number): number {
  return Math.max(MIN_QUIET_MS, QUIET_WINDOWS * notifyWindowMs);
}

/**
 * Which message of one destination mentions the channel. An incident is a run of
 * delivered messages holding new trouble, each within `quietMs` of the one before; only
 * its first message mentions, so a wave of 100 targets split over three messages pages
 * people once. An incident older than MAX_INCIDENT_MS ends at its next message, which
 * mentions again. Fed with the clock by its caller.
 */
export class Incident {
  private startedAt: number | null = null;
  private lastAt = 0;

  constructor(private readonly quietMs: number) {}

  /** Whether a message holding new trouble, sent at `now`, opens a new incident (and so mentions). */
  opens(now: number): boolean {
    return this.startedAt === null || now - this.lastAt >= this.quietMs || now - this.startedAt >= MAX_INCIDENT_MS;
  }

  /** A message holding new trouble reached the destination at `now`; `opened` = it was the one that mentioned. */
  told(now: number, opened: boolean): void {
    if (opened || this.startedAt === null) this.startedAt = now;
    this.lastAt = now;
  }
}
