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
