/**
 * Lays out thousands of cards cheaply. A single grid of 10,000 cards costs ~100 ms of layout
 * for any change (grid placement is O(n)); instead the cards sit in fixed-size chunks of a few
 * full rows, each chunk its own grid with `content-visibility: auto`, so the browser lays out
 * and paints only the chunks on screen, and a change in an off-screen chunk is nearly free.
 * Chunks always hold whole rows (a multiple of the column count) so the grid shows no holes.
 * Cards that the filter hides wait in a hidden stash: every card stays in the DOM.
 */
export class ChunkedList {
  private readonly chunks: HTMLElement[] = [];
  private readonly stash: HTMLElement;
  private columns = 1;
  /** Chunks on or near the screen, as the IntersectionObserver last said. */
  private readonly near = new Set<HTMLElement>();
  private nearKnown = false;
  private readonly watcher: IntersectionObserver;

  /**
   * `resized` runs when the column count changes (the window was resized); `nearScreen` with
   * the cards of a chunk that comes within a screen of the viewport, `farScreen` with those
   * of one that leaves it.
   */
  constructor(
    private readonly root: HTMLElement,
    private readonly rowsPerChunk: number,
    resized: () => void,
    nearScreen: (els: HTMLCollection) => void,
    farScreen: (els: HTMLCollection) => void,
  ) {
    this.stash = document.createElement('div');
    this.stash.hidden = true;
    this.stash.className = 'filtered-out';
    root.append(this.stash);
    new ResizeObserver(() => {
      if (this.measureColumns()) resized();
    }).observe(root);
    this.watcher = new IntersectionObserver(
      (entries) => {
        this.nearKnown = true;
        for (const e of entries) {
          const chunk = e.target as HTMLElement;
          if (!e.isIntersecting) {
            this.near.delete(chunk);
            farScreen(chunk.children);
          } else if (chunk.isConnected) {
            this.near.add(chunk);
            nearScreen(chunk.children);
          }
        }
      },
      { rootMargin: '100% 0px' },
    );
  }

  /**
   * Puts the cards that `shown` accepts, in this order, into chunks, and the others into the
   * stash; returns how many are shown. Incremental by default: only the elements not already
   * in place move. `bulk` (many cards changed place) rebuilds the chunks off the document
   * instead, where moving an element costs a fraction of what it costs in the page.
   */
  render<T extends { el: HTMLElement }>(order: readonly T[], shown: (item: T) => boolean, bulk: boolean): number {
    // An empty list is hidden; its column count is read again once it shows (an empty
    // chunk still resolves its auto-fill columns, so this works on the very first render).
    if (this.root.hidden || this.chunks.length === 0) {
      this.root.hidden = false;
      if (this.chunks.length === 0) this.chunk(0);
      this.measureColumns();
    }
    const visible = bulk ? this.rebuild(order, shown) : this.update(order, shown);
    this.root.hidden = visible === 0;
    return visible;
  }

  /**
   * The cards of the chunks on or near the screen. Before the first observation (the first
   * render), the chunks that fill a screen from the top.
   */
  nearChunks(): HTMLCollection[] {
    if (this.nearKnown) return [...this.near].filter((c) => c.isConnected).map((c) => c.children);
    const rows = Math.ceil(window.innerHeight / 60) + 1;
    const count = Math.min(this.chunks.length, Math.ceil(rows / this.rowsPerChunk));
    return this.chunks.slice(0, count).map((c) => c.children);
  }

  /** Re-reads the column count (after a style change); true when it changed. */
  measure(): boolean {
    return this.measureColumns();
  }

  private update<T extends { el: HTMLElement }>(order: readonly T[], shown: (item: T) => boolean): number {
    const size = this.columns * this.rowsPerChunk;
    let visible = 0;
    let chunk: HTMLElement | null = null;
    let cursor: Element | null = null;
    for (const item of order) {
      if (!shown(item)) {
        if (item.el.parentElement !== this.stash) this.stash.append(item.el);
        continue;
      }
      if (visible % size === 0) {
        chunk = this.chunk(visible / size);
        cursor = chunk.firstElementChild;
      }
      visible++;
      if (cursor === item.el) cursor = cursor.nextElementSibling;
      else chunk!.insertBefore(item.el, cursor);
    }
    this.trim(visible, size);
    return visible;
  }

  private rebuild<T extends { el: HTMLElement }>(order: readonly T[], shown: (item: T) => boolean): number {
    const size = this.columns * this.rowsPerChunk;
    // A focused card (its remove button) would lose focus when taken off the document.
    const active = document.activeElement instanceof HTMLElement && this.root.contains(document.activeElement) ? document.activeElement : null;
    const kept = [...this.root.children];
    for (const el of kept) el.remove();
    const hidden: HTMLElement[] = [];
    let rows: HTMLElement[] = [];
    let used = 0;
    let visible = 0;
    for (const item of order) {
      if (!shown(item)) {
        hidden.push(item.el);
        continue;
      }
      visible++;
      rows.push(item.el);
      if (rows.length === size) {
        this.chunk(used++, false).replaceChildren(...rows);
        rows = [];
      }
    }
    if (rows.length > 0 || used === 0) this.chunk(used, false).replaceChildren(...rows);
    this.stash.replaceChildren(...hidden);
    this.trim(visible, size);
    this.root.append(...this.chunks, this.stash);
    if (active?.isConnected) active.focus({ preventScroll: true });
    return visible;
  }

  /** Drops the chunks after the last one in use (every card has been placed already). */
  private trim(visible: number, size: number): void {
    const used = Math.max(1, Math.ceil(visible / size));
    for (const extra of this.chunks.splice(used)) {
      extra.remove();
      this.near.delete(extra);
      this.watcher.unobserve(extra);
    }
  }

  private chunk(index: number, attach = true): HTMLElement {
    let chunk = this.chunks[index];
    if (!chunk) {
      chunk = document.createElement('div');
      chunk.className = 'chunk';
      if (attach) this.root.insertBefore(chunk, this.stash);
      this.chunks.push(chunk);
      this.watcher.observe(chunk);
    }
    return chunk;
  }

  /** Reads the number of grid columns the CSS resolved; true when it changed. */
  private measureColumns(): boolean {
    const first = this.chunks[0];
    if (!first) return false;
    const columns = Math.max(1, getComputedStyle(first).gridTemplateColumns.split(' ').filter(Boolean).length);
    if (columns === this.columns) return false;
    this.columns = columns;
    return true;
  }
}
