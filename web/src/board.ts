import type { ChangeMessage } from '../../src/core/target.js';
import type { Status } from '../../src/core/status.js';
import { formatData, formatDuration, formatLatency, splitUrl } from './format.js';
import { ChunkedList } from './layout.js';

export type StatusFilter = Status | 'all';

/** One target's card and the elements that change with it. */
interface Card {
  url: string;
  /** Lower-cased once, for the search box. */
  needle: string;
  status: Status;
  /** 0 for a bad target, 1 for a healthy one: bad ones sort first. */
  rank: number;
  /** The rank it is sorted by in `order` (differs from `rank` until it is placed again). */
  placedRank: number;
  since: number;
  el: HTMLElement;
  reason: HTMLElement;
  sinceEl: HTMLElement;
  latency: HTMLElement;
  statusEl: HTMLElement;
  data: HTMLElement;
}

interface BoardElements {
  list: HTMLElement;
  template: HTMLTemplateElement;
  empty: HTMLElement;
  counts: Map<StatusFilter, HTMLElement>;
}

/** Above this share of the cards changing in one frame, re-sorting everything is cheaper. */
const BULK_SHARE = 0.25;
/**
 * While a snapshot streams in, render at most this often: each partial render re-sorts and
 * moves cards, so 10,000 targets would otherwise pay that cost dozens of times.
 */
const RESYNC_RENDER_MS = 1000;
/** Rows of cards per layout chunk (see layout.ts). */
const ROWS_PER_CHUNK = 6;

const REMOVED = null;

function compareKey(rankA: number, urlA: string, rankB: number, urlB: string): number {
  if (rankA !== rankB) return rankA - rankB;
  return urlA < urlB ? -1 : urlA > urlB ? 1 : 0;
}

const compare = (a: Card, b: Card) => compareKey(a.rank, a.url, b.rank, b.url);

/**
 * The cards, kept in order (bad first, then by URL) with keyed, incremental DOM updates.
 * Messages are only queued; the DOM is touched once per animation frame, so a burst of
 * thousands of changes costs one layout, and a target changed ten times renders once.
 */
export class Board {
  private readonly cards = new Map<string, Card>();
  /** Every card in display order, mirroring the children of `list`. */
  private order: Card[] = [];
  private readonly pending = new Map<string, ChangeMessage | typeof REMOVED>();
  private readonly bad = new Set<Card>();
  private readonly counts: Record<Status, number> = { Healthy: 0, Unhealthy: 0, Unreachable: 0 };
  private frame = 0;
  private resyncTimer: ReturnType<typeof setTimeout> | undefined;
  private query = '';
  private statusFilter: StatusFilter = 'all';
  /** URLs seen since a resync began; null when not resyncing. */
  private resyncSeen: Set<string> | null = null;
  private arrival: { url: string; then: (el: HTMLElement) => void } | null = null;
  private readonly layout: ChunkedList;
  /** Order or filter changed since the last layout. */
  private layoutDirty = false;
  private shown = 0;
  /** What the DOM updates cost, for the bench (bench/dashboard.ts). */
  readonly stats = { flushes: 0, messages: 0, totalMs: 0, maxMs: 0, lastMs: 0 };

  constructor(private readonly dom: BoardElements) {
    this.layout = new ChunkedList(dom.list, ROWS_PER_CHUNK, () => this.relayout());
  }

  get size(): number {
    return this.cards.size;
  }

  /** Queues a message for the next frame. */
  push(msg: ChangeMessage): void {
    this.resyncSeen?.add(msg.url);
    this.pending.set(msg.url, msg.status === 'Removed' ? REMOVED : msg);
    this.schedule();
  }

  /** A new connection: what its snapshot does not mention is gone once `endResync` runs. */
  beginResync(): void {
    this.resyncSeen = new Set();
  }

  endResync(): void {
    const seen = this.resyncSeen;
    if (!seen) return;
    this.resyncSeen = null;
    for (const url of [...this.cards.keys(), ...this.pending.keys()]) {
      if (!seen.has(url)) this.pending.set(url, REMOVED);
    }
    this.schedule();
  }

  setSearch(text: string): void {
    this.query = text.trim().toLowerCase();
    this.relayout();
  }

  setStatusFilter(filter: StatusFilter): void {
    this.statusFilter = filter;
    this.relayout();
  }

  private relayout(): void {
    this.layoutDirty = true;
    this.schedule();
  }

  /** Calls `then` with the card of `url` as soon as it exists (now, or when it arrives). */
  whenPresent(url: string, then: (el: HTMLElement) => void): void {
    const card = this.cards.get(url);
    if (card) then(card.el);
    else this.arrival = { url, then };
  }

  /** Refreshes the "for how long" of bad targets; called every second. */
  tick(now = Date.now()): void {
    for (const card of this.bad) setText(card.sinceEl, `for ${formatDuration(now - card.since)}`);
  }

  private schedule(): void {
    if (this.resyncSeen) {
      this.resyncTimer ??= setTimeout(() => this.flush(), RESYNC_RENDER_MS);
    } else if (this.frame === 0) {
      clearTimeout(this.resyncTimer);
      this.resyncTimer = undefined;
      this.frame = requestAnimationFrame(() => this.flush());
    }
  }

