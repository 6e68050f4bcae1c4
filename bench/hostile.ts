/**
 * `npm run bench:hostile`: the truth soak. 10,000 healthy targets at 3 s beside 100 hostile
 * ones (every kind SpO₂ must shrug off) for 10 minutes; a healthy target must never leave
 * Healthy. See docs/performance.md.
 *
 *   BENCH_N / --n N               healthy targets on the bench's target servers (default 10000)
 *   BENCH_DURATION / --duration S soak length in seconds (default 600; quick mode 60)
 *   BENCH_QUICK=1 / --quick       1,000 healthy targets for 60 s
 *
 * The hostile ones: 20 names whose DNS server never answers (needs root and `unshare` for a
 * private resolv.conf; skipped with a note otherwise), 20 bodies that never end on an origin
 * shared with 250 healthy targets (200 of them answering only after 500 ms), 20 origins
 * that accept and never answer, 10 bodies of 32 MiB, 10 answering 503, 10 refused ports,
 * 10 URLs with credentials (refused at registration), a Slack hook that answers 410 to
 * everything, and 20 dashboards that never read their WebSocket.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { canUnshare, startDnsServer, type DnsServer } from '../test/dns-server.js';
import { stalledWebSocket } from '../test/stalled-ws.js';
import type { HostilePorts, HostileStats } from './hostile-targets.js';
import { option } from './options.js';
import { Child, freePort, rssBytes, sleep, spawnSpo2, waitHealthy, type Spo2Process } from './procs.js';
import { register } from './register.js';
import { check, info, mb, pct, table, type Row } from './stats.js';
import type { WindowStats } from './targets.js';

const quick = option('quick', 'BENCH_QUICK') === '1';
const N = Number(option('n', 'BENCH_N') ?? (quick ? 1000 : 10_000));
const soakS = Number(option('duration', 'BENCH_DURATION') ?? (quick ? 60 : 600));
const INTERVAL_MS = 3000;
const SLOW_MS = 500;
const NAMED = 50; // healthy targets addressed by a DNS name rather than an IP


interface Watch {
  /** Healthy URLs seen with another status, and what they showed. */
  lies: Map<string, string>;
  messages: number;
  close(): void;
}

