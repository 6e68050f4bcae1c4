/**
 * The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core)
 * against the real `spo2 serve` and a local target server. Needs `npm run build` first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { api, FAST_ENV, q, refusedUrl, startSpo2, startTargetServer, waitFor, type Spo2, type TargetServer } from './helpers.ts';

const CHROMIUM = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

let browser: Browser;
let targets: TargetServer;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  browser = await chromium.launch(CHROMIUM);
  targets = await startTargetServer();
});

after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await browser?.close();
  await targets?.close();
});

async function spo2(options: Parameters<typeof startSpo2>[0] = {}): Promise<Spo2> {
  const s = await startSpo2({ ...options, env: { ...FAST_ENV, ...options.env } });
  cleanups.push(() => s.stop());
  return s;
}

/** Opens the dashboard and fails the test on any page error or CSP violation. */
async function open(s: Spo2): Promise<Page> {
  const page = await browser.newPage();
  cleanups.push(() => page.close());
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // A stopped server makes the browser log refused reconnects: expected, not a page error.
    if (msg.type() === 'error' && !/Failed to load resource|WebSocket connection to .* failed/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  cleanups.push(async () => assert.deepEqual(problems, [], 'no errors in the page'));
  const res = await page.goto(s.httpUrl + '/');
  assert.equal(res?.status(), 200);
  await page.waitForSelector('[data-connection="live"]');
  return page;
}

/** The automation contract: the element carrying `data-url`, read through its attributes. */
function statusOf(page: Page, url: string): Promise<string | null> {
  return page.evaluate((u) => {
    const el = [...document.querySelectorAll<HTMLElement>('[data-url]')].find((e) => e.dataset.url === u);
    return el ? el.dataset.status ?? 'no data-status' : null;
  }, url);
}

function waitForStatus(page: Page, url: string, status: string | null, timeoutMs = 10_000): Promise<unknown> {
  return waitFor(async () => (await statusOf(page, url)) === status || undefined, timeoutMs, `${url} shown as ${status}`);
}

async function put(s: Spo2, url: string, data?: object): Promise<void> {
  const res = await api(s.httpUrl, 'PUT', q(url), data);
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/** Waits until the API reports `url` with `status` (the state machine needs a few probes). */
async function reported(s: Spo2, url: string, status: string): Promise<void> {
  await waitFor(async () => (await api(s.httpUrl, 'GET', q(url))).body?.status === status, 10_000, `${url} reported ${status}`);
}

describe('dashboard', () => {
  test('GET / with Accept: text/html serves the page with a strict CSP; scripts still get JSON', async () => {
    const s = await spo2();
    const page = await fetch(s.httpUrl + '/', { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", 'connect-src \'self\' ws: wss:']) {
      assert.ok(csp.includes(directive), `CSP has ${directive}`);
    }
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.match(await page.text(), /static\/app\.js/);
    const js = await fetch(s.httpUrl + '/static/app.js');
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const again = await fetch(s.httpUrl + '/static/app.js', { headers: { 'if-none-match': js.headers.get('etag')! } });
    assert.equal(again.status, 304);
    const curl = await api(s.httpUrl, 'GET', '/', undefined, { accept: '*/*' });
    assert.equal(curl.status, 400);
    assert.ok(curl.body.error);
  });

  test('a target not checked yet says so, in a neutral colour, while its data-status stays Healthy', async () => {
    // An hour between probes: the target waits for its first one for the whole test.
    const s = await spo2({ env: { SPO2_INTERVAL: '1h', SPO2_FAST_INTERVAL: '1h' } });
    const url = targets.url('/not-yet');
    await put(s, url);
    const page = await open(s);
    await waitForStatus(page, url, 'Healthy');
    const card = await page.evaluate((u) => {
      const el = [...document.querySelectorAll<HTMLElement>('[data-url]')].find((e) => e.dataset.url === u)!;
      const status = el.querySelector<HTMLElement>('.status');
      return { checked: el.dataset.checked, text: status?.textContent, colour: status ? getComputedStyle(status).color : null };
    }, url);
    assert.equal(card.checked, 'no');
    assert.equal(card.text, 'not checked yet');
    const healthyColour = await page.evaluate(() => {
      const probe = document.body.appendChild(document.createElement('span'));
      probe.style.color = 'var(--healthy)';
      const colour = getComputedStyle(probe).color;
      probe.remove();
      return colour;
    });
    assert.notEqual(card.colour, healthyColour, 'not painted as a healthy target');
  });

  test('the page shows every target with its status', async () => {
    const s = await spo2();
    targets.set('/shows/ok', { status: 200 });
    targets.set('/shows/bad', { status: 503 });
    const ok = targets.url('/shows/ok');
    const bad = targets.url('/shows/bad');
    const refused = await refusedUrl('/shows/refused');
    for (const url of [ok, bad, refused]) await put(s, url, { team: 'qa' });
    await reported(s, bad, 'Unhealthy');
    await reported(s, refused, 'Unreachable');
    const page = await open(s);
    await waitForStatus(page, ok, 'Healthy');
    await waitForStatus(page, bad, 'Unhealthy');
    await waitForStatus(page, refused, 'Unreachable');
    // Bad ones first, with their reason and for how long.
    const order = await page.$$eval('[data-url]', (els) => els.map((e) => (e as HTMLElement).dataset.status));
    assert.deepEqual(order.slice(0, 2).sort(), ['Unhealthy', 'Unreachable']);
    const badCard = page.locator(`[data-url="${bad}"]`);
    assert.equal(await badCard.locator('.reason').textContent(), '503 Service Unavailable');
    assert.match((await badCard.locator('.since').textContent()) ?? '', /^for \d+ s$/);
    assert.match((await badCard.locator('.latency').textContent()) ?? '', /ms$/);
    assert.equal(await page.textContent('[data-count="all"]'), '3');
    assert.equal(await page.textContent('[data-count="Unhealthy"]'), '1');
    assert.equal(await page.textContent('[data-count="Unreachable"]'), '1');
    // The search box filters by URL substring.
    await page.fill('#search', 'shows/ok');
    await waitFor(() => badCard.isHidden(), 5000, 'bad card hidden by the search');
    assert.ok(await page.locator(`[data-url="${ok}"]`).isVisible());
  });

  test('the page follows changes without a reload', async () => {
    const s = await spo2();
    targets.set('/follow', { status: 200 });
    const url = targets.url('/follow');
    await put(s, url);
    const page = await open(s);
    await waitForStatus(page, url, 'Healthy');
    targets.set('/follow', { status: 500 });
    await waitForStatus(page, url, 'Unhealthy');
    targets.set('/follow', { status: 200 });
    await waitForStatus(page, url, 'Healthy', 15_000);
    const other = targets.url('/follow/added');
    await put(s, other);
    await waitForStatus(page, other, 'Healthy');
    assert.equal((await api(s.httpUrl, 'DELETE', q(url))).status, 200);
    await waitForStatus(page, url, null);
  });

  test('adds and removes a target through the dialogs', async () => {
    const s = await spo2();
    const url = targets.url('/through/ui?x=1&y=2');
    const page = await open(s);
    await page.click('#add-button');
    assert.ok(await page.locator('#add-dialog').evaluate((d) => (d as HTMLDialogElement).open));
    await page.fill('#add-url', url);
    await page.fill('#add-data', '{"team": "ui", "tier": 2}');
    await page.click('#add-form button[type=submit]');
    await waitForStatus(page, url, 'Healthy');
    await waitFor(async () => !(await page.locator('#add-dialog').evaluate((d) => (d as HTMLDialogElement).open)), 5000, 'dialog closed');
    assert.deepEqual((await api(s.httpUrl, 'GET', q(url))).body.data, { team: 'ui', tier: 2 });
    assert.equal(await page.locator(`[data-url="${url}"] .data`).textContent(), 'team: ui · tier: 2');

    // Keyboard: the card's remove button, then Enter in the confirmation.
    await page.locator(`[data-url="${url}"] button.remove`).focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.textContent('#remove-url'), url);
    await page.keyboard.press('Enter');
    await waitForStatus(page, url, null);
    assert.equal((await api(s.httpUrl, 'GET', q(url))).status, 404);
  });

  test('a target added in another spelling is shown, highlighted and removed under its canonical URL', async () => {
    const s = await spo2();
    const canonical = targets.url('/spelled');
    const typed = canonical.replace('http://', 'HTTP://').replace('/spelled', '/./spelled#top');
    const page = await open(s);
    await page.click('#add-button');
    await page.fill('#add-url', typed);
    await page.click('#add-form button[type=submit]');
    await waitForStatus(page, canonical, 'Healthy');
    await page.waitForSelector(`[data-url="${canonical}"].arrived`, { timeout: 5000 });
    await page.locator(`[data-url="${canonical}"] button.remove`).click();
    await page.click('#remove-form button[type=submit]');
    await waitForStatus(page, canonical, null);
    assert.equal((await api(s.httpUrl, 'GET', q(typed))).status, 404);
  });

  test("shows the API's error message in the dialog", async () => {
    const s = await spo2();
    const page = await open(s);
    await page.click('#add-button');
    await page.fill('#add-url', 'ftp://files.example/health');
    await page.click('#add-form button[type=submit]');
    const expected = (await api(s.httpUrl, 'PUT', q('ftp://files.example/health'))).body.error as string;
    assert.ok(expected);
    await page.waitForSelector('#add-dialog .error:not([hidden])');
    assert.equal(await page.textContent('#add-dialog .error'), expected);

    await page.fill('#add-url', targets.url('/bad-json'));
    await page.fill('#add-data', '{"team": ');
    await page.click('#add-form button[type=submit]');
    await waitFor(async () => /not valid JSON/.test((await page.textContent('#add-dialog .error')) ?? ''), 5000, 'JSON error shown');
    assert.ok(await page.locator('#add-dialog').evaluate((d) => (d as HTMLDialogElement).open), 'the dialog stays open');
    await page.keyboard.press('Escape');
    assert.equal((await api(s.httpUrl, 'GET', '/all')).body.length, 0, 'nothing was added');
  });

  test('survives a server restart: reconnecting, then live and resynced', async () => {
    const a = await spo2();
    const kept = targets.url('/restart/kept');
    const gone = targets.url('/restart/gone');
    await put(a, kept);
    await put(a, gone);
    const page = await open(a);
    await waitForStatus(page, gone, 'Healthy');

    // Another server (an empty database) comes up on the same port: the page resyncs to it.
    await a.stop();
    await page.waitForSelector('[data-connection="reconnecting"]');
    const b = await spo2({ env: { HTTP_LISTEN_ADDR: new URL(a.httpUrl).host } });
    await page.waitForSelector('[data-connection="live"]', { timeout: 15_000 });
    await waitForStatus(page, gone, null);
    await waitForStatus(page, kept, null);
    assert.equal(await page.textContent('[data-count="all"]'), '0');

    // The first one restarts with its database: its targets come back, and changes flow.
    await b.stop();
    await page.waitForSelector('[data-connection="reconnecting"]');
    const again = await a.restart();
    cleanups.push(() => again.stop());
    await page.waitForSelector('[data-connection="live"]', { timeout: 15_000 });
    await waitForStatus(page, kept, 'Healthy');
    await waitForStatus(page, gone, 'Healthy');
    assert.equal((await api(again.httpUrl, 'DELETE', q(gone))).status, 200);
    await waitForStatus(page, gone, null);
  });

  test('search matches custom data values, and field:value filters by a data field', async () => {
    const s = await spo2();
    const search = targets.url('/find/a');
    const searchInfra = targets.url('/find/b');
    const payments = targets.url('/find/c');
    await put(s, search, { team: 'search', owner: 'Ada Lovelace' });
    await put(s, searchInfra, { team: 'search-infra' });
    await put(s, payments, { team: 'payments', tier: 1 });
    const page = await open(s);
    for (const url of [search, searchInfra, payments]) await waitForStatus(page, url, 'Healthy');
    const shown = () => page.$$eval('#targets .chunk [data-url]', (els) => els.map((e) => (e as HTMLElement).dataset.url).sort());
    const expectShown = async (query: string, urls: string[]) => {
      await page.fill('#search', query);
      const want = JSON.stringify([...urls].sort());
      await waitFor(async () => JSON.stringify(await shown()) === want || undefined, 5000, `"${query}" shows ${want} (shows ${JSON.stringify(await shown())})`);
    };
    await expectShown('payments', [payments]); // a data value, not in any URL
    await expectShown('lovelace', [search]); // any case
    await expectShown('search', [search, searchInfra]); // a plain word is a substring
    await expectShown('team:search', [search]); // a field is an exact value
    await expectShown('TEAM:Search-Infra', [searchInfra]);
    await expectShown('team:search find/a', [search]); // every part must match
    await expectShown('tier:1', [payments]);
    await expectShown('owner:"ada lovelace"', [search]);
    await expectShown('team:nobody', []);
    assert.equal(await page.textContent('#empty'), 'No target matches this filter.');
    // Hidden targets keep their element (the contract): they wait in the hidden stash.
    assert.equal(await page.locator('[data-url]').count(), 3);
  });

  test('a long URL wraps after / . - only, and every card says when it was last checked', async () => {
    const s = await spo2();
    const path = '/wrap/a-rather-long-service-name/with.several.dotted.segments/and-more-words/health-check-endpoint';
    const url = targets.url(path);
    await put(s, url);
    const page = await browser.newPage({ viewport: { width: 360, height: 800 } });
    cleanups.push(() => page.close());
    await page.goto(s.httpUrl + '/');
    await waitForStatus(page, url, 'Healthy');
    const link = page.locator(`[data-url="${url}"] a.url`);
    await link.waitFor();
    assert.equal(await link.textContent(), url, 'the link reads as the exact URL');
    const layout = await link.evaluate((a) => {
      // Each piece of text between two <wbr> must sit on one line: a break only ever falls at a <wbr>.
      const pieces: { text: string; lines: number }[] = [];
      const walker = document.createTreeWalker(a, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const range = document.createRange();
        range.selectNodeContents(node);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        pieces.push({ text: node.textContent ?? '', lines: tops.size });
      }
      const range = document.createRange();
      range.selectNodeContents(a);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
      return { pieces, lines, wbrs: a.querySelectorAll('wbr').length };
    });
    assert.ok(layout.lines > 1, `the URL wraps in a narrow card (${layout.lines} line)`);
    assert.ok(layout.wbrs >= 10, 'a <wbr> after each / . -');
    for (const piece of layout.pieces) assert.equal(piece.lines, 1, `"${piece.text}" is not cut mid-word`);
    assert.ok(layout.pieces.some((p) => p.text === 'rather-') && layout.pieces.some((p) => p.text === 'dotted.'), 'pieces end after - and .');
    const checked = page.locator(`[data-url="${url}"] .checked`);
    await waitFor(async () => /^checked (just now|\d+ s ago)$/.test((await checked.textContent()) ?? '') || undefined, 5000, 'last check shown');
    assert.match((await checked.getAttribute('title')) ?? '', /^last check /);
  });

  test('the wall view: a summary line, every target a tile with its data-url and data-status, 3,000 targets without scrolling', async () => {
    // 3,000 targets checked every 10 s (first checks spread over those 10 s) cost little.
    const s = await spo2({ env: { SPO2_INTERVAL: '10s', SPO2_FAST_INTERVAL: '100ms' } });
    targets.set('/wall/down', { status: 503 });
    const down = targets.url('/wall/down');
    const refused = await refusedUrl('/wall/refused');
    const healthy = Array.from({ length: 3000 }, (_, i) => targets.url(`/wall/ok/${i}`));
    for (let i = 0; i < healthy.length; i += 50) await Promise.all(healthy.slice(i, i + 50).map((url) => put(s, url, { team: i % 2 ? 'a' : 'b' })));
    await put(s, down);
    await put(s, refused);
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    cleanups.push(() => page.close());
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(s.httpUrl + '/?view=wall');
    await page.waitForSelector('[data-connection="live"]');
    // Until every target had its first check, the line also counts those not checked yet.
    await waitFor(async () => (await page.textContent('#summary')) === '1 DOWN · 1 UNREACHABLE · 3,000 OK' || undefined, 30_000, 'the summary line');

    const tiles = await page.$$eval('[data-url]', (els) => els.map((e) => {
      const r = e.getBoundingClientRect();
      return { url: (e as HTMLElement).dataset.url!, status: (e as HTMLElement).dataset.status!, left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width };
    }));
    assert.equal(tiles.length, 3002);
    assert.deepEqual(new Set(tiles.map((t) => t.url)), new Set([...healthy, down, refused]));
    const byUrl = new Map(tiles.map((t) => [t.url, t]));
    assert.equal(byUrl.get(down)!.status, 'Unhealthy');
    assert.equal(byUrl.get(refused)!.status, 'Unreachable');
    assert.ok(healthy.every((u) => byUrl.get(u)!.status === 'Healthy'));
    // Bad targets are large tiles that say what is wrong; healthy ones small squares.
    assert.ok(byUrl.get(down)!.width > 10 * byUrl.get(healthy[0]!)!.width, 'bad tiles are large');
    assert.equal(await page.locator(`[data-url="${down}"] .reason`).textContent(), '503 Service Unavailable');
    assert.ok(await page.locator(`[data-url="${down}"] .reason`).isVisible());
    // Everything on one screen: no scrolling, every tile inside the viewport.
    const page1 = await page.evaluate(() => ({ sh: document.documentElement.scrollHeight, sw: document.documentElement.scrollWidth, h: innerHeight, w: innerWidth }));
    assert.ok(page1.sh <= page1.h && page1.sw <= page1.w, `no scrollbars (${JSON.stringify(page1)})`);
    assert.ok(tiles.every((t) => t.left >= 0 && t.top >= 0 && t.right <= 1920 && t.bottom <= 1080), 'every tile on screen');
    const summarySize = await page.$eval('#summary', (e) => parseFloat(getComputedStyle(e).fontSize));
    assert.ok(summarySize >= 48, `the summary is readable across a room (${summarySize}px)`);

    // The toggle goes back to cards and forth again; the URL says which.
    await page.click('#view-toggle');
    await page.waitForFunction(() => !document.body.classList.contains('wall') && !location.search.includes('view=wall'));
    await page.click('#view-toggle');
    await page.waitForFunction(() => document.body.classList.contains('wall') && location.search.includes('view=wall'));

    // The server goes away: a full-width banner says so, not a corner note.
    await s.stop();
    const banner = page.locator('#banner');
    await banner.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match((await banner.textContent()) ?? '', /Connection to SpO₂ lost/);
    const box = (await banner.boundingBox())!;
    assert.ok(box.width >= 1900 && box.height >= 40, `the banner spans the screen (${JSON.stringify(box)})`);
    assert.deepEqual(problems, []);
  });

  test('never runs HTML from custom data or an HTTP reason phrase', async () => {
    const s = await spo2();
    const payload = '<img src=x onerror="window.__pwned=1">';
    targets.set('/xss', { status: 503, statusMessage: '<img src=x onerror=window.__pwned=1>' });
    const url = targets.url('/xss');
    await put(s, url, { note: payload, html: '<script>window.__pwned=2</script>' });
    await reported(s, url, 'Unhealthy');
    const page = await open(s);
    await waitForStatus(page, url, 'Unhealthy');
    const card = page.locator(`[data-url="${url}"]`);
    assert.equal(await card.locator('.reason').textContent(), '503 <img src=x onerror=window.__pwned=1>');
    assert.match((await card.locator('.data').textContent()) ?? '', /<img src=x onerror="window.__pwned=1">/);
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('#targets img, #targets script').count(), 0);
  });
});
