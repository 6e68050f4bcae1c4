/**
 * Targets that share an origin with a hostile or crowded one, against the real server: an
 * endless body must not pin the origin's connections, and hundreds of targets behind one
 * origin must be judged on their own answers, not on the time spent waiting for a connection.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { api, FAST_ENV, q, startSpo2, waitFor, type Spo2 } from './helpers.js';

interface Value {
  url: string;
  status: string;
  lastStatus: string | null;
  lastReason: string | null;
  latencyMs: number | null;
}

/** One origin: `/ok/N` answers `ok` after `delayMs`; `/events` is an SSE stream that never ends. */
async function startOrigin(delayMs = 0) {
  const streams = new Set<ServerResponse>();
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      streams.add(res);
      const beat = setInterval(() => res.write(': keep-alive\n\n'), 50);
      res.on('close', () => { clearInterval(beat); streams.delete(res); });
      return;
    }
    if (delayMs > 0) setTimeout(() => res.end('ok'), delayMs);
    else res.end('ok');
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', 1024, resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => base + path,
    streams,
    hits: (path: string) => hits.get(path) ?? 0,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/**
 * Polls `/all` every `everyMs` for `ms` and returns every sighting of a watched target not
 * Healthy (damped or raw). Each raw result stays visible for a whole period, so none is missed.
 */
async function watchHealthy(spo2: Spo2, watched: Set<string>, ms: number, everyMs = 100): Promise<string[]> {
  const seen: string[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const all = (await api<Value[]>(spo2.httpUrl, 'GET', '/all')).body;
    for (const v of all) {
      if (!watched.has(v.url)) continue;
      if (v.status !== 'Healthy' || (v.lastStatus !== null && v.lastStatus !== 'Healthy')) seen.push(`${v.url}: ${v.status}, last ${v.lastStatus} (${v.lastReason})`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return seen;
}

describe('an endless body on a shared origin', { timeout: 60_000 }, () => {
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  let spo2: Spo2;

  before(async () => {
    origin = await startOrigin();
    spo2 = await startSpo2({ env: FAST_ENV });
  });
  after(async () => {
    await spo2?.stop();
    await origin?.close();
  });

  it('never pins the connections of the healthy targets beside it, before or after it is deleted', async () => {
    const healthy = new Set(Array.from({ length: 10 }, (_, i) => origin.url(`/ok/${i}`)));
    for (const url of healthy) assert.equal((await api(spo2.httpUrl, 'PUT', q(url))).status, 200);
    const events = origin.url('/events');
    assert.equal((await api(spo2.httpUrl, 'PUT', q(events))).status, 200);

    // With FAST_ENV (a probe every 300 ms, 500 ms timeout) a prober that reads the stream
    // pins a connection per probe: 8 in under 3 s, and every probe of the origin then waits.
    let mostStreams = 0;
    const count = setInterval(() => (mostStreams = Math.max(mostStreams, origin.streams.size)), 20);
    const hitsBefore = origin.hits('/ok/0');
    const during = await watchHealthy(spo2, healthy, 8_000);
    clearInterval(count);
    assert.deepEqual(during, [], 'no healthy target ever looked bad beside the stream');
    assert.ok(origin.hits('/events') >= 10, `the stream was probed (${origin.hits('/events')} times)`);
    assert.ok(origin.hits('/ok/0') - hitsBefore >= 15, 'the healthy targets were probed on their period');
    assert.ok(mostStreams <= 3, `at most ${mostStreams} streams open at once: each is cut off after its verdict`);
    const value = (await api<Value>(spo2.httpUrl, 'GET', q(events))).body;
    assert.equal(value.lastStatus, 'Healthy', 'the stream itself answered 200');

    assert.equal((await api(spo2.httpUrl, 'DELETE', q(events))).status, 200);
    const hitsAfterDelete = origin.hits('/ok/0');
    const afterDelete = await watchHealthy(spo2, healthy, 3_000);
    assert.deepEqual(afterDelete, [], 'still Healthy after the stream is gone');
    assert.ok(origin.hits('/ok/0') - hitsAfterDelete >= 6, 'and still probed');
    await waitFor(() => origin.streams.size === 0, 2_000, 'no stream left open');
  });
});

/** Registers `n` targets on the origin through 16 parallel clients. */
async function registerMany(spo2: Spo2, urls: string[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < urls.length) {
      const url = urls[next++]!;
      assert.equal((await api(spo2.httpUrl, 'PUT', q(url))).status, 200);
    }
  }));
}

for (const budget of [null, 40]) {
  const name = budget === null ? 'the default connection budget' : `SPO2_ORIGIN_CONNECTIONS=${budget}`;
  describe(`200 targets on one origin answering in 300 ms, ${name}`, { timeout: 90_000 }, () => {
    const DELAY_MS = 300;
    let origin: Awaited<ReturnType<typeof startOrigin>>;
    let spo2: Spo2;

    before(async () => {
      origin = await startOrigin(DELAY_MS);
      // 200 probes a second against 300 ms answers: 60 in flight on average, more in bursts.
      const env: Record<string, string> = { SPO2_INTERVAL: '1s', SPO2_FAST_INTERVAL: '500ms', SPO2_TIMEOUT: '2s', SPO2_FLUSH_INTERVAL: '500ms' };
      if (budget !== null) env.SPO2_ORIGIN_CONNECTIONS = String(budget);
      spo2 = await startSpo2({ env });
    });
    after(async () => {
      await spo2?.stop();
      await origin?.close();
    });

    it('none is ever Unreachable, and each reports the origin\'s answer time, not its wait for a connection', async () => {
      const urls = Array.from({ length: 200 }, (_, i) => origin.url(`/ok/${i}`));
      await registerMany(spo2, urls);
      const watched = new Set(urls);
      await waitFor(async () => (await api<Value[]>(spo2.httpUrl, 'GET', '/all')).body.every((v) => v.latencyMs !== null), 10_000, 'every target probed once');

      const latencies: number[] = [];
      const bad: string[] = [];
      const until = Date.now() + 6_000;
      while (Date.now() < until) {
        const all = (await api<Value[]>(spo2.httpUrl, 'GET', '/all')).body;
        for (const v of all) {
          if (!watched.has(v.url)) continue;
          if (v.status !== 'Healthy' || v.lastStatus !== 'Healthy') bad.push(`${v.url}: ${v.status}, last ${v.lastStatus} (${v.lastReason})`);
          if (v.latencyMs !== null) latencies.push(v.latencyMs);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(bad.slice(0, 10), [], `${bad.length} sightings of a target not Healthy`);
      latencies.sort((a, b) => a - b);
      const p50 = latencies[Math.floor(latencies.length / 2)]!;
      const max = latencies[latencies.length - 1]!;
      // The origin answers in 300 ms; a loaded machine adds some, waiting in line would add
      // whole answer times (8 connections: ~7 s; 40: up to ~1.5 s a round).
      assert.ok(latencies[0]! >= DELAY_MS - 5, `min ${latencies[0]} ms`);
      assert.ok(p50 < DELAY_MS + 150, `p50 ${p50} ms`);
      assert.ok(max < DELAY_MS + 600, `max ${max} ms`);
    });
  });
}
