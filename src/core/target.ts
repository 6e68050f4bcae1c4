import type { Health } from './health.js';
import type { EventStatus, Status } from './status.js';

/** A registered target as the registry keeps it. */
export interface Target {
  id: number;
  url: string;
  /** The custom JSON data attached at registration (null when none). */
  data: unknown;
  createdAt: number;
  health: Health;
}

/** A target as the API, the WebSocket and the CLI show it. */
export interface TargetValue {
  id: number;
  url: string;
  status: Status;
  reason: string;
  data: unknown;
  /** HTTP status code of the last probe, null when it got no HTTP answer or none ran yet. */
  httpStatus: number | null;
  latencyMs: number | null;
  /** ISO time the reported status began. */
  since: string;
  /** ISO time of the last probe, null before the first. */
  lastCheck: string | null;
  /** The raw status of the last probe, beside the damped `status`. */
  lastStatus: Status | null;
  lastReason: string | null;
  createdAt: string;
}

export function toValue(t: Target): TargetValue {
  const h = t.health;
  return {
    id: t.id,
    url: t.url,
    status: h.status,
    reason: h.reason,
    data: t.data,
    httpStatus: h.last?.httpStatus ?? null,
    latencyMs: h.last?.latencyMs ?? null,
    since: new Date(h.since).toISOString(),
    lastCheck: h.last ? new Date(h.last.at).toISOString() : null,
    lastStatus: h.last?.status ?? null,
    lastReason: h.last?.reason ?? null,
    createdAt: new Date(t.createdAt).toISOString(),
  };
}

/** What happened to a target, as the event bus and the WebSocket carry it. */
export type ChangeKind = 'added' | 'updated' | 'status' | 'removed';

export interface TargetChange {
  kind: ChangeKind;
  value: TargetValue;
}

/** The WebSocket/API shape of a change: a value whose status is `Removed` once removed. */
export type ChangeMessage = Omit<TargetValue, 'status'> & {
  status: EventStatus;
  event: ChangeKind | 'snapshot';
  /** On the last message of a snapshot: everything after it is a change. */
  snapshotEnd?: true;
};

export function toMessage(change: TargetChange | { kind: 'snapshot'; value: TargetValue }): ChangeMessage {
  return { ...change.value, status: change.kind === 'removed' ? 'Removed' : change.value.status, event: change.kind };
}
