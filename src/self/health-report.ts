import { formatDuration } from '../core/duration.js';
import type { ProbeLagSummary } from '../monitor/lag.js';
import type { DestinationBacklog, StoreUnavailableError } from '../store/ports.js';

/** SpO₂'s own health, as /healthz shows it (beside `status`, `reason` and `targets`). */
export interface HealthReport {
  probesInFlight: number;
  /** `ok`, or the kind of storage trouble (`disk-full`, `read-only`, `io-error`, `corrupt`…). */
  storage: string;
  probeLag: ProbeLagSummary & { overdueMs: number };
  /** Undelivered events per destination (configured or left over from an earlier configuration). */
  notifications: Record<string, { pending: number; oldestAgeSeconds: number | null }>;
  /** Why SpO₂ is not well right now; empty when it is. The heartbeat is sent only when empty. */
  problems: string[];
}

export interface HealthSources {
  probesInFlight: () => number;
  probeLag: () => ProbeLagSummary & { overdueMs: number };
  storeTrouble: () => StoreUnavailableError | null;
  backlog: () => Promise<Record<string, DestinationBacklog>>;
  /** The destinations notifications go to: only their backlog can be stuck. */
  destinations: readonly string[];
  limits: WellLimits;
  clock?: () => number;
}

export interface WellLimits {
  /** Probes that start later than this (p99 over the last minute, or one overdue now) are late. */
  lateMs: number;
  /** An undelivered notification older than this is stuck. */
  stuckMs: number;
}

/**
 * The limits for a configuration. Late: a probe a whole period late is a missed check (at
 * least 1 s, so a garbage collection at a short interval is not a problem). Stuck: delivery
 * backs off up to 5 min between tries and paces messages (250 messages for 10,000 targets
 * failing at once take ~4 min), so 10 min past the batching window means it is not getting through.
 */
export function wellLimits(config: { intervalMs: number; notifyWindowMs: number }): WellLimits {
  return { lateMs: Math.max(1000, config.intervalMs), stuckMs: 10 * 60_000 + config.notifyWindowMs };
}

export async function healthReport(src: HealthSources): Promise<HealthReport> {
  const now = (src.clock ?? Date.now)();
  const trouble = src.storeTrouble();
  const probeLag = src.probeLag();
  const notifications: HealthReport['notifications'] = {};
  const problems: string[] = [];
  if (trouble) problems.push(`storage: ${trouble.reason}`);
  // A configured destination is always there (0 pending), so a dashboard's series never vanishes.
  for (const d of src.destinations) notifications[d] = { pending: 0, oldestAgeSeconds: null };
  try {
    for (const [destination, b] of Object.entries(await src.backlog())) {
      notifications[destination] = { pending: b.pending, oldestAgeSeconds: b.oldestAt === null ? null : Math.max(0, Math.round((now - b.oldestAt) / 100) / 10) };
    }
  } catch (err) {
    problems.push(`cannot read the notification outbox: ${(err as Error).message}`);
  }
  problems.push(...lagProblems(probeLag, src.limits), ...stuckProblems(notifications, src.destinations, src.limits));
  return { probesInFlight: src.probesInFlight(), storage: trouble ? trouble.kind : 'ok', probeLag, notifications, problems };
}

function lagProblems(lag: HealthReport['probeLag'], limits: WellLimits): string[] {
  const problems: string[] = [];
  if (lag.p99Ms > limits.lateMs) problems.push(`probes start late: ${formatDuration(lag.p99Ms)} (p99 over the last minute; more than ${formatDuration(limits.lateMs)})`);
  if (lag.overdueMs > limits.lateMs) problems.push(`a probe is overdue by ${formatDuration(lag.overdueMs)} (more than ${formatDuration(limits.lateMs)})`);
  return problems;
}

function stuckProblems(notifications: HealthReport['notifications'], destinations: readonly string[], limits: WellLimits): string[] {
  return destinations.flatMap((d) => {
    const age = notifications[d]?.oldestAgeSeconds ?? null;
    return age !== null && age * 1000 > limits.stuckMs ? [`${d}: the oldest undelivered notification is ${formatDuration(age * 1000)} old`] : [];
  });
}
