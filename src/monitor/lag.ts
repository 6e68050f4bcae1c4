/** How late probes started, over the last minute: what /healthz and the heartbeat read. */
export interface ProbeLagSummary {
  /** 99th percentile of the lateness of the probes that started in the last minute (~19 % resolution). */
  p99Ms: number;
  /** The latest start of the last minute. */
  maxMs: number;
  /** Probes started in the last minute. */
  probes: number;
}

/** Ten-second slices: the minute slides in steps of 10 s, and a slice is reset on reuse. */
const SLICE_MS = 10_000;
const SLICES = 6;
/** Buckets at 2^(k/4) ms: each about 19 % wider than the last, 1 ms to ~18 h in 64 buckets. */
const PER_OCTAVE = 4;
const BUCKETS = 64;

interface Slice {
  /** Which 10 s slice of time (now / SLICE_MS) this one holds; -1 when empty. */
  stamp: number;
  counts: Uint32Array;
  max: number;
  total: number;
}

/**
 * The lateness of probe starts (start time − due time) over the last minute, as a
 * histogram per 10 s slice: recording is a log2 and an increment, at thousands of probes
 * a second; no sample is kept, so memory is fixed (6 × 64 counters).
 */
export class ProbeLag {
  private readonly slices: Slice[] = Array.from({ length: SLICES }, () => ({ stamp: -1, counts: new Uint32Array(BUCKETS), max: 0, total: 0 }));

  record(lateMs: number, now: number): void {
    const late = lateMs > 0 ? lateMs : 0; // a probe may start a few ms early to share a timer
    const stamp = Math.floor(now / SLICE_MS);
    const slice = this.slices[stamp % SLICES]!;
    if (slice.stamp !== stamp) {
      slice.stamp = stamp;
      slice.counts.fill(0);
      slice.max = 0;
      slice.total = 0;
    }
    slice.counts[bucketOf(late)]!++;
    slice.total++;
    if (late > slice.max) slice.max = late;
  }

  summary(now: number): ProbeLagSummary {
    const newest = Math.floor(now / SLICE_MS);
    const live = this.slices.filter((s) => s.stamp > newest - SLICES && s.stamp <= newest);
    const probes = live.reduce((n, s) => n + s.total, 0);
    const maxMs = live.reduce((m, s) => Math.max(m, s.max), 0);
    if (probes === 0) return { p99Ms: 0, maxMs: 0, probes: 0 };
    // The bucket holding the 99th percentile, reported by its upper edge (never below the truth),
    // but never above the true maximum.
    const rank = Math.ceil(probes * 0.99);
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      for (const s of live) seen += s.counts[b]!;
      if (seen >= rank) return { p99Ms: Math.round(Math.min(upperEdge(b), maxMs)), maxMs: Math.round(maxMs), probes };
    }
    return { p99Ms: Math.round(maxMs), maxMs: Math.round(maxMs), probes };
  }
}

/** Bucket 0 holds [0, 1) ms; bucket k ≥ 1 holds [2^((k-1)/4), 2^(k/4)) ms. */
function bucketOf(ms: number): number {
  if (ms < 1) return 0;
  return Math.min(BUCKETS - 1, 1 + Math.floor(Math.log2(ms) * PER_OCTAVE));
}

function upperEdge(bucket: number): number {
  return bucket === 0 ? 1 : 2 ** (bucket / PER_OCTAVE);
}
