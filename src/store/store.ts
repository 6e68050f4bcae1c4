import type { Health } from '../core/health.js';

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

/**
 * The durable registry. Every write resolves only once it is committed, so the API
 * acknowledges nothing that a crash could lose. Implementations batch concurrent writes
 * into one transaction (group commit).
 */
export interface Store {
  loadTargets(): Promise<StoredTarget[]>;
  /** Adds the URL or replaces its data; `data === undefined` keeps an existing target's data. */
  upsertTarget(url: string, data: unknown, now: number): Promise<UpsertResult>;
  /** Replaces the data of a registered URL; resolves false (and adds nothing) when it is not registered. */
  updateData(url: string, data: unknown, now: number): Promise<boolean>;
  /** Resolves false when the URL was not registered. */
  deleteTarget(url: string): Promise<boolean>;
  /** Persists health states; used at once for transitions and in batches for raw results. */
  saveHealth(items: ReadonlyArray<{ id: number; health: Health }>): Promise<void>;
  /** Why the store cannot write now (disk full, read-only…); null while it writes fine. */
  trouble(): StoreUnavailableError | null;
  close(): Promise<void>;
}

export type StoreTroubleKind = 'disk-full' | 'read-only' | 'io-error' | 'corrupt' | 'locked' | 'cannot-open' | 'newer-schema';

/**
 * The storage itself cannot serve a write (disk full, read-only, I/O error, corruption),
 * as opposed to a bad request: the API answers 503 with `message`, `/healthz` shows `reason`.
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';

  constructor(
    readonly kind: StoreTroubleKind,
    /** What is wrong, short and without the path: `disk full`, `database is read-only`. */
    readonly reason: string,
    /** Where: `DATABASE_PATH=/data/spo2.db`. */
    readonly where: string,
    /** Damage that no retry can mend (corruption): only a restart (and a repair) clears it. */
    readonly lasting: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${reason} (${where})`, options);
  }
}