/** A dashboard that reads: records every healthy target ever shown as anything but Healthy. */
function watchTruth(base: string, healthy: Set<string>): Watch {
  const lies = new Map<string, string>();
  const watch: Watch = { lies, messages: 0, close: () => ws.close() };
  const ws = new WebSocket(base.replace(/^http/, 'ws') + '/ws');
  ws.on('message', (data: Buffer) => {
    watch.messages++;
    const m = JSON.parse(data.toString()) as { url: string; status: string; reason: string };
    if (healthy.has(m.url) && m.status !== 'Healthy' && m.status !== 'Removed' && !lies.has(m.url)) lies.set(m.url, `${m.status} ${m.reason}`);
  });
  ws.on('error', (err) => process.stderr.write(`watcher: ${String(err)}\n`));
  return watch;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spo2-hostile-'));
  const started = Date.now();
  const log = (s: string) => process.stderr.write(`[hostile ${((Date.now() - started) / 1000).toFixed(0)}s] ${s}\n`);
  const targets = new Child('targets.ts');
  const hostile = new Child('hostile-targets.ts');
  let spo2: Spo2Process | null = null;
  let dns: DnsServer | null = null;
  const deaf: Socket[] = [];
  try {
    const ports = await targets.call<number[]>({ cmd: 'start', origins: Math.min(N, 1000) });
    const h = await hostile.call<HostilePorts>({ cmd: 'start', slowMs: SLOW_MS });

    const isolated = canUnshare();
    let prefix: string[] = [];
    if (isolated) {
      dns = await startDnsServer({ ttl: 30 });
      writeFileSync(join(dir, 'resolv.conf'), `nameserver ${dns.host}\noptions timeout:2 attempts:2\n`);
      writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
      prefix = ['unshare', '-m', 'sh', '-c',
        `mount --bind ${join(dir, 'resolv.conf')} /etc/resolv.conf && mount --bind ${join(dir, 'hosts')} /etc/hosts && exec "$0" "$@"`];
    } else {
      log('DNS black holes skipped: they need root and unshare for a private resolv.conf');
    }

    const healthyUrls = Array.from({ length: N }, (_, i) => {
      const port = ports[i % ports.length]!;
      return i < NAMED && isolated ? `http://h${i}.good.test:${port}/t/${i}` : `http://127.0.0.1:${port}/t/${i}`;
    });
    const shared = `http://127.0.0.1:${h.shared}`;
    const companions = [
      ...Array.from({ length: 50 }, (_, i) => `${shared}/ok/${i}`),
      ...Array.from({ length: 200 }, (_, i) => `${shared}/slow/${i}`),
    ];
    const refusedPort = await freePort();
    // Hostile but answering 200 with their headers: Healthy is the truth about them.
    const answering = [
      ...Array.from({ length: 20 }, (_, i) => `${shared}/sse/${i}`),
      ...Array.from({ length: 10 }, (_, i) => `http://127.0.0.1:${h.huge}/big/${i}`),
    ];
    const bad = [
      ...(isolated ? Array.from({ length: 20 }, (_, i) => `http://b${i}.bad.test/`) : []),
      ...Array.from({ length: 20 }, (_, i) => `http://127.0.0.1:${h.silent}/hang/${i}`),
      ...Array.from({ length: 10 }, (_, i) => `http://127.0.0.1:${h.failing}/down/${i}`),
      ...Array.from({ length: 10 }, (_, i) => `http://127.0.0.1:${refusedPort}/refused/${i}`),
    ];
    const credentialed = Array.from({ length: 10 }, (_, i) => `http://admin:secret${i}@127.0.0.1:${ports[0]}/t/${i}`);

    const port = await freePort();
    const dbPath = join(dir, 'spo2.db');
    const env = { DATABASE_PATH: dbPath, SPO2_INTERVAL: `${INTERVAL_MS}ms`, SLACK_HOOK_URL: `http://127.0.0.1:${h.revokedHook}/services/T0/B0/revoked` };
    const t0 = performance.now();
    spo2 = spawnSpo2(env, port, [], prefix);
    await waitHealthy(spo2.base, t0, 30_000, spo2.proc);

    const healthy = new Set([...healthyUrls, ...companions]);
    const watch = watchTruth(spo2.base, healthy);
    for (let i = 0; i < 20; i++) deaf.push(await stalledWebSocket(spo2.base));

    const reg = await register(spo2.base, [...healthyUrls, ...companions, ...answering, ...bad], 64);
    const refused = await register(spo2.base, credentialed, 4);
    log(`registered ${reg.ok} (${reg.failed} failed${reg.firstError ? `: ${reg.firstError}` : ''}); credentialed refused ${refused.failed}/${credentialed.length}`);
    await sleep(INTERVAL_MS + 2000);

    await targets.call({ cmd: 'window' });
    await hostile.call({ cmd: 'window' });
    const rss: number[] = [];
    const healthz: number[] = [];
    const end = performance.now() + soakS * 1000;
    while (performance.now() < end) {
      rss.push(rssBytes(spo2.pid));
      const h0 = performance.now();
      await (await fetch(`${spo2.base}/healthz`)).arrayBuffer();
      healthz.push(performance.now() - h0);
      if (rss.length % 6 === 0) log(`${Math.round((end - performance.now()) / 1000)} s left; RSS ${mb(rss.at(-1)!)}; lies so far ${watch.lies.size}`);
      await sleep(Math.min(10_000, end - performance.now()));
    }
    const steady = await targets.call<WindowStats>({ cmd: 'stats', n: N });
    const companionStats = await hostile.call<HostileStats>({ cmd: 'stats' });
    const expected = (N * steady.windowMs) / INTERVAL_MS;
    const companionExpected = (companions.length * companionStats.windowMs) / INTERVAL_MS;
    const all = (await (await fetch(`${spo2.base}/all`)).json()) as Array<{ url: string; status: string }>;
    const badSet = new Set(bad);
    const badShown = all.filter((t) => badSet.has(t.url) && t.status !== 'Healthy').length;
    watch.close();
    await spo2.stop();
    spo2 = null;
    const db = new Database(dbPath, { readonly: true });
    const outbox = (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
    db.close();

    // RSS flat: the last minute against the first minute of the soak.
    const perMinute = Math.max(1, Math.min(6, Math.floor(rss.length / 2)));
    const firstMax = Math.max(...rss.slice(0, perMinute));
    const lastMax = Math.max(...rss.slice(-perMinute));
    const rows: Row[] = [
      info('healthy / hostile targets', `${healthy.size} / ${answering.length + bad.length + credentialed.length}${isolated ? '' : ' (no DNS black holes)'}`),
      info('soak', `${soakS} s at ${INTERVAL_MS} ms`),
      check('healthy targets ever shown as not Healthy', watch.lies.size, String, '<=', 0),
      check('probes achieved / expected (healthy)', steady.hits / expected, pct, '>=', 0.99),
      check('probes achieved / expected (shared origin)', companionStats.healthyHits / companionExpected, pct, '>=', 0.99),
      check('hostile targets without an answer shown as bad', badShown, String, '>=', bad.length),
      check('credentialed URLs refused', refused.failed, String, '>=', credentialed.length),
      check('RSS last minute ÷ first minute', lastMax / firstMax, (v) => `${v.toFixed(2)} ×`, '<=', 1.15),
      info('RSS first / last minute (max)', `${mb(firstMax)} / ${mb(lastMax)}`),
      check('/healthz latency (max)', Math.max(...healthz), (v) => `${v.toFixed(0)} ms`, '<=', 100),
      info('revoked hook: calls / outbox rows left', `${companionStats.hookCalls} / ${outbox}`),
      check('endless bodies still streaming at the end', companionStats.streams, String, '<=', 20, 'no pile-up'),
    ];
    console.log('\n' + table(rows) + '\n');
    for (const [url, shown] of [...watch.lies].slice(0, 10)) console.log(`  lie: ${url} shown ${shown}`);
  } finally {
    for (const s of deaf) s.destroy();
    await spo2?.stop();
    await dns?.close();
    await targets.stop();
    await hostile.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
