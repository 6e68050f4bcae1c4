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
  close(): Promise<void>;
}
