import type { ChangeMessage, TargetValue } from '../../src/core/target.js';
import type { Status } from '../../src/core/status.js';
import { applyValue, type Card, createCard, empty, fill, tick } from './card.js';
import { ChunkedList } from './layout.js';
import { isEmpty, matches, parseQuery, type Query } from './query.js';

export type StatusFilter = Status | 'all';

interface BoardElements {
  /** The bad targets' lane and the healthy targets' lane. */
  bad: HTMLElement;
  ok: HTMLElement;
  template: HTMLTemplateElement;
}

/** What the board shows, after each render (the counts, the summary, the wall's sizes). */
export interface BoardState {
  total: number;
  counts: Record<Status, number>;
  /** Healthy by contract but never checked yet. */
  notChecked: number;
  /** Cards the filters show, bad and healthy. */
  shownBad: number;
  shownOk: number;
}

/** Above this share of the cards changing in one frame, sorting them and merging is cheaper than placing each. */
const BULK_SHARE = 0.25;
/**
 * When more cards move in one frame than this share of the cards already shown, the chunks
 * are rebuilt off the document (a snapshot into an empty or small board): placing cards one
 * by one in the page shifts one card in every chunk after each. When most cards are already
 * in place (an outage of 1,000 out of 10,000), moving the shifted ones in the page is
 * cheaper than taking every built card off the document and back.
 */
const REBUILD_SHARE = 0.5;
/** Rows of cards per layout chunk (see layout.ts). */
const ROWS_PER_CHUNK = 6;
/**
 * A flood (a 10,000-target snapshot, a big outage) is rendered once it pauses, not every
 * frame: rendering while it streams in slowed the stream itself down by half (each frame's
 * style, layout and paint compete with receiving). More than FLOOD messages queued makes a
 * flood; it is rendered after FLOOD_QUIET_MS without a message, or FLOOD_MAX_WAIT_MS at the
 * latest so a long one still shows progress. A pause taken for the end is only an early render.
 * A snapshot (a resync) is a flood from its first message.
 */
const FLOOD = 200;
const FLOOD_QUIET_MS = 30;
const FLOOD_MAX_WAIT_MS = 1000;
/**
 * While a flood streams in, its messages are applied to their cards (no layout) every this
 * many, so the render at its end has only the ordering and the layout left to do.
 */
const ABSORB_EVERY = 500;

const REMOVED = null;

function compareKey(rankA: number, urlA: string, rankB: number, urlB: string): number {
  if (rankA !== rankB) return rankA - rankB;
  return urlA < urlB ? -1 : urlA > urlB ? 1 : 0;
}

const compare = (a: Card, b: Card) => compareKey(a.rank, a.url, b.rank, b.url);

/**
 * The cards, kept in order (bad first, then by URL) with keyed, incremental DOM updates.
 * Messages are only queued; the DOM is touched at most once per animation frame, so a burst
 * of thousands of changes costs one layout, and a target changed ten times renders once.
 */
export class Board {
  private readonly cards = new Map<string, Card>();
  /** Every card in display order: the bad lane's, then the healthy lane's. */
  private order: Card[] = [];
  private readonly pending = new Map<string, ChangeMessage | typeof REMOVED>();
  private readonly counts: Record<Status, number> = { Healthy: 0, Unhealthy: 0, Unreachable: 0 };
  private notChecked = 0;
  private frame = 0;
  private floodTimer: ReturnType<typeof setTimeout> | undefined;
  /** performance.now() of the last message and of the first one not rendered yet (see FLOOD). */
  private lastPushAt = 0;
  private waitingSince = 0;
  private query: Query = parseQuery('');
  private statusFilter: StatusFilter = 'all';
  /** URLs seen since a resync began; null when not resyncing. */
  private resyncSeen: Set<string> | null = null;
  private arrival: { url: string; then: (el: HTMLElement) => void } | null = null;
  private readonly badList: ChunkedList;
  private readonly okList: ChunkedList;
  /** Order or filter changed since the last layout. */
  private layoutDirty = false;
  private shownBad = 0;
  private shownOk = 0;
  /** Cards removed since the last render. */
  private removed = 0;
  /** Cards whose place in the order must change at the next render (new, or their rank changed). */
  private readonly moved = new Set<Card>();
  /** Messages applied since the last render. */
  private applied = 0;
  /** Which lanes show what is inside a card (the wall's small tiles show nothing). */
  private built = { bad: true, ok: true };
  /** What the DOM updates cost, for the bench (bench/dashboard.ts). */
  readonly stats = { flushes: 0, messages: 0, totalMs: 0, maxMs: 0, lastMs: 0 };

  /**
   * `sized` runs before each layout with how many cards each lane will show, and returns
   * true when it changed the lanes' style (the wall's tile size): the columns are read again.
   * `rendered` runs after each render.
   */
  constructor(
    private readonly dom: BoardElements,
    private readonly sized: (shown: { bad: number; ok: number }) => boolean,
    private readonly rendered: (state: BoardState) => void,
  ) {
    const far = (els: HTMLCollection) => this.emptyAll(els);
    this.badList = new ChunkedList(dom.bad, ROWS_PER_CHUNK, () => this.relayout(), (els) => this.fillAll(els, this.built.bad), far);
    this.okList = new ChunkedList(dom.ok, ROWS_PER_CHUNK, () => this.relayout(), (els) => this.fillAll(els, this.built.ok), far);
  }

