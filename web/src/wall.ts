/**
 * The wall view's sizes, pure: bad targets as large tiles (smaller ones when there are many),
 * healthy ones as the largest square tiles with which they all fit in what is left, so
 * 10,000 targets fit on a 1920×1080 screen without scrolling.
 */

export type BadTier = 'large' | 'medium' | 'small' | 'tiny';

export interface WallSizes {
  badTier: BadTier;
  /** Side of a small (healthy, or tiny bad) tile, and the gap between them, in px. */
  tile: number;
  gap: number;
  /** Height the bad lane takes, px (0 without bad targets). */
  badHeight: number;
}

interface Tier {
  tier: Exclude<BadTier, 'tiny'>;
  /** In rem: the tile's least width and its height. */
  minWidth: number;
  height: number;
}

/** The tiles of bad targets, largest first; see style.css (`.wall[data-bad-tier=…]`). */
export const BAD_TIERS: readonly Tier[] = [
  { tier: 'large', minWidth: 24, height: 10 },
  { tier: 'medium', minWidth: 15, height: 3.4 },
  { tier: 'small', minWidth: 11, height: 1.8 },
];
/** Gap between bad tiles and between the two lanes, rem. */
export const BAD_GAP = 0.6;
/** Bad tiles take at most this share of the height while healthy ones are there too. */
const BAD_SHARE = 0.5;
/** A few healthy targets are not drawn as giant squares. */
const MAX_TILE = 56;
const MIN_TILE = 2;

/**
 * The largest tile side (and its gap) with which lanes of `counts` square tiles fit in
 * width × height, each lane starting a new row, `laneGap` px between lanes.
 */
export function fitTiles(counts: readonly number[], width: number, height: number, laneGap = 0): { tile: number; gap: number } {
  const lanes = counts.filter((n) => n > 0);
  const total = lanes.reduce((a, b) => a + b, 0);
  if (total === 0) return { tile: MAX_TILE, gap: 2 };
  let tile = Math.min(MAX_TILE, Math.floor(Math.sqrt((width * height) / total)));
  for (; tile > MIN_TILE; tile--) {
    const gap = tile >= 10 ? 2 : 1;
    const columns = Math.floor((width + gap) / (tile + gap));
    const rows = lanes.reduce((sum, n) => sum + Math.ceil(n / columns), 0);
    if (rows * (tile + gap) - lanes.length * gap + (lanes.length - 1) * laneGap <= height) return { tile, gap };
  }
  return { tile: MIN_TILE, gap: 1 };
}

/** The bad lane's height with a tier: whole rows of tiles of at least `minWidth`. */
function laneHeight(count: number, width: number, tier: Tier, rem: number): number {
  const gap = BAD_GAP * rem;
  const columns = Math.max(1, Math.floor((width + gap) / (tier.minWidth * rem + gap)));
  const rows = Math.ceil(count / columns);
  return rows * tier.height * rem + (rows - 1) * gap;
}

export function wallSizes(width: number, height: number, bad: number, ok: number, rem: number): WallSizes {
  const laneGap = BAD_GAP * rem;
  if (bad > 0) {
    const room = ok > 0 ? height * BAD_SHARE : height;
    for (const tier of BAD_TIERS) {
      const badHeight = laneHeight(bad, width, tier, rem);
      if (badHeight <= room) {
        const rest = ok > 0 ? height - badHeight - laneGap : height;
        return { badTier: tier.tier, ...fitTiles([ok], width, rest), badHeight };
      }
    }
  }
  if (bad === 0) return { badTier: 'large', ...fitTiles([ok], width, height), badHeight: 0 };
  // Too many bad targets for readable tiles: everything becomes a small tile, bad ones first.
  const small = fitTiles([bad, ok], width, height, laneGap);
  const columns = Math.floor((width + small.gap) / (small.tile + small.gap));
  return { badTier: 'tiny', ...small, badHeight: Math.ceil(bad / columns) * (small.tile + small.gap) - small.gap };
}
