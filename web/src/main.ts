import type { Status } from '../../src/core/status.js';
import { Board, type StatusFilter } from './board.js';
import { setupAddDialog, setupRemoveDialog } from './dialogs.js';
import { Stream, streamUrl } from './stream.js';

/**
 * The protocol has no end-of-snapshot marker: the snapshot is sent in one burst, so it has
 * ended at the first change, or once no message came for a while. An empty snapshot sends
 * nothing at all: give the first message longer to come.
 */
const SNAPSHOT_QUIET_MS = 300;
const SNAPSHOT_FIRST_MS = 2000;

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

function start(): void {
  const list = byId('targets');
  const counts = new Map<StatusFilter, HTMLElement>();
  for (const el of document.querySelectorAll<HTMLElement>('[data-count]')) counts.set(el.dataset.count as StatusFilter, el);
  const board = new Board({ list, template: byId<HTMLTemplateElement>('card-template'), empty: byId('empty'), counts });
  const connection = byId('connection');

  // --- the stream: snapshot, then changes; each new connection resyncs the board
  let lastSnapshotAt = 0;
  let quietTimer: ReturnType<typeof setTimeout> | undefined;
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
      connection.dataset.connection = 'live';
      connection.textContent = 'Live';
      document.body.classList.remove('stale');
    },
    message(msg) {
      if (msg.event === 'snapshot') lastSnapshotAt = performance.now();
      else if (quietTimer !== undefined) endSnapshot(); // changes follow the snapshot
      board.push(msg);
    },
    lost(retryInMs) {
      clearTimeout(quietTimer);
      quietTimer = undefined;
      connection.dataset.connection = 'reconnecting';
      connection.textContent = `Reconnecting in ${Math.ceil(retryInMs / 1000)} s…`;
      document.body.classList.add('stale');
    },
  });
  stream.connect();
  setInterval(() => board.tick(), 1000);

  // --- filters: status buttons and the search box
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

  // --- add and remove
  setupAddDialog(byId('add-button'), (url) =>
    board.whenPresent(url, (card) => {
      card.scrollIntoView({ block: 'nearest' });
      card.classList.add('arrived');
      setTimeout(() => card.classList.remove('arrived'), 2000);
    }),
  );
  const confirmRemove = setupRemoveDialog();
  list.addEventListener('click', (event) => {
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
