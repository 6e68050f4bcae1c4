import type { Health } from '../core/health.js';
import type { StoredTarget } from './ports.js';

/** A `targets` row as both engines read it: JSON as its text, times in epoch milliseconds. */
export interface TargetRecord {
  id: number;
  url: string;
  data: string;
  created_at: number;
  health: string | null;
}

/** The target a row holds, its JSON parsed: one reading for every engine. */
export function storedTarget(r: TargetRecord): StoredTarget {
  return {
    id: r.id,
    url: r.url,
    data: JSON.parse(r.data) as unknown,
    createdAt: r.created_at,
    health: r.health ? (JSON.parse(r.health) as Health) : null,
  };
}
