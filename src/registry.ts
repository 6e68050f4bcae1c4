import type { TargetValue } from './core/target.js';
import type { LiveTargets } from './monitor/monitor.js';
import type { Store } from './store/ports.js';

/**
 * The write path of the API: every change is committed to the store first and applied to
 * the monitor only after, so what a client was told happened survives a crash, and a
 * failed commit changes nothing.
 */
export class Registry {
  constructor(
    private readonly store: Store,
    private readonly monitor: LiveTargets,
    private readonly now: () => number = Date.now,
  ) {}

  /** Adds `url` or replaces its data (`undefined` keeps the current data). */
  async put(url: string, data: unknown): Promise<{ value: TargetValue; created: boolean }> {
    const stored = await this.store.upsertTarget(url, data, this.now());
    // Concurrent requests for one URL commit in order and are applied in the same order.
    if (this.monitor.has(url)) {
      const value = data === undefined ? this.monitor.get(url)! : this.monitor.updateData(url, stored.data)!;
      return { value, created: false };
    }
    const value = this.monitor.add({ id: stored.id, url, data: stored.data, createdAt: stored.createdAt });
    return { value, created: stored.created };
  }

  /**
   * Replaces the data of a registered URL; undefined when it is not (or no longer)
   * registered, so a request racing a removal cannot bring the target back.
   */
  async replaceData(url: string, data: unknown): Promise<TargetValue | undefined> {
    if (!this.monitor.has(url)) return undefined;
    const updated = await this.store.updateData(url, data, this.now());
    return updated ? this.monitor.updateData(url, data) : undefined;
  }

  /** Returns the removed target, or undefined when it was not registered. */
  async remove(url: string): Promise<TargetValue | undefined> {
    if (!this.monitor.has(url)) return undefined;
    const existed = await this.store.deleteTarget(url);
    const value = this.monitor.remove(url);
    return existed ? value : undefined;
  }

  get(url: string): TargetValue | undefined {
    return this.monitor.get(url);
  }

  getById(id: number): TargetValue | undefined {
    return this.monitor.getById(id);
  }

  list(): TargetValue[] {
    return this.monitor.list();
  }

  values(): IterableIterator<TargetValue> {
    return this.monitor.values();
  }

  get size(): number {
    return this.monitor.size;
  }
}
