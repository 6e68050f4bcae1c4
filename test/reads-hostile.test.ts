/**
 * Hostile readers of a big registry: WebSocket clients that never read and many parallel
 * `GET /all` must neither exhaust the server's memory nor stall it (issue 10, item 7).
 * The real server on a database seeded before start, its targets on a closed loopback
 * port probed once an hour, so what costs is the reads, not the probing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import type { ChangeMessage, TargetValue } from '../src/core/target.js';
import { api, q, refusedUrl, type Spo2, sqliteFile, startSpo2, tempDir, waitFor } from './helpers.ts';
import { stalledWebSocket } from './stalled-ws.ts';

/** Big enough that a whole snapshot or `/all` is ~24 MB: 20 copies of it show at once. */
const TARGETS = 20_000;
const PAD = 'p'.repeat(1000);

/**
 * What the server may grow by while 20 hostile readers hang on, over its resting size.
 * 20 WebSocket clients hold at most one 32 KiB snapshot slice and their 1 MiB share each
 * (~21 MB); 20 `/all` readers a 64 KiB slice and a socket buffer each (~3 MB); the rest is
 * slack for the garbage of serialization between collections. Holding whole copies (what
 * the old code did) is 20 × 24 MB ≈ 480 MB before any framing or string copies.
 */
const RSS_GROWTH_BOUND_MB = 150;

/** /healthz must answer within this throughout, as a liveness probe would require. */
const HEALTHZ_BOUND_MS = 100;

let spo2: Spo2;
let targetBase: string;
let restingRssMb = 0;
const cleanups: (() => unknown)[] = [];

function urlOf(i: number): string {
  return `${targetBase}/t/${i}`;
}

/** Writes TARGETS rows straight into a fresh database (registering 20,000 through the API takes ~6 s). */
function seed(dbPath: string): void {
  const db = sqliteFile(dbPath);
  const insert = db.prepare('INSERT INTO targets (url, data, created_at, updated_at) VALUES (?, ?, ?, ?)');
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < TARGETS; i++) insert.run(urlOf(i), JSON.stringify({ team: `team-${i % 50}`, n: i, pad: PAD }), now, now);
  })();
  db.close();
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Samples the server's RSS every 50 ms until stopped; returns the highest. */
function watchRss(pid: number): () => number {
  let max = rssMb(pid);
  const timer = setInterval(() => (max = Math.max(max, rssMb(pid))), 50);
  return () => {
    clearInterval(timer);
    return Math.max(max, rssMb(pid));
  };
}

/**
 * Polls /healthz from a process of its own (the test's own loop is busy reading) every
 * 20 ms, one request at a time, until stopped; returns the latencies seen.
 */
