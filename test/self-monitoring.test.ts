/**
 * Monitoring SpO₂ itself (issue 11, operations): /healthz reports the outbox backlog, the
 * oldest undelivered event's age, the probe lag and the storage state; SPO2_HEARTBEAT_URL
 * is pinged while SpO₂ is well, so an external dead-man's switch notices when it is not.
 * The real server, a local receiver standing in for the webhook and the heartbeat service.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, FAST_ENV, q, refusedUrl, startSpo2, startTargetServer, tempDir, waitFor, type Spo2, type TargetServer, type Wrap } from './helpers.ts';

const canMount = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;

interface Receiver {
  url: string;
  hits: Array<{ method: string; at: number; userAgent: string }>;
  status: number;
  close(): Promise<void>;
}

/** A local HTTP server that answers every request with `status` and remembers it. */
async function startReceiver(path: string): Promise<Receiver> {
  const r = { hits: [] as Receiver['hits'], status: 200 };
  const server: Server = createServer((req, res) => {
    req.resume();
    r.hits.push({ method: req.method ?? '', at: Date.now(), userAgent: req.headers['user-agent'] ?? '' });
    res.statusCode = r.status;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(r, {
    url: `http://127.0.0.1:${port}${path}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  });
}

const healthz = (spo2: Spo2) => api(spo2.httpUrl, 'GET', '/healthz');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('/healthz reports SpO₂\'s own health', () => {
  it('keeps status and targets, and adds storage, probe lag, the outbox backlog per destination and its oldest event\'s age', async () => {
    const hook = await startReceiver('/hook');
    hook.status = 503; // the webhook receiver is down: the event waits in the outbox
    const spo2 = await startSpo2({ env: { ...FAST_ENV, SPO2_WEBHOOK_URL: hook.url } });
    try {
      assert.equal((await api(spo2.httpUrl, 'PUT', q(await refusedUrl()))).status, 200);
      const waiting = await waitFor(async () => {
        const h = await healthz(spo2);
        return h.body.notifications?.webhook?.pending >= 1 ? h : null;
      }, 15_000, 'the transition to wait in the outbox');
      assert.equal(waiting.status, 200);
      assert.equal(waiting.body.status, 'ok');
      assert.equal(waiting.body.targets, 1);
      assert.equal(typeof waiting.body.probesInFlight, 'number');
      assert.equal(waiting.body.storage, 'ok');
      const lag = waiting.body.probeLag;
      assert.ok(lag.probes > 0, `probes started in the last minute: ${lag.probes}`);
      for (const field of ['p99Ms', 'maxMs', 'overdueMs']) assert.equal(typeof lag[field], 'number', field);
      assert.ok(lag.p99Ms <= lag.maxMs);
      assert.deepEqual(waiting.body.problems, [], 'a minute of failed delivery is not stuck yet');

      await sleep(1500);
      const later = (await healthz(spo2)).body;
      assert.ok(later.notifications.webhook.oldestAgeSeconds >= waiting.body.notifications.webhook.oldestAgeSeconds + 1,
        `the oldest event ages: ${JSON.stringify(waiting.body.notifications)} then ${JSON.stringify(later.notifications)}`);

      hook.status = 200; // the receiver is back: the backlog drains
      const drained = await waitFor(async () => {
        const h = await healthz(spo2);
        return h.body.notifications.webhook.pending === 0 ? h : null;
      }, 20_000, 'the backlog to drain');
      assert.deepEqual(drained.body.notifications, { webhook: { pending: 0, oldestAgeSeconds: null } });
      assert.ok(hook.hits.some((h) => h.method === 'POST'));
    } finally {
      await hook.close();
      assert.equal(await spo2.stop(), 0);
    }
  });
});

describe('the heartbeat (SPO2_HEARTBEAT_URL)', () => {
  let target: TargetServer;
  before(async () => {
    target = await startTargetServer();
  });
  after(() => target.close());

  it('is a GET every interval while SpO₂ is well, and stops when the process is stopped', async () => {
    const beat = await startReceiver('/ping/8c1f?token=secret');
    const spo2 = await startSpo2({ env: { ...FAST_ENV, SPO2_INTERVAL: '1s', SPO2_HEARTBEAT_URL: beat.url, SPO2_HEARTBEAT_INTERVAL: '300ms' } });
    try {
      await api(spo2.httpUrl, 'PUT', q(target.url('/ok')));
      await waitFor(() => beat.hits.length >= 4, 10_000, 'four heartbeats');
      assert.ok(beat.hits.every((h) => h.method === 'GET' && h.userAgent === 'spo2-heartbeat'));
      const gaps = beat.hits.slice(1).map((h, i) => h.at - beat.hits[i]!.at);
      assert.ok(gaps.every((g) => g >= 250 && g < 3_000), `one every 300 ms: ${gaps}`);
      assert.ok(!JSON.stringify(spo2.logs).includes('token=secret'), 'the URL (and its token) is never logged');
      assert.equal(await spo2.stop(), 0);
      const stoppedAt = beat.hits.length;
      await sleep(1200);
      assert.equal(beat.hits.length, stoppedAt, 'no heartbeat from a stopped SpO₂');
    } finally {
      await spo2.stop();
      await beat.close();
    }
  });

  it('stops while the storage is degraded (disk full) and comes back when it recovers', { skip: canMount || process.env.CI ? false : 'needs root and unshare -m (a private tmpfs)' }, async () => {
    const beat = await startReceiver('/ping');
    const dir = tempDir();
    const spo2 = await startSpo2({
      dbPath: join(dir, 'spo2.db'),
      env: { ...FAST_ENV, SPO2_INTERVAL: '1s', SPO2_BODY_LIMIT: '1mb', SPO2_HEARTBEAT_URL: beat.url, SPO2_HEARTBEAT_INTERVAL: '300ms' },
      wrap: onTmpfs(dir, 4096),
    });
    const filler = `/proc/${spo2.proc.pid}/root${join(dir, 'filler')}`;
    try {
      await waitFor(() => beat.hits.length >= 2, 10_000, 'heartbeats while well');
      try {
        writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024)); // more than the tmpfs holds: it fills up
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      }
      // A write larger than what SQLite's files already hold meets the full disk.
      const put = await api(spo2.httpUrl, 'PUT', q(target.url('/big')), { blob: 'x'.repeat(300_000) });
      assert.equal(put.status, 503);
      const degraded = await healthz(spo2);
      assert.equal(degraded.status, 503);
      assert.equal(degraded.body.storage, 'disk-full');
      assert.deepEqual(degraded.body.problems, ['storage: disk full']);
      await spo2.waitForLog((l) => /^heartbeat paused: storage: disk full/.test(l.msg), 5_000);
      const pausedAt = beat.hits.length;
      await sleep(1500);
      assert.ok(beat.hits.length <= pausedAt + 1, `no heartbeat while degraded (at most one already in flight): ${pausedAt} then ${beat.hits.length}`);

      rmSync(filler); // an operator frees space: the write check sees it within a few seconds
      await waitFor(async () => (await healthz(spo2)).status === 200, 15_000, 'the storage to recover');
      const resumedFrom = beat.hits.length;
      await waitFor(() => beat.hits.length >= resumedFrom + 2, 10_000, 'heartbeats again');
      await spo2.waitForLog((l) => l.msg === 'heartbeat resumed: SpO₂ is well again', 5_000);
    } finally {
      await beat.close();
      assert.equal(await spo2.stop(), 0);
    }
  });
});

/** Runs the server with `dir` a tmpfs of `sizeKb` (in a private mount namespace). */
function onTmpfs(dir: string, sizeKb: number): Wrap {
  const script = `mount -t tmpfs -o size=${sizeKb}k tmpfs "$0" || exit 97
    exec "$@"`;
  return (file, args) => ({ file: 'unshare', args: ['-m', 'sh', '-c', script, dir, file, ...args] });
}
