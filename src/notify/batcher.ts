import type { OutboxEntry } from '../store/ports.js';

export interface BatcherOptions {
  /** Most lines (distinct URLs) in one message: SPO2_NOTIFY_BATCH. */
  maxLines: number;
  /** How long the first pending event waits for company: SPO2_NOTIFY_WINDOW. */
  windowMs: number;
}

/** The events of one URL waiting in the same message, oldest first. */
export interface Group {
  url: string;
  /** The events kept for the message: all of them, or the first and the latest of a long backlog. */
  entries: OutboxEntry[];
  /** Every pending event of the URL, the ones no longer kept in memory included. */
  ids: number[];
  /** When the first of them reached the batcher. */
  arrivedAt: number;
}

/** A URL with more pending events than this keeps only its first and latest ones in memory. */
const KEEP_EVENTS = 64;
const KEEP_LATEST = 32;

export interface Batch {
  groups: Group[];
  ids: number[];
}

/**
 * Groups pending events into messages, fed with the clock by its caller. A message holds
 * at most `maxLines` URLs; every pending event of a URL rides with it and collapses into
 * its line, so a long backlog folds instead of flooding. A message is ready when it is
 * full, or when its oldest event has waited `windowMs`.
 */
export class Batcher {
  // Map order is arrival order of each URL's first pending event: the oldest go first.
  private groups = new Map<string, Group>();
  private events = 0;

  constructor(private readonly opts: BatcherOptions) {}

  /** Pending events. */
  get size(): number {
    return this.events;
  }

  add(entry: OutboxEntry, now: number): void {
    const group = this.groups.get(entry.event.url);
    if (group) {
      group.entries.push(entry);
      group.ids.push(entry.id);
      // A days-long outage of a flapping target must not grow memory without bound; the
      // line needs only the first event (its time) and the latest ones (what it says now).
      if (group.entries.length > KEEP_EVENTS) group.entries.splice(1, group.entries.length - 1 - KEEP_LATEST);
    } else {
      this.groups.set(entry.event.url, { url: entry.event.url, entries: [entry], ids: [entry.id], arrivedAt: now });
    }
    this.events++;
  }

  /** When the next message is ready (possibly in the past), or null when nothing waits. */
  readyAt(): number | null {
    const first = this.groups.values().next();
    if (first.done) return null;
    if (this.groups.size >= this.opts.maxLines) return first.value.arrivedAt;
    return first.value.arrivedAt + this.opts.windowMs;
  }

  /** Takes the next message if it is ready at `now`. */
  take(now: number): Batch | null {
    const readyAt = this.readyAt();
    if (readyAt === null || readyAt > now) return null;
    const groups: Group[] = [];
    for (const group of this.groups.values()) {
      if (groups.length >= this.opts.maxLines) break;
      groups.push(group);
    }
    for (const g of groups) this.groups.delete(g.url);
    const ids = groups.flatMap((g) => g.ids);
    this.events -= ids.length;
    return { groups, ids };
  }

  /**
   * Forgets every stored event with an id up to `throughId` (the outbox dropped them);
   * events kept only in memory (negative ids) stay. Returns how many were forgotten.
   */
  dropThrough(throughId: number): number {
    const gone = (id: number): boolean => id > 0 && id <= throughId;
    let removed = 0;
    for (const [url, g] of this.groups) {
      if (!g.ids.some(gone)) continue;
      const ids = g.ids.filter((id) => !gone(id));
      const entries = g.entries.filter((e) => !gone(e.id));
      if (ids.length === 0 || entries.length === 0) {
        this.groups.delete(url);
        removed += g.ids.length;
      } else {
        removed += g.ids.length - ids.length;
        this.groups.set(url, { ...g, ids, entries });
      }
    }
    this.events -= removed;
    return removed;
  }

  /** Returns a message that could not be sent to the front, merged with what came since. */
  putBack(batch: Batch): void {
    const merged = new Map<string, Group>();
    for (const g of batch.groups) {
      const newer = this.groups.get(g.url);
      merged.set(g.url, newer
        ? { url: g.url, entries: [...g.entries, ...newer.entries], ids: [...g.ids, ...newer.ids], arrivedAt: g.arrivedAt }
        : g);
    }
    for (const [url, g] of this.groups) if (!merged.has(url)) merged.set(url, g);
    this.groups = merged;
    this.events += batch.ids.length;
  }
}