  get size(): number {
    return this.cards.size;
  }

  /** Queues a message for the next frame. */
  push(msg: ChangeMessage): void {
    this.resyncSeen?.add(msg.url);
    this.pending.set(msg.url, msg.status === 'Removed' ? REMOVED : msg);
    this.lastPushAt = performance.now();
    if (this.pending.size >= ABSORB_EVERY && this.floodTimer !== undefined) this.absorb();
    this.schedule();
  }

  /** Applies the queued changes to their cards, leaving removals and the layout to the render. */
  private absorb(): void {
    const now = Date.now();
    for (const [url, msg] of this.pending) {
      if (msg === REMOVED) continue;
      this.pending.delete(url);
      this.upsert(msg, now);
    }
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
    this.query = parseQuery(text);
    this.relayout();
  }

  setStatusFilter(filter: StatusFilter): void {
    this.statusFilter = filter;
    this.relayout();
  }

  /** The page's style changed (the view): the lanes read their column counts again. */
  restyled(): void {
    const a = this.badList.measure();
    const b = this.okList.measure();
    if (a || b) this.relayout();
  }

  /** Whether the cards of each lane show their inside (URL, status line, reason, data). */
  setBuilt(built: { bad: boolean; ok: boolean }): void {
    const split = this.firstHealthy();
    for (const [lane, cards, list] of [['bad', this.order.slice(0, split), this.badList], ['ok', this.order.slice(split), this.okList]] as const) {
      if (built[lane] === this.built[lane]) continue;
      if (built[lane]) for (const els of list.nearChunks()) this.fillAll(els);
      else for (const card of cards) empty(card);
    }
    this.built = { ...built };
  }

  private relayout(): void {
    this.layoutDirty = true;
    this.schedule();
  }

  /** Calls `then` with the card of `url` as soon as it exists (now, or when it arrives). */
  whenPresent(url: string, then: (el: HTMLElement) => void): void {
    const card = this.cards.get(url);
    if (card) {
      this.build(card, Date.now());
      then(card.el);
    } else this.arrival = { url, then };
  }

  /** Refreshes the relative times of the cards on or near the screen; called every second. */
  tick(now = Date.now()): void {
    for (const card of this.nearCards()) tick(card, now);
  }

  /** The cards on or near the screen (the ones worth keeping fresh). */
  nearCards(): Card[] {
    const near: Card[] = [];
    for (const list of [this.badList, this.okList]) {
      for (const els of list.nearChunks()) {
        for (const el of els) {
          const card = this.cards.get((el as HTMLElement).dataset.url!);
          if (card) near.push(card);
        }
      }
    }
    return near;
  }

  /**
   * A fresher value from the API for a card whose stream is quiet (a steady target sends
   * nothing): only the time and latency of its last check are taken; the status stays the
   * stream's, which is ordered.
   */
  refreshCheck(value: TargetValue): void {
    const card = this.cards.get(value.url);
    if (!card || value.lastCheck === null || value.status !== card.status) return;
    const at = Date.parse(value.lastCheck);
    if (card.lastCheck !== null && at <= card.lastCheck) return;
    applyValue(card, { ...card.value, lastCheck: value.lastCheck, latencyMs: value.latencyMs, lastStatus: value.lastStatus, lastReason: value.lastReason }, Date.now());
  }

  private schedule(): void {
    // A snapshot is a flood from its first message: rendering its first few cards would
    // only make the rest come later.
    if (this.pending.size <= FLOOD && !this.resyncSeen) {
      if (this.frame === 0 && this.floodTimer === undefined) this.frame = requestAnimationFrame(() => this.flush());
      return;
    }
    if (this.floodTimer !== undefined) return;
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.waitingSince ||= performance.now();
    const check = () => {
      const now = performance.now();
      const quiet = this.lastPushAt + FLOOD_QUIET_MS - now;
      const latest = this.waitingSince + FLOOD_MAX_WAIT_MS - now;
      if (quiet > 0 && latest > 0) {
        this.floodTimer = setTimeout(check, Math.min(quiet, latest));
        return;
      }
      this.floodTimer = undefined;
      this.flush();
    };
    this.floodTimer = setTimeout(check, FLOOD_QUIET_MS);
  }

