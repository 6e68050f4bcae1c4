/**
 * Dashboard cost in a real browser with 10,000 targets: time to first render, then the cost
 * of updates (one at a time, a 1,000-target outage in one burst, a steady stream).
 * The page and the WebSocket hub are the real ones (dist/web + src/http/ws.ts), fed by a
 * synthetic event bus so the numbers measure the dashboard, not the probes.
 * Run: npm run build && node --import tsx bench/dashboard.ts [--targets 10000]
 */
import { join } from 'node:path';
import Fastify from 'fastify';
import { chromium, type CDPSession, type Page } from 'playwright-core';
import { pino } from 'pino';
import type { Status } from '../src/core/status.ts';
import type { ChangeKind, TargetValue } from '../src/core/target.ts';
import { EventBus } from '../src/events.ts';
import { registerDashboard, sendDashboard } from '../src/http/dashboard.ts';
import { WsHub } from '../src/http/ws.ts';

const CHROMIUM = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

const argIndex = process.argv.indexOf('--targets');
const N = argIndex > 0 ? Number(process.argv[argIndex + 1]) : 10_000;
const root = new URL('..', import.meta.url).pathname;

// ---- a synthetic fleet: 3% bad, realistic URL lengths and custom data
const teams = ['payments', 'orders', 'search', 'identity', 'catalog', 'platform', 'growth', 'ml'];
const targets = new Map<string, TargetValue>();
const now = new Date().toISOString();
for (let i = 0; i < N; i++) {
  const team = teams[i % teams.length]!;
  const url = `http://${team}-${Math.floor(i / 8)}.svc.cluster.local:8080/${team}/v1/health`;
  const bad = i % 33 === 0;
  targets.set(url, {
    id: i + 1, url, status: bad ? 'Unhealthy' : 'Healthy', reason: bad ? '503 Service Unavailable' : '', data: { team, pod: `${team}-7d9f8-${i}` },
    httpStatus: bad ? 503 : 200, latencyMs: 5 + (i % 40), since: now, lastCheck: now, lastStatus: bad ? 'Unhealthy' : 'Healthy',
    lastReason: bad ? '503 Service Unavailable' : null, createdAt: now,
  });
}
const urls = [...targets.keys()];

const bus = new EventBus();
const hub = new WsHub({ bus, snapshot: () => targets.values(), logger: pino({ level: 'silent' }) });
const app = Fastify();
registerDashboard(app, { webDir: join(root, 'dist', 'web') });
app.get('/', (_req, reply) => sendDashboard(reply));
// The page refreshes the last check of the cards on screen from here (web/src/freshness.ts).
app.get<{ Params: { id: string } }>('/api/v1/targets/:id', (req, reply) => {
  const value = targets.get(urls[Number(req.params.id) - 1] ?? '');
  return value ? reply.send(value) : reply.code(404).send({ error: 'no such target' });
});
app.server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

function change(kind: ChangeKind, url: string, status: Status): void {
  const v = { ...targets.get(url)!, status, reason: status === 'Healthy' ? '' : status === 'Unhealthy' ? '502 Bad Gateway' : 'connect ECONNREFUSED 10.0.0.7:8080', since: new Date().toISOString() };
  targets.set(url, v);
  bus.emit('change', { kind, value: v });
}

