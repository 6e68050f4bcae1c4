/** The status of one probe, and the damped status SpO₂ reports for a target. */
export type Status = 'Healthy' | 'Unhealthy' | 'Unreachable';

/** What a WebSocket client sees for a target that was unregistered. */
export type EventStatus = Status | 'Removed';

/** Every status, in the order people read them. */
export const STATUSES: readonly Status[] = ['Healthy', 'Unhealthy', 'Unreachable'];

export function isStatus(value: unknown): value is Status {
  return value === 'Healthy' || value === 'Unhealthy' || value === 'Unreachable';
}

/** The outcome of one HTTP check: `probe()` returns it, the state machine consumes it. */
export interface ProbeResult {
  status: Status;
  /** `""` when healthy, the status line (`503 Service Unavailable`) or the error message otherwise. */
  reason: string;
  /** The HTTP status code, or null when no HTTP answer came back. */
  httpStatus: number | null;
  latencyMs: number;
  /** Epoch milliseconds when the probe started. */
  at: number;
}
