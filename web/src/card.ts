import type { ChangeMessage } from '../../src/core/target.js';
import type { Status } from '../../src/core/status.js';
import { dataFields, formatChecked, formatData, formatDuration, formatLatency, splitUrl, urlPieces } from './format.js';
import type { Searchable } from './query.js';

/**
 * One target's element and what it shows. The element itself (with `data-url`,
 * `data-status`, `data-checked`, and the URL as its title) exists from the first message;
 * what is inside it — URL, status line, reason, data — is built only while the card is
 * within a screen of the viewport (`fill`, `empty`): at 10,000 targets, building every
 * card up front was most of the first render, and moving built cards most of an outage's.
 */
export interface Card {
  url: string;
  /** The target's latest value, as the stream (or a refresh) gave it. */
  value: ChangeMessage;
  search: Searchable;
  status: Status;
  /** 0 for a bad target, 1 for a healthy one: bad ones sort first. */
  rank: number;
  /** The rank it is sorted by in the board's order (differs from `rank` until placed again). */
  placedRank: number;
  since: number;
  /** Epoch ms of the last check, null before the first. */
  lastCheck: number | null;
  el: HTMLElement;
  parts: Parts | null;
}

interface Parts {
  statusEl: HTMLElement;
  sinceEl: HTMLElement;
  checkedEl: HTMLElement;
  latency: HTMLElement;
  reason: HTMLElement;
  data: HTMLElement;
}

export function createCard(value: ChangeMessage): Card {
  const el = document.createElement('article');
  el.className = 'card';
  el.dataset.url = value.url;
  el.title = value.url;
  const card: Card = {
    url: value.url, value, search: { url: value.url.toLowerCase(), data: new Map() }, status: 'Healthy',
    rank: 1, placedRank: -1, since: 0, lastCheck: null, el, parts: null,
  };
  return card;
}

/** Takes a new value; returns true when the card's rank (its place in the order) changed. */
export function applyValue(card: Card, value: ChangeMessage, now: number): boolean {
  card.value = value;
  const status = value.status as Status;
  const rank = status === 'Healthy' ? 1 : 0;
  const moved = rank !== card.rank;
  if (card.el.dataset.status !== status) card.el.dataset.status = status;
  card.status = status;
  card.rank = rank;
  // A target starts Healthy by contract, but nothing is known of it before its first
  // check: the card says so in a neutral colour instead of a green "Healthy".
  const checked = value.lastCheck !== null ? 'yes' : 'no';
  if (card.el.dataset.checked !== checked) card.el.dataset.checked = checked;
  card.since = Date.parse(value.since) || now;
  card.lastCheck = value.lastCheck === null ? null : Date.parse(value.lastCheck);
  card.search.data = dataFields(value.data);
  if (card.parts) render(card, card.parts, now);
  return moved;
}

/** Builds the inside of the card from the template, once. */
export function fill(card: Card, template: HTMLTemplateElement, now: number): void {
  if (card.parts) return;
  const proto = template.content.firstElementChild!.cloneNode(true) as HTMLElement;
  const link = proto.querySelector<HTMLAnchorElement>('.url')!;
  const parts = splitUrl(card.url);
  writeUrl(link.children[0] as HTMLElement, parts.scheme);
  writeUrl(link.children[1] as HTMLElement, parts.host);
  writeUrl(link.children[2] as HTMLElement, parts.rest);
  if (/^https?:\/\//i.test(card.url)) link.href = card.url; // never a javascript: link
  proto.querySelector('.remove')!.setAttribute('aria-label', `Remove ${card.url}`);
  card.parts = {
    statusEl: proto.querySelector('.status')!,
    sinceEl: proto.querySelector('.since')!,
    checkedEl: proto.querySelector('.checked')!,
    latency: proto.querySelector('.latency')!,
    reason: proto.querySelector('.reason')!,
    data: proto.querySelector('.data')!,
  };
  render(card, card.parts, now);
  card.el.append(...proto.childNodes);
}

/** Drops the inside of a card far from the screen (its element and attributes stay). */
export function empty(card: Card): void {
  if (!card.parts) return;
  card.parts = null;
  card.el.replaceChildren();
}

/** Refreshes the relative times ("for 2 min", "checked 3 s ago") of a filled card. */
export function tick(card: Card, now: number): void {
  const parts = card.parts;
  if (!parts) return;
  if (card.rank === 0) setText(parts.sinceEl, `for ${formatDuration(now - card.since)}`);
  setText(parts.checkedEl, card.lastCheck === null ? '' : formatChecked(now - card.lastCheck));
}

function render(card: Card, parts: Parts, now: number): void {
  const { value, status } = card;
  setText(parts.statusEl, value.lastCheck === null && status === 'Healthy' ? 'not checked yet' : status);
  if (card.rank === 0) {
    setText(parts.reason, value.reason);
    parts.sinceEl.title = `since ${new Date(card.since).toLocaleString()}`;
  } else {
    setText(parts.reason, '');
    setText(parts.sinceEl, '');
    parts.sinceEl.removeAttribute('title');
  }
  if (card.lastCheck === null) parts.checkedEl.removeAttribute('title');
  else parts.checkedEl.title = `last check ${new Date(card.lastCheck).toLocaleString()}`;
  tick(card, now);
  setText(parts.latency, formatLatency(value.latencyMs));
  const data = formatData(value.data);
  setText(parts.data, data);
  parts.data.hidden = data === '';
}

/** URL text as pieces with a <wbr> between them: text nodes only, never HTML. */
function writeUrl(el: HTMLElement, text: string): void {
  const pieces = urlPieces(text);
  pieces.forEach((piece, i) => {
    if (i > 0) el.append(document.createElement('wbr'));
    el.append(piece);
  });
}

/** Writes text only when it changed: reading is cheap, writing invalidates layout. */
export function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