  private flush(): void {
    const started = performance.now();
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    clearTimeout(this.floodTimer);
    this.floodTimer = undefined;
    this.waitingSince = 0;
    const batch = [...this.pending];
    this.pending.clear();
    const bulk = this.applied + batch.length > Math.max(64, this.cards.size * BULK_SHARE);
    const now = Date.now();
    for (const [url, msg] of batch) {
      if (msg === REMOVED) this.remove(url, bulk);
      else this.upsert(msg, now);
    }
    const moved = [...this.moved];
    this.moved.clear();
    if (bulk) this.merge(moved);
    else for (const card of moved) this.place(card);
    for (const card of moved) if (!(card.rank === 0 ? this.built.bad : this.built.ok)) empty(card);
    const rebuild = moved.length + this.removed > Math.max(64, (this.cards.size - moved.length) * REBUILD_SHARE);
    const messages = this.applied;
    this.removed = 0;
    this.applied = 0;
    if (this.layoutDirty || rebuild || moved.length > 0) {
      this.layoutDirty = false;
      const shown = (card: Card) => this.matches(card);
      const split = this.firstHealthy();
      if (this.sized(this.countShown(split))) {
        this.badList.measure();
        this.okList.measure();
      }
      this.shownBad = this.badList.render(this.order.slice(0, split), shown, rebuild);
      this.shownOk = this.okList.render(this.order.slice(split), shown, rebuild);
      if (this.built.bad) for (const els of this.badList.nearChunks()) this.fillAll(els);
      if (this.built.ok) for (const els of this.okList.nearChunks()) this.fillAll(els);
    }
    this.rendered({ total: this.cards.size, counts: { ...this.counts }, notChecked: this.notChecked, shownBad: this.shownBad, shownOk: this.shownOk });
    if (this.arrival) {
      const card = this.cards.get(this.arrival.url);
      if (card) {
        this.build(card, now);
        this.arrival.then(card.el);
        this.arrival = null;
      }
    }
    const ms = performance.now() - started;
    Object.assign(this.stats, {
      flushes: this.stats.flushes + 1, messages: this.stats.messages + messages, totalMs: this.stats.totalMs + ms,
      maxMs: Math.max(this.stats.maxMs, ms), lastMs: ms,
    });
  }

  /** Applies a value to its card; notes the card when its position must change. */
  private upsert(msg: ChangeMessage, now: number): void {
    this.applied++;
    let card = this.cards.get(msg.url);
    const isNew = !card;
    if (!card) {
      card = createCard(msg);
      this.cards.set(msg.url, card);
    } else {
      this.count(card, -1);
    }
    const oldStatus = card.status;
    const moved = applyValue(card, msg, now);
    this.count(card, 1);
    if (this.statusFilter !== 'all' && oldStatus !== card.status) this.layoutDirty = true;
    if (!isEmpty(this.query)) this.layoutDirty = true; // its data (what the search sees) may have changed
    if (isNew || moved) this.moved.add(card);
  }

  private count(card: Card, by: 1 | -1): void {
    this.counts[card.status] += by;
    if (card.status === 'Healthy' && card.lastCheck === null) this.notChecked += by;
  }

  private remove(url: string, bulk: boolean): void {
    const card = this.cards.get(url);
    if (!card) return;
    this.cards.delete(url);
    this.moved.delete(card);
    this.count(card, -1);
    card.el.remove();
    if (!bulk) this.unplace(card);
    this.removed++;
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

  private firstHealthy(): number {
    return this.find(1, '');
  }

  /** Many cards moved: the ones in place stay sorted, the moved ones are sorted and merged in. */
  private merge(moved: Card[]): void {
    const movedSet = new Set(moved);
    const stay = this.order.filter((card) => !movedSet.has(card) && this.cards.get(card.url) === card);
    moved.sort(compare);
    const order: Card[] = new Array(stay.length + moved.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < stay.length && j < moved.length) order[k++] = compare(stay[i]!, moved[j]!) <= 0 ? stay[i++]! : moved[j++]!;
    while (i < stay.length) order[k++] = stay[i++]!;
    while (j < moved.length) order[k++] = moved[j++]!;
    for (const card of moved) card.placedRank = card.rank;
    this.order = order;
  }

  private countShown(split: number): { bad: number; ok: number } {
    if (this.statusFilter === 'all' && isEmpty(this.query)) return { bad: split, ok: this.order.length - split };
    let bad = 0;
    let ok = 0;
    this.order.forEach((card, i) => {
      if (!this.matches(card)) return;
      if (i < split) bad++;
      else ok++;
    });
    return { bad, ok };
  }

  private matches(card: Card): boolean {
    return (this.statusFilter === 'all' || card.status === this.statusFilter) && matches(this.query, card.search);
  }

  private fillAll(els: HTMLCollection, built = true): void {
    if (!built) return;
    const now = Date.now();
    for (const el of els) {
      const card = this.cards.get((el as HTMLElement).dataset.url!);
      if (card) this.build(card, now);
    }
  }

  private build(card: Card, now: number): void {
    if (!card.parts) fill(card, this.dom.template, now);
  }

  /**
   * Cards that went far from the screen drop their inside: only the few screens around the
   * viewport are ever built, so moving cards (an outage reorders thousands) stays cheap.
   */
  private emptyAll(els: HTMLCollection): void {
    const active = document.activeElement;
    for (const el of els) {
      const card = this.cards.get((el as HTMLElement).dataset.url!);
      if (card && !(active && el.contains(active))) empty(card);
    }
  }
}