  private flush(): void {
    const started = performance.now();
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
    const batch = [...this.pending];
    this.pending.clear();
    const bulk = batch.length > Math.max(64, this.cards.size * BULK_SHARE);
    const moved: Card[] = [];
    const now = Date.now();
    for (const [url, msg] of batch) {
      if (msg === REMOVED) this.remove(url, bulk);
      else {
        const card = this.upsert(msg, now);
        if (card) moved.push(card);
      }
    }
    if (bulk) this.resort();
    else for (const card of moved) this.place(card);
    if (this.layoutDirty || bulk || moved.length > 0) {
      this.layoutDirty = false;
      this.shown = this.layout.render(this.order, (card) => this.matches(card));
    }
    this.renderCounts();
    if (this.arrival) {
      const card = this.cards.get(this.arrival.url);
      if (card) {
        this.arrival.then(card.el);
        this.arrival = null;
      }
    }
    const ms = performance.now() - started;
    Object.assign(this.stats, {
      flushes: this.stats.flushes + 1, messages: this.stats.messages + batch.length, totalMs: this.stats.totalMs + ms,
      maxMs: Math.max(this.stats.maxMs, ms), lastMs: ms,
    });
  }

  /** Applies a value to its card; returns the card when its position must change. */
  private upsert(msg: ChangeMessage, now: number): Card | null {
    const status = msg.status as Status;
    let card = this.cards.get(msg.url);
    const isNew = !card;
    const oldRank = card?.rank;
    if (!card) {
      card = this.create(msg.url);
      this.cards.set(msg.url, card);
    } else if (card.status !== status) {
      this.counts[card.status]--;
    }
    if (isNew || card.status !== status) {
      this.counts[status]++;
      card.status = status;
      card.rank = status === 'Healthy' ? 1 : 0;
      card.el.dataset.status = status;
      if (this.statusFilter !== 'all') this.layoutDirty = true;
    }
    // A target starts Healthy by contract, but nothing is known of it before its first
    // check: the card says so in a neutral colour instead of a green "Healthy".
    const checked = msg.lastCheck !== null ? 'yes' : 'no';
    if (card.el.dataset.checked !== checked) card.el.dataset.checked = checked;
    setText(card.statusEl, checked === 'no' && status === 'Healthy' ? 'not checked yet' : status);
    const isBad = status !== 'Healthy';
    card.since = Date.parse(msg.since) || now;
    if (isBad) {
      this.bad.add(card);
      setText(card.reason, msg.reason);
      setText(card.sinceEl, `for ${formatDuration(now - card.since)}`);
      card.sinceEl.title = `since ${new Date(card.since).toLocaleString()}`;
    } else {
      this.bad.delete(card);
      setText(card.reason, '');
      setText(card.sinceEl, '');
    }
    setText(card.latency, formatLatency(msg.latencyMs));
    const data = formatData(msg.data);
    setText(card.data, data);
    card.data.hidden = data === '';
    return isNew || oldRank !== card.rank ? card : null;
  }

  private create(url: string): Card {
    const el = (this.dom.template.content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement;
    el.dataset.url = url;
    const link = el.querySelector<HTMLAnchorElement>('.url')!;
    const parts = splitUrl(url);
    link.children[0]!.textContent = parts.scheme;
    link.children[1]!.textContent = parts.host;
    link.children[2]!.textContent = parts.rest;
    if (/^https?:\/\//i.test(url)) link.href = url; // never a javascript: link
    link.title = url;
    el.querySelector('.remove')!.setAttribute('aria-label', `Remove ${url}`);
    return {
      url, needle: url.toLowerCase(), status: 'Healthy', rank: 1, placedRank: -1, since: 0, el,
      reason: el.querySelector('.reason')!,
      sinceEl: el.querySelector('.since')!,
      latency: el.querySelector('.latency')!,
      statusEl: el.querySelector('.status')!,
      data: el.querySelector('.data')!,
    };
  }

  private remove(url: string, bulk: boolean): void {
    const card = this.cards.get(url);
    if (!card) return;
    this.cards.delete(url);
    this.bad.delete(card);
    this.counts[card.status]--;
    card.el.remove();
    if (!bulk) this.unplace(card);
    this.layoutDirty = true;
  }

  /** Moves one card to its sorted position in `order` (binary search); the layout follows. */
  private place(card: Card): void {
    this.unplace(card);
    const at = this.find(card.rank, card.url);
    this.order.splice(at, 0, card);
    card.placedRank = card.rank;
  }

  /** Takes a card out of `order`, found by the key it was placed with. */
  private unplace(card: Card): void {
    const at = this.find(card.placedRank, card.url);
    if (this.order[at] === card) this.order.splice(at, 1);
  }

  /** The index of the first card sorting at or after (rank, url). */
  private find(rank: number, url: string): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.order[mid]!;
      if (compareKey(m.placedRank, m.url, rank, url) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private resort(): void {
    this.order = [...this.cards.values()].sort(compare);
    for (const card of this.order) card.placedRank = card.rank;
  }

  private matches(card: Card): boolean {
    return (this.statusFilter === 'all' || card.status === this.statusFilter) && (this.query === '' || card.needle.includes(this.query));
  }

  private renderCounts(): void {
    const { counts, empty } = this.dom;
    setText(counts.get('all')!, String(this.cards.size));
    for (const status of ['Healthy', 'Unhealthy', 'Unreachable'] as const) setText(counts.get(status)!, String(this.counts[status]));
    let message = '';
    if (this.cards.size === 0) message = 'No targets yet. Register one with “Add target” or PUT /?url=…';
    else if (this.shown === 0) message = 'No target matches this filter.';
    setText(empty, message);
    empty.hidden = message === '';
  }
}

/** Writes text only when it changed: reading is cheap, writing invalidates layout. */
function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