function watchHealthz(url: string): () => Promise<{ count: number; maxMs: number; p50Ms: number }> {
  const script = `
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const latencies = [];
    let stop = false;
    process.stdin.on('end', () => (stop = true)).resume();
    const once = () => new Promise((resolve, reject) => {
      const req = http.get(process.argv[1], { agent, timeout: 20000 }, (res) => res.resume().on('end', resolve));
      req.on('timeout', () => req.destroy(new Error('timeout'))).on('error', reject);
    });
    (async () => {
      while (!stop) {
        const t0 = performance.now();
        await once();
        latencies.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
      latencies.sort((a, b) => a - b);
      process.stdout.write(JSON.stringify({ count: latencies.length, maxMs: latencies.at(-1), p50Ms: latencies[latencies.length >> 1] }));
      agent.destroy();
    })();
  `;
  const child = spawn(process.execPath, ['-e', script, url], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = once(child, 'exit');
  cleanups.push(() => child.kill());
  return async () => {
    child.stdin.end();
    await exited;
    return JSON.parse(out) as { count: number; maxMs: number; p50Ms: number };
  };
}


/** One `GET /all`, read to the end at the pace the server sends it. */
function getAll(httpUrl: string): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(`${httpUrl}/all`, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

before(async () => {
  targetBase = (await refusedUrl('')).replace(/\/$/, '');
  const dir = tempDir();
  const dbPath = join(dir, 'spo2.db');
  seed(dbPath);
  // Probes are cheap and rare: a refused loopback port, once an hour.
  spo2 = await startSpo2({ dbPath, env: { SPO2_INTERVAL: '1h', SPO2_FAST_INTERVAL: '1h', SPO2_TIMEOUT: '500ms', SPO2_FLUSH_INTERVAL: '1h' } });
  const health = await api(spo2.httpUrl, 'GET', '/healthz');
  assert.equal(health.body.targets, TARGETS);
  await sleep(500); // start-up garbage collected, probing settled
  restingRssMb = rssMb(spo2.proc.pid!);
});

after(async () => {
  for (const c of cleanups.splice(0)) await c();
  await spo2?.stop();
});

describe('hostile readers of a big registry', () => {
  test('20 WebSocket clients that never read cost a bounded amount of memory, and /healthz keeps answering', async () => {
    const stopRss = watchRss(spo2.proc.pid!);
    const stopHealthz = watchHealthz(`${spo2.httpUrl}/healthz`);
    const stalled: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = await stalledWebSocket(spo2.httpUrl);
      cleanups.push(() => socket.destroy());
      stalled.push(socket);
    }
    // A dashboard that does read gets the whole snapshot meanwhile.
    const reader = new WebSocket(`${spo2.httpUrl.replace(/^http/, 'ws')}/ws`);
    cleanups.push(() => reader.terminate());
    let snapshots = 0;
    reader.on('message', (raw) => {
      if ((JSON.parse(String(raw)) as ChangeMessage).event === 'snapshot') snapshots++;
    });
    await waitFor(() => snapshots === TARGETS, 30_000, 'the reading client to get every target');
    await sleep(2000); // the stalled ones hang on
    const maxRss = stopRss();
    const healthz = await stopHealthz();
    for (const s of stalled) s.destroy();
    reader.terminate();
    console.log(`websocket: resting RSS ${restingRssMb.toFixed(0)} MB, max ${maxRss.toFixed(0)} MB; /healthz max ${healthz.maxMs.toFixed(1)} ms, p50 ${healthz.p50Ms.toFixed(1)} ms over ${healthz.count}`);
    assert.ok(maxRss - restingRssMb < RSS_GROWTH_BOUND_MB, `RSS grew by ${(maxRss - restingRssMb).toFixed(0)} MB (bound ${RSS_GROWTH_BOUND_MB} MB)`);
    assert.ok(healthz.count > 20, `/healthz answered ${healthz.count} times`);
    assert.ok(healthz.maxMs < HEALTHZ_BOUND_MS, `/healthz took up to ${healthz.maxMs.toFixed(0)} ms (bound ${HEALTHZ_BOUND_MS} ms)`);
  });

  test('20 parallel GET /all are streamed: bounded memory, /healthz keeps answering, each body is the full array', async () => {
    await sleep(500);
    const stopRss = watchRss(spo2.proc.pid!);
    const stopHealthz = watchHealthz(`${spo2.httpUrl}/healthz`);
    await sleep(200);
    const bodies = await Promise.all(Array.from({ length: 20 }, () => getAll(spo2.httpUrl)));
    await sleep(200);
    const maxRss = stopRss();
    const healthz = await stopHealthz();
    console.log(`/all: resting RSS ${restingRssMb.toFixed(0)} MB, max ${maxRss.toFixed(0)} MB; /healthz max ${healthz.maxMs.toFixed(1)} ms, p50 ${healthz.p50Ms.toFixed(1)} ms over ${healthz.count}`);
    for (const { status, headers, body } of bodies) {
      assert.equal(status, 200);
      assert.match(String(headers['content-type']), /^application\/json/);
      const values = JSON.parse(body.toString('utf8')) as TargetValue[];
      assert.equal(values.length, TARGETS);
      assert.equal(values[0]!.url, urlOf(0));
      assert.equal(values[TARGETS - 1]!.url, urlOf(TARGETS - 1));
      assert.deepEqual(values[7]!.data, { team: 'team-7', n: 7, pad: PAD });
    }
    assert.ok(maxRss - restingRssMb < RSS_GROWTH_BOUND_MB, `RSS grew by ${(maxRss - restingRssMb).toFixed(0)} MB (bound ${RSS_GROWTH_BOUND_MB} MB)`);
    assert.ok(healthz.count > 5, `/healthz answered ${healthz.count} times`);
    assert.ok(healthz.maxMs < HEALTHZ_BOUND_MS, `/healthz took up to ${healthz.maxMs.toFixed(0)} ms (bound ${HEALTHZ_BOUND_MS} ms)`);
  });

  test('a dashboard whose snapshot streams while targets change gets each target once, then every change', async () => {
    const messages: ChangeMessage[] = [];
    const ws = new WebSocket(`${spo2.httpUrl.replace(/^http/, 'ws')}/ws`);
    cleanups.push(() => ws.terminate());
    ws.on('message', (raw) => messages.push(JSON.parse(String(raw)) as ChangeMessage));
    await waitFor(() => messages.length >= 2, 10_000, 'the first messages');
    ws.pause(); // most of the snapshot is still to come
    await sleep(200);
    const late = TARGETS - 1;
    const added = urlOf(TARGETS);
    assert.equal((await api(spo2.httpUrl, 'PUT', q(urlOf(0)), { v: 2 })).status, 200); // already sent: news after the snapshot
    assert.equal((await api(spo2.httpUrl, 'DELETE', q(urlOf(1)))).status, 200); // already sent: its removal follows
    assert.equal((await api(spo2.httpUrl, 'PUT', q(urlOf(late)), { v: 2 })).status, 200); // not sent yet: goes out as it is then
    assert.equal((await api(spo2.httpUrl, 'DELETE', q(urlOf(late - 1)))).status, 200); // not sent yet: never heard of
    assert.equal((await api(spo2.httpUrl, 'PUT', q(added), { v: 1 })).status, 200); // added meanwhile
    ws.resume();
    await waitFor(() => messages.some((m) => m.event === 'updated' && m.url === urlOf(0)), 30_000, 'the change of a target sent before it');
    assert.equal((await api(spo2.httpUrl, 'PUT', q(urlOf(5)), { v: 3 })).status, 200);
    await waitFor(() => messages.some((m) => m.event === 'updated' && m.url === urlOf(5)), 10_000, 'a change after the snapshot');
    ws.terminate();

    const snapshotEnd = messages.findIndex((m) => m.event !== 'snapshot');
    assert.ok(messages.slice(snapshotEnd).every((m) => m.event !== 'snapshot'), 'the snapshot comes in one piece, before any change');
    const inSnapshot = messages.slice(0, snapshotEnd).map((m) => m.url);
    assert.equal(new Set(inSnapshot).size, inSnapshot.length, 'each target once in the snapshot');
    assert.ok(inSnapshot.length >= TARGETS - 1, `a snapshot of ${inSnapshot.length}`);
    assert.deepEqual(messages.slice(snapshotEnd).filter((m) => [urlOf(0), urlOf(1), urlOf(5)].includes(m.url) && m.event !== 'status').map((m) => [m.event, m.url]), [
      ['updated', urlOf(0)],
      ['removed', urlOf(1)],
      ['updated', urlOf(5)],
    ]);
    assert.equal(messages.filter((m) => m.url === added && m.event !== 'status').length, 1, 'the added target once, in the snapshot or as added');
    // Replaying the stream gives the registry as /all has it.
    const board = new Map<string, ChangeMessage>();
    for (const m of messages) {
      if (m.status === 'Removed') board.delete(m.url);
      else board.set(m.url, m);
    }
    const all = (await api<TargetValue[]>(spo2.httpUrl, 'GET', '/all')).body;
    assert.equal(board.size, all.length);
    for (const v of all) assert.deepEqual(board.get(v.url)?.data, v.data, v.url);
    assert.deepEqual(board.get(urlOf(late))!.data, { v: 2 });
  });
});
