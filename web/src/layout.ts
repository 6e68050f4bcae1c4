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

  /** `changed` runs when the column count changes (the window was resized). */
  constructor(private readonly root: HTMLElement, private readonly rowsPerChunk: number, changed: () => void) {
    this.stash = document.createElement('div');
    this.stash.hidden = true;
    this.stash.className = 'filtered-out';
    root.append(this.stash);
    new ResizeObserver(() => {
      if (this.measureColumns()) changed();
    }).observe(root);
  }

  /**
   * Puts the cards that `shown` accepts, in this order, into chunks, and the others into the
   * stash; moves only the elements that are not already in place. Returns how many are shown.
   */
  render<T extends { el: HTMLElement }>(order: readonly T[], shown: (item: T) => boolean): number {
    if (this.chunks.length === 0) {
      this.chunk(0);
      this.measureColumns();
    }
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
    // Every card has been placed, so what is left after the last used chunk is empty.
    const used = Math.max(1, Math.ceil(visible / size));
    for (const extra of this.chunks.splice(used)) extra.remove();
    return visible;
  }

  private chunk(index: number): HTMLElement {
    let chunk = this.chunks[index];
    if (!chunk) {
      chunk = document.createElement('div');
      chunk.className = 'chunk';
      this.root.insertBefore(chunk, this.stash);
      this.chunks.push(chunk);
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
