/** Events of one destination given up on and not yet told in a delivered message. */
export interface Dropped {
  /** The oldest events, dropped to keep the outbox within SPO2_OUTBOX_LIMIT. */
  outboxFull: number;
  /** Events of messages the destination refused for good (400, 403, 404, 410, …). */
  refused: number;
  /** What the destination said the last time it refused one. */
  refusedReason: string;
}

export const NOTHING_DROPPED: Readonly<Dropped> = { outboxFull: 0, refused: 0, refusedReason: '' };

/**
 * Counts what one destination lost until a delivered message has told the reader: a
 * message says what it was built with, and only a delivery clears that much, so drops
 * that happen while it is in flight, or a message that fails, lose no count.
 */
export class DropLedger {
  private counts: Dropped = { ...NOTHING_DROPPED };

  /** What the next message must tell. */
  unreported(): Dropped {
    return { ...this.counts };
  }

  outboxFull(n: number): void {
    this.counts.outboxFull += n;
  }

  refused(n: number, reason: string): void {
    this.counts.refused += n;
    this.counts.refusedReason = reason;
  }

  /** Events counted as dropped from the outbox while in flight, then delivered after all. */
  deliveredAfterAll(n: number): void {
    this.counts.outboxFull = Math.max(0, this.counts.outboxFull - n);
  }

  /** A message that told `told` was delivered. */
  reported(told: Dropped): void {
    this.counts.outboxFull = Math.max(0, this.counts.outboxFull - told.outboxFull);
    this.counts.refused = Math.max(0, this.counts.refused - told.refused);
    if (this.counts.refused === 0) this.counts.refusedReason = '';
  }
}
