/**
 * What the rest of SpO₂ needs from storage, whatever the engine: the ports. Engines live
 * in their own folders (sqlite/, postgres/) and implement these; nothing outside an
 * engine's folder (but the wiring in app.ts and cli.ts) names one. Every write resolves
 * only once it is committed, so the API acknowledges nothing a crash could lose. How an
 * engine gets there (group commit, a pool, batched statements) is its own business.
 */
import type { Health } from '../core/health.js';
import type { Destination, NotifyEvent } from '../core/notify-event.js';

/** A target as it is stored: the registration plus the last persisted health. */
export interface StoredTarget {
  id: number;
  url: string;
  data: unknown;
  createdAt: number;
  /** null when no probe result was ever persisted. */
  health: Health | null;
}

export interface UpsertResult {
  id: number;
  created: boolean;
  createdAt: number;
  /** The data now stored. */
  data: unknown;
}

/** The health of one target, as the monitor hands it over to be written. */
export interface HealthUpdate {
  id: number;
  health: Health;
}

/** A stored target whose URL changes to its canonical form. */
export interface UrlRewrite {
  id: number;
  from: string;
  to: string;
}

/** A stored target removed because an older one has the same canonical URL. */
export interface UrlDuplicate {
  id: number;
  /** The canonical URL both had. */
  url: string;
  keptId: number;
  /** Its custom data, logged so that nothing is lost without a trace (filled in by the store). */
  data?: unknown;
}

/** What start-up did to URLs stored before they were canonical (SpO₂ 0.1 kept them verbatim). */
export interface UrlCleanup {
  rewritten: UrlRewrite[];
  removed: UrlDuplicate[];
  /** Ids of stored URLs that do not parse (left as they are; their probes say `invalid url`). */
  unparsable: number[];
}

/** The durable registry of targets and their health. */
export interface Store {
  /**
   * Start-up step, before `loadTargets`: rewrites URLs stored before they were canonical,
   * drops the newer of two that become one, and points their pending notifications at the
   * canonical URL. All or nothing (see store/canonical-urls.ts for the plan).
   */
  canonicaliseUrls(): Promise<UrlCleanup>;
  /** Every target, oldest registration (lowest id) first. */
  loadTargets(): Promise<StoredTarget[]>;
  /** Adds the URL or replaces its data; `data === undefined` keeps an existing target's data. */
  upsertTarget(url: string, data: unknown, now: number): Promise<UpsertResult>;
  /** Replaces the data of a registered URL; resolves false (and adds nothing) when it is not registered. */
  updateData(url: string, data: unknown, now: number): Promise<boolean>;
  /** Resolves false when the URL was not registered. */
  deleteTarget(url: string): Promise<boolean>;
  /**
   * Persists the latest probe results of many targets (the monitor's periodic flush, in
   * slices); ids no longer stored are ignored. An engine writes a slice as one batch.
   */
  saveHealth(items: readonly HealthUpdate[]): Promise<void>;
  /**
   * A transition: the target's new health and its event, once per destination, in the
   * outbox — one transaction, so a crash keeps both or neither. Drops the oldest events of
   * a destination over the outbox limit in that same transaction. `destinations` may be
   * empty (notifications off): the health alone is written.
   */
  recordTransition(update: HealthUpdate, event: NotifyEvent, destinations: readonly Destination[]): Promise<Added>;
  /** The undelivered notifications, in the same database. */
  readonly outbox: Outbox;
  /** Why the store cannot write now (disk full, read-only, the server is down…); null while it writes fine. /healthz shows it. */
  trouble(): StoreUnavailableError | null;
  close(): Promise<void>;
}

/** An event waiting for one destination. */
export interface OutboxEntry {
  /** Positive once stored; negative for an event kept only in memory because the write failed. */
  id: number;
  destination: Destination;
  event: NotifyEvent;
}

/** The oldest events of one destination, dropped to keep its queue within the limit. */
export interface Trimmed {
  destination: string;
  /** How many rows were deleted. */
  count: number;
  /** Every stored event of the destination with an id up to this one is gone. */
  throughId: number;
}

export interface Added {
  entries: OutboxEntry[];
  /** What the same transaction dropped to make room, per destination over the limit. */
  trimmed: Trimmed[];
}

/**
 * The durable queue of undelivered events: written with the transition that caused them
 * (Store.recordTransition), cleared only after the destination answered 2xx (or refused
 * for good), so delivery is at least once across outages and restarts. Each destination
 * keeps at most a limit of events: beyond it the oldest are dropped, since a queue that
 * grows without bound ends the process that holds it. Ids grow with insertion order.
 */
/** The default of SPO2_OUTBOX_LIMIT, for stores opened by tests and tools. */
export const OUTBOX_LIMIT = 10_000;

export interface Outbox {
  /** Drops the oldest events of every destination over the limit (a limit lowered since the last run). */
  trim(): Promise<Trimmed[]>;
  /** Every undelivered event of a destination, oldest first. */
  pending(destination: Destination): Promise<OutboxEntry[]>;
  /** Forgets delivered events; ids that were never stored (or were dropped) are ignored. */
  delivered(ids: readonly number[]): Promise<void>;
  /** Undelivered events per destination, including destinations no longer configured. */
  counts(): Promise<Record<string, number>>;
  /** What waits per destination and since when, for /healthz: cheap enough for every health check. */
  backlog(): Promise<Record<string, DestinationBacklog>>;
}

/** Undelivered notification events of one destination. */
export interface DestinationBacklog {
  pending: number;
  /** When the oldest of them was stored (ms since the epoch); null when none wait. */
  oldestAt: number | null;
}

/*
 * History (next milestone, not built yet): a `History` port beside these two, so that
 * rollups never become a row per probe. What it will need:
 * - the transitions (flip log) per target: written by recordTransition in its transaction,
 *   read newest first with a limit (`/api/v1/targets/{id}/events`);
 * - per-minute rollups (count, bad, latency sum/max, a coarse histogram) appended in
 *   batches by the monitor's writer beside saveHealth, folded into hourly ones, read by
 *   id and time range with a step, and pruned past SPO2_HISTORY_RETENTION;
 * - a target's rows go with deleteTarget.
 */

export type StoreTroubleKind = 'disk-full' | 'read-only' | 'io-error' | 'corrupt' | 'locked' | 'cannot-open' | 'newer-schema' | 'unreachable';

/**
 * The storage itself cannot serve a write (disk full, read-only, I/O error, corruption, a
 * database server that does not answer), as opposed to a bad request: the API answers
 * 503 with `message`, `/healthz` shows `reason`.
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';

  constructor(
    readonly kind: StoreTroubleKind,
    /** What is wrong, short and without the path: `disk full`, `database is read-only`. */
    readonly reason: string,
    /** Where, without credentials: `DATABASE_PATH=/data/spo2.db`. */
    readonly where: string,
    /** Damage that no retry can mend (corruption): only a restart (and a repair) clears it. */
    readonly lasting: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${reason} (${where})`, options);
  }
}
