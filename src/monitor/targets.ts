import { type Target, type TargetValue, toValue } from '../core/target.js';

/**
 * The targets being checked, in memory, by URL and by id: the system's read model. `/all`,
 * pagination, the WebSocket snapshot and every GET read it; only the monitor changes it.
 */
export class TargetTable<E extends { target: Target }> {
  private readonly byUrl = new Map<string, E>();
  private readonly byId = new Map<number, E>();

  get size(): number {
    return this.byUrl.size;
  }

  /** The monitor's own entry of a URL. */
  entry(url: string): E | undefined {
    return this.byUrl.get(url);
  }

  /** Every entry, oldest registration first. */
  entries(): IterableIterator<E> {
    return this.byUrl.values();
  }

  set(entry: E): void {
    this.byUrl.set(entry.target.url, entry);
    this.byId.set(entry.target.id, entry);
  }

  delete(entry: E): void {
    this.byUrl.delete(entry.target.url);
    this.byId.delete(entry.target.id);
  }

  get(url: string): TargetValue | undefined {
    const e = this.byUrl.get(url);
    return e && toValue(e.target);
  }

  getById(id: number): TargetValue | undefined {
    const e = this.byId.get(id);
    return e && toValue(e.target);
  }

  has(url: string): boolean {
    return this.byUrl.has(url);
  }

  /** Every target, oldest registration first. */
  *values(): IterableIterator<TargetValue> {
    for (const e of this.byUrl.values()) yield toValue(e.target);
  }

  list(): TargetValue[] {
    return [...this.values()];
  }
}
