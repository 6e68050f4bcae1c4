import type { Status } from '../../src/core/status.js';
import { Board, type BoardState, type StatusFilter } from './board.js';
import { setText } from './card.js';
import { setupAddDialog, setupRemoveDialog } from './dialogs.js';
import { formatCount } from './format.js';
import { keepChecksFresh } from './freshness.js';
import { Stream, streamUrl } from './stream.js';
import { BAD_GAP, wallSizes } from './wall.js';

/**
 * The last snapshot message carries `snapshotEnd: true`. Servers without it (and an empty
 * snapshot, which sends nothing) end the snapshot at the first change, or once no message
 * came for a while; give the first message longer to come.
 */
const SNAPSHOT_QUIET_MS = 300;
const SNAPSHOT_FIRST_MS = 2000;

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

function start(): void {
  const params = new URL(location.href).searchParams;
  const main = document.querySelector('main')!;
  const counts = new Map<StatusFilter, HTMLElement>();
  for (const el of document.querySelectorAll<HTMLElement>('[data-count]')) counts.set(el.dataset.count as StatusFilter, el);
  const empty = byId('empty');
  const summary = byId('summary');
  let laneCounts = { bad: 0, ok: 0 };
  const board = new Board(
    { bad: byId('bad-lane'), ok: byId('ok-lane'), template: byId<HTMLTemplateElement>('card-template') },
    (s) => {
      laneCounts = s;
      return wall && sizeWall();
    },
    (s) => showCounts(s),
  );
  const connection = byId('connection');
  const banner = byId('banner');

  // --- counts, the empty message and the wall's summary line
  const showCounts = (s: BoardState) => {
    setText(counts.get('all')!, String(s.total));
    for (const status of ['Healthy', 'Unhealthy', 'Unreachable'] as const) setText(counts.get(status)!, String(s.counts[status]));
    let message = '';
    if (s.total === 0) message = 'No targets yet. Register one with “Add target” or PUT /?url=…';
    else if (s.shownBad + s.shownOk === 0) message = 'No target matches this filter.';
    setText(empty, message);
    empty.hidden = message === '';
    showSummary(s);
  };
  const parts: Record<string, HTMLElement> = {};
  const showSummary = (s: BoardState) => {
    const lines: [string, number, string][] = [
      ['Unhealthy', s.counts.Unhealthy, 'DOWN'],
      ['Unreachable', s.counts.Unreachable, 'UNREACHABLE'],
      ['Healthy', s.counts.Healthy - s.notChecked, 'OK'],
      ['unchecked', s.notChecked, 'NOT CHECKED YET'],
    ];
    const shown = lines.filter(([, n], i) => n > 0 || i === 2 && s.total > 0);
    const key = shown.map(([k]) => k).join();
    if (summary.dataset.parts !== key) {
      summary.dataset.parts = key;
      summary.replaceChildren();
      shown.forEach(([k], i) => {
        if (i > 0) summary.append(' · ');
        parts[k] ??= Object.assign(document.createElement('span'), { className: 'summary-part' });
        parts[k].dataset.summary = k;
        summary.append(parts[k]);
      });
      if (shown.length === 0) summary.append('NO TARGETS');
    }
    for (const [k, n, label] of shown) setText(parts[k]!, `${formatCount(n)} ${label}`);
  };

  // --- the wall view: `?view=wall`, or the toggle
  let wall = false;
  const toggle = byId<HTMLButtonElement>('view-toggle');
  const setView = (toWall: boolean) => {
    wall = toWall;
    document.body.classList.toggle('wall', wall);
    toggle.setAttribute('aria-pressed', String(wall));
    toggle.textContent = wall ? 'Cards view' : 'Wall view';
    const url = new URL(location.href);
    if (wall) url.searchParams.set('view', 'wall');
    else url.searchParams.delete('view');
    history.replaceState(null, '', url);
    if (wall) sizeWall();
    else {
      board.setBuilt({ bad: true, ok: true });
      main.removeAttribute('data-bad-tier');
      main.style.removeProperty('--tile');
      main.style.removeProperty('--tile-gap');
    }
    board.restyled();
  };
  /** Sizes the wall's tiles for the cards shown; true when that changed the style. */
  const sizeWall = (): boolean => {
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
    const style = getComputedStyle(main);
    const width = main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const height = main.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const sizes = wallSizes(Math.floor(width), Math.floor(height), laneCounts.bad, laneCounts.ok, rem);
    const tile = `${sizes.tile}px`;
    const gap = `${sizes.gap}px`;
    if (main.dataset.badTier === sizes.badTier && main.style.getPropertyValue('--tile') === tile && main.style.getPropertyValue('--tile-gap') === gap) return false;
    main.dataset.badTier = sizes.badTier;
    board.setBuilt({ bad: sizes.badTier !== 'tiny', ok: false });
    // CSSOM, not a style attribute in markup: allowed by the page's CSP (style-src 'self').
    main.style.setProperty('--tile', tile);
    main.style.setProperty('--tile-gap', gap);
    main.style.setProperty('--bad-gap', `${BAD_GAP}rem`);
    return true;
  };
  new ResizeObserver(() => {
    if (wall && sizeWall()) board.restyled();
  }).observe(main);
  toggle.addEventListener('click', () => setView(!wall));
  if (params.get('view') === 'wall') setView(true);

  // --- the stream: snapshot, then changes; each new connection resyncs the board
  let lastSnapshotAt = 0;
  let quietTimer: ReturnType<typeof setTimeout> | undefined;
  let live = false;
  const endSnapshot = () => {
    clearTimeout(quietTimer);
    quietTimer = undefined;
    board.endResync();
  };
  const waitForQuiet = () => {
    const left = lastSnapshotAt + SNAPSHOT_QUIET_MS - performance.now();
    quietTimer = left > 0 ? setTimeout(waitForQuiet, left) : undefined;
    if (left <= 0) endSnapshot();
  };
  const stream = new Stream(streamUrl(), {
    open() {
      board.beginResync();
      lastSnapshotAt = performance.now() + SNAPSHOT_FIRST_MS - SNAPSHOT_QUIET_MS;
      clearTimeout(quietTimer);
      quietTimer = setTimeout(waitForQuiet, SNAPSHOT_FIRST_MS);
      live = true;
      connection.dataset.connection = 'live';
      connection.textContent = 'Live';
      banner.hidden = true;
      document.body.classList.remove('stale');
    },
    message(msg) {
      if (msg.event === 'snapshot') lastSnapshotAt = performance.now();
      else if (quietTimer !== undefined) endSnapshot(); // changes follow the snapshot
      board.push(msg);
      if (msg.snapshotEnd && quietTimer !== undefined) endSnapshot();
    },
    lost(retryInMs) {
      clearTimeout(quietTimer);
      quietTimer = undefined;
      live = false;
      const retry = `Reconnecting in ${Math.ceil(retryInMs / 1000)} s…`;
      connection.dataset.connection = 'reconnecting';
      connection.textContent = retry;
      // Full width, not a corner note: on a wall, statuses that no longer update must not pass for live ones.
      banner.textContent = `Connection to SpO₂ lost: what is shown may be out of date. ${retry}`;
      banner.hidden = false;
      document.body.classList.add('stale');
    },
  });
  stream.connect();
  setInterval(() => board.tick(), 1000);
  keepChecksFresh(board, () => live);

  // --- filters: status buttons and the search box (`?q=` fills it: a team's own wall)
  const filterButtons = document.querySelectorAll<HTMLButtonElement>('[data-filter]');
  for (const button of filterButtons) {
    button.addEventListener('click', () => {
      const chosen = button.dataset.filter as StatusFilter;
      const next = button.getAttribute('aria-pressed') === 'true' && chosen !== 'all' ? 'all' : chosen;
      for (const b of filterButtons) b.setAttribute('aria-pressed', String(b.dataset.filter === next));
      board.setStatusFilter(next as Status | 'all');
    });
  }
  const search = byId<HTMLInputElement>('search');
  let searchFrame = 0;
  search.addEventListener('input', () => {
    cancelAnimationFrame(searchFrame);
    searchFrame = requestAnimationFrame(() => board.setSearch(search.value));
  });
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && search.value !== '') {
      search.value = '';
      board.setSearch('');
    }
  });
  const q = params.get('q');
  if (q) {
    search.value = q;
    board.setSearch(q);
  }

  // --- add and remove
  setupAddDialog(byId('add-button'), (url) =>
    board.whenPresent(url, (card) => {
      card.scrollIntoView({ block: 'nearest' });
      card.classList.add('arrived');
      setTimeout(() => card.classList.remove('arrived'), 2000);
    }),
  );
  const confirmRemove = setupRemoveDialog();
  byId('targets').addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button.remove');
    const card = button?.closest<HTMLElement>('[data-url]');
    if (button && card) confirmRemove(card.dataset.url!, button);
  });

  // "/" jumps to the search box, as on many dashboards.
  document.addEventListener('keydown', (event) => {
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement;
    if (event.key === '/' && !typing && !document.querySelector('dialog[open]')) {
      event.preventDefault();
      search.focus();
    }
  });

  // For the bench (bench/dashboard.ts): what the DOM updates cost.
  (window as unknown as { spo2: unknown }).spo2 = { board };
}

start();