interface Stats { flushes: number; messages: number; totalMs: number; maxMs: number; lastMs: number }
const stats = (page: Page) => page.evaluate(() => ({ ...(window as unknown as { spo2: { board: { stats: Stats } } }).spo2.board.stats }));
/** Busy time of the renderer's main thread (script + style + layout), from the DevTools protocol. */
async function mainThreadMs(cdp: CDPSession): Promise<{ script: number; style: number; layout: number; task: number }> {
  const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  const m = (name: string) => (metrics.find((x) => x.name === name)?.value ?? 0) * 1000;
  return { script: m('ScriptDuration'), style: m('RecalcStyleDuration'), layout: m('LayoutDuration'), task: m('TaskDuration') };
}
const delta = (a: Awaited<ReturnType<typeof mainThreadMs>>, b: typeof a, n = 1) =>
  Object.fromEntries(Object.entries(b).map(([k, v]) => [k, +((v - a[k as keyof typeof a]) / n).toFixed(2)]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (x: number) => x.toFixed(1);

if (process.argv.includes('--serve')) {
  console.log(base);
  await new Promise(() => {});
}
const browser = await chromium.launch(CHROMIUM);
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
const cdp = await page.context().newCDPSession(page);
await cdp.send('Performance.enable');
const results: string[] = [];

// ---- 1. first render: navigation start → every card in the DOM and painted
const runs: number[] = [];
let firstFlush = 0;
for (let run = 0; run < 3; run++) {
  await page.goto(base + '/');
  await page.waitForFunction((n) => document.querySelectorAll('[data-url]').length === n, N, { polling: 'raf', timeout: 60_000 });
  const t = await page.evaluate(() => new Promise<number>((r) => requestAnimationFrame(() => setTimeout(() => r(performance.now())))));
  runs.push(t);
  firstFlush = Math.max(firstFlush, (await stats(page)).maxMs);
}
runs.sort((a, b) => a - b);
results.push(`first render, ${N} targets (navigation start → all cards painted, median of 3): ${fmt(runs[1]!)} ms; the biggest DOM batch took ${fmt(firstFlush)} ms`);

// ---- 2. one change at a time (a target flips and moves to the top, then back)
await sleep(1000);
const before1 = await stats(page);
const cpu1 = await mainThreadMs(cdp);
const SINGLE = 200;
for (let i = 0; i < SINGLE; i++) {
  const url = urls[(i * 97) % N]!;
  change('status', url, i % 2 ? 'Healthy' : 'Unreachable');
  await sleep(40); // ~2 frames apart: each change is its own batch
}
await sleep(200);
const after1 = await stats(page);
const cpu2 = await mainThreadMs(cdp);
const perFlush1 = (after1.totalMs - before1.totalMs) / (after1.flushes - before1.flushes);
results.push(`single updates (${SINGLE}, one per batch): DOM batch ${fmt(perFlush1)} ms on average; main thread per update ${JSON.stringify(delta(cpu1, cpu2, SINGLE))} ms`);

// ---- 3. an outage: 1,000 targets go Unreachable in one burst, then recover
for (const [label, status] of [['1,000 go Unreachable at once', 'Unreachable'], ['the same 1,000 recover at once', 'Healthy']] as const) {
  const b = await stats(page);
  const c1 = await mainThreadMs(cdp);
  const t0 = Date.now();
  for (let i = 0; i < 1000; i++) change('status', urls[i * Math.floor(N / 1000)]!, status);
  await page.waitForFunction((want) => document.querySelectorAll(`[data-status="${want}"]`).length >= (want === 'Unreachable' ? 1000 : 0), status, { polling: 'raf' });
  await sleep(300);
  const a = await stats(page);
  const c2 = await mainThreadMs(cdp);
  results.push(`burst, ${label}: shown ${Date.now() - t0 - 300 < 0 ? '<1' : ''}within ${Date.now() - t0 - 300} ms; DOM batches ${a.flushes - b.flushes}, largest ${fmt(a.maxMs > b.maxMs ? a.maxMs : a.lastMs)} ms; main thread ${JSON.stringify(delta(c1, c2))} ms`);
}

// ---- 4. steady stream: 100 changes per second for 5 s
{
  const b = await stats(page);
  const c1 = await mainThreadMs(cdp);
  for (let s = 0; s < 50; s++) {
    for (let i = 0; i < 10; i++) {
      const url = urls[Math.floor(Math.random() * N)]!;
      change('status', url, Math.random() < 0.5 ? 'Healthy' : 'Unhealthy');
    }
    await sleep(100);
  }
  await sleep(200);
  const a = await stats(page);
  const c2 = await mainThreadMs(cdp);
  results.push(`steady 100 changes/s for 5 s: ${a.flushes - b.flushes} DOM batches, ${fmt((a.totalMs - b.totalMs) / (a.flushes - b.flushes))} ms each; main thread busy ${fmt((c2.task - c1.task) / 5 / 10)}% of the time`);
}

// ---- 5. search over every card
{
  const t0 = await page.evaluate(() => performance.now());
  await page.fill('#search', 'payments-1234.svc');
  await page.waitForFunction(() => document.querySelectorAll('.chunk .card').length === 1, null, { polling: 'raf' });
  const t1 = await page.evaluate(() => performance.now());
  results.push(`search box, filter ${N} cards: ${fmt(t1 - t0)} ms to show the matches`);
}

// ---- 6. the wall view on a 1920×1080 screen: first render, and every tile on screen
{
  const wall = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const times: number[] = [];
  let fit = '';
  for (let run = 0; run < 3; run++) {
    await wall.goto(base + '/?view=wall');
    await wall.waitForFunction((n) => document.querySelectorAll('[data-url]').length === n, N, { polling: 'raf', timeout: 60_000 });
    times.push(await wall.evaluate(() => new Promise<number>((r) => requestAnimationFrame(() => setTimeout(() => r(performance.now()))))));
    fit = await wall.evaluate(() => {
      const off = [...document.querySelectorAll('[data-url]')].filter((e) => { const r = e.getBoundingClientRect(); return r.bottom > innerHeight || r.right > innerWidth; }).length;
      const scrolls = document.documentElement.scrollHeight > innerHeight;
      return `${off} tiles off screen, ${scrolls ? 'scrolls' : 'no scrolling'}, tiles of ${getComputedStyle(document.querySelector('main')!).getPropertyValue('--tile')}`;
    });
  }
  times.sort((a, b) => a - b);
  results.push(`wall view, ${N} targets at 1920×1080: first render ${fmt(times[1]!)} ms (median of 3); ${fit}`);
  await wall.close();
}

const version = browser.version();
await browser.close();
await hub.close();
await app.close();
console.log(`Chromium ${version}, headless, ${process.platform}/${process.arch}, node ${process.version}`);
for (const r of results) console.log('- ' + r);
