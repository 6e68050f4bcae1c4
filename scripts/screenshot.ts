/**
 * Makes docs/dashboard.png: SpO₂ with a realistic mix of targets (healthy, failing with
 * several status codes, refused, unknown hosts), screenshotted in headless Chromium.
 * `--dark`: docs/dashboard-dark.png. `--wall`: docs/dashboard-wall.png, the wall view on a
 * 1920×1080 screen with 2,000 more healthy targets.
 * Run: npm run build && node --import tsx scripts/screenshot.ts [--dark | --wall]
 */
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { api, q, startSpo2, startTargetServer, waitFor } from '../test/helpers.ts';

export const CHROMIUM = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

const dark = process.argv.includes('--dark');
const wall = process.argv.includes('--wall');
const out = join(new URL('..', import.meta.url).pathname, 'docs', wall ? 'dashboard-wall.png' : dark ? 'dashboard-dark.png' : 'dashboard.png');
/** The wall's crowd of healthy targets, checked every 10 s so 2,000 cost little. */
const CROWD = wall ? 2000 : 0;

const targets = await startTargetServer();
const spo2 = await startSpo2({ env: { SPO2_INTERVAL: wall ? '10s' : '300ms', SPO2_FAST_INTERVAL: '100ms', SPO2_TIMEOUT: '800ms' } });
try {
  const local = (host: string, path: string) => `http://${host}:${targets.port}${path}`;
  const healthy: [string, object?][] = [
    [local('127.0.0.1', '/api/orders/healthz'), { team: 'orders', env: 'prod' }],
    [local('127.0.0.1', '/api/payments/health'), { team: 'payments', env: 'prod', tier: 1 }],
    [local('localhost', '/auth/ready'), { team: 'identity' }],
    [local('localhost', '/search/status')],
    [local('127.0.0.1', '/catalog/v2/health'), { team: 'catalog', pod: 'catalog-7d9f8-xk2lp' }],
    [local('127.0.0.1', '/inventory/ping')],
    [local('localhost', '/notifications/health'), { team: 'growth' }],
    [local('127.0.0.1', '/recommendations/healthz'), { team: 'ml', env: 'staging' }],
    [local('localhost', '/gateway/health'), { team: 'platform' }],
    [local('127.0.0.1', '/shipping/health')],
    [local('127.0.0.1', '/reports/ready'), { team: 'finance' }],
    [local('localhost', '/media/resize/health')],
  ];
  const failing: [string, number, string, object?][] = [
    ['/billing/health', 503, 'Service Unavailable', { team: 'billing', env: 'prod', oncall: '@billing-oncall' }],
    ['/checkout/ready', 500, 'Internal Server Error', { team: 'payments' }],
    ['/legacy/soap/health', 502, 'Bad Gateway'],
  ];
  for (const [path, status, statusMessage] of failing) targets.set(path, { status, statusMessage });
  const all: [string, object?][] = [
    ...healthy,
    ...failing.map(([path, , , data]): [string, object?] => [local('127.0.0.1', path), data]),
    ['https://ledger.internal.example/health', { team: 'finance', env: 'prod' }],
    [`http://127.0.0.1:9/metrics/health`, { team: 'observability' }],
  ];
  const teams = ['orders', 'payments', 'search', 'identity', 'catalog', 'growth', 'ml', 'platform'];
  for (let i = 0; i < CROWD; i++) all.push([local('127.0.0.1', `/pods/${teams[i % teams.length]}-${i}/health`), { team: teams[i % teams.length] }]);
  for (let i = 0; i < all.length; i += 50) {
    await Promise.all(all.slice(i, i + 50).map(async ([url, data]) => {
      const res = await api(spo2.httpUrl, 'PUT', q(url), data);
      if (res.status !== 200) throw new Error(`PUT ${url}: ${res.status} ${JSON.stringify(res.body)}`);
    }));
  }
  // Let the bad ones be reported (and be bad for a few seconds), and every target checked, before the picture.
  await waitFor(async () => {
    const list = (await api(spo2.httpUrl, 'GET', '/all')).body as { status: string; lastCheck: string | null }[];
    return list.filter((v) => v.status !== 'Healthy').length === 5 && list.every((v) => v.lastCheck !== null);
  }, 30_000, 'five bad targets, every target checked');
  await new Promise((r) => setTimeout(r, 4000));

  const browser = await chromium.launch(CHROMIUM);
  const viewport = wall ? { width: 1920, height: 1080 } : { width: 1280, height: 760 };
  const page = await browser.newPage({ viewport, deviceScaleFactor: 1, colorScheme: dark ? 'dark' : 'light' });
  await page.goto(spo2.httpUrl + (wall ? '/?view=wall' : '/'));
  await page.waitForSelector('[data-connection="live"]');
  await page.waitForFunction((n) => document.querySelectorAll('[data-url]').length === n, all.length);
  await page.waitForTimeout(1200);
  await page.screenshot({ path: out });
  await browser.close();
  console.log(`wrote ${out}`);
} finally {
  await spo2.stop();
  await targets.close();
}
