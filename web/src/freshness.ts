import type { TargetValue } from '../../src/core/target.js';
import type { Card } from './card.js';

/**
 * Keeps "checked N s ago" true on the cards in view. The stream sends a message only when
 * something a reader sees changes, so a steady target sends nothing for hours while it is
 * checked every few seconds; its card would show an ever older check. Every REFRESH_MS the
 * page asks the API for the cards on screen whose last known check is older than that
 * (a few dozen small GETs), and nothing for the thousands off screen.
 */
const REFRESH_MS = 10_000;
/** Requests at once: a small page of cards never floods the server. */
const PARALLEL = 4;

interface Source {
  nearCards(): Card[];
  refreshCheck(value: TargetValue): void;
}

export function keepChecksFresh(board: Source, live: () => boolean): void {
  let running = false;
  setInterval(() => {
    if (running || !live() || document.hidden) return;
    const now = Date.now();
    const stale = board.nearCards().filter((c) => c.lastCheck !== null && now - c.lastCheck > REFRESH_MS && Number.isInteger(c.value.id));
    if (stale.length === 0) return;
    running = true;
    void refresh(stale, board).finally(() => (running = false));
  }, REFRESH_MS);
}

async function refresh(cards: Card[], board: Source): Promise<void> {
  const queue = [...cards];
  const worker = async () => {
    for (let card = queue.shift(); card; card = queue.shift()) {
      const value = await fetchValue(card.value.id);
      if (value) board.refreshCheck(value);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}

/** The target's value, or null when the API does not answer with one (removed, down, refused). */
async function fetchValue(id: number): Promise<TargetValue | null> {
  try {
    const res = await fetch(new URL(`api/v1/targets/${id}`, new URL('./', location.href)), { headers: { accept: 'application/json' } });
    return res.ok ? ((await res.json()) as TargetValue) : null;
  } catch {
    return null; // the stream's own reconnect shows a lost server; a missed refresh is retried next round
  }
}
