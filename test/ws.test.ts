import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { Status } from '../src/core/status.js';
import type { ChangeKind, ChangeMessage, TargetValue } from '../src/core/target.js';
import { EventBus } from '../src/events.js';
import { WsHub, type WsHubOptions } from '../src/http/ws.js';
import { api, FAST_ENV, q, startSpo2, startTargetServer } from './helpers.ts';
import { stalledWebSocket } from './stalled-ws.ts';

function value(url: string, status: Status = 'Healthy', extra: Partial<TargetValue> = {}): TargetValue {
  const now = new Date().toISOString();
  return {
    id: 1, url, status, reason: status === 'Healthy' ? '' : '503 Service Unavailable', data: null,
    httpStatus: status === 'Unreachable' ? null : 200, latencyMs: 12, since: now, lastCheck: now,
    lastStatus: status, lastReason: null, createdAt: now, ...extra,
  };
}

/** A hub behind a plain http server, with a tiny in-memory registry that emits on the bus. */
async function startHub(options: Partial<WsHubOptions> = {}) {
  const bus = new EventBus();
  // In registration order with rising ids, read live, as the monitor's view is.
  const targets = new Map<string, TargetValue>();
  const ids = new Map<string, number>();
  let nextId = 1;
  const logs: { msg: string; [key: string]: unknown }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as { msg: string }) });
  const hub = new WsHub({ bus, snapshot: () => targets.values(), logger, ...options });
  const server: Server = createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const change = (kind: ChangeKind, given: TargetValue) => {
    const v = { ...given, id: ids.get(given.url) ?? nextId++ };
    ids.set(v.url, v.id);
    if (kind === 'removed') {
      targets.delete(v.url);
      ids.delete(v.url);
    } else targets.set(v.url, v);
    bus.emit('change', { kind, value: v });
  };
  const stop = async () => {
    await hub.close();
    server.closeAllConnections();
    server.close();
  };
  cleanups.push(stop);
  return { bus, hub, targets, logs, port, url: `ws://127.0.0.1:${port}/ws`, change, stop };
}

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A client that never reads (see stalled-ws.ts), closed after the test. */
async function stalled(port: number): Promise<Socket> {
  const socket = await stalledWebSocket(`http://127.0.0.1:${port}`);
  cleanups.push(() => void socket.destroy());
  return socket;
}

/** A ws client that records every message it receives. */
async function listen(url: string) {
  const ws = new WebSocket(url);
  const messages: ChangeMessage[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (raw) => {
    messages.push(JSON.parse(String(raw)) as ChangeMessage);
    for (const w of waiters.splice(0)) w();
  });
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  const waitFor = async (count: number, timeoutMs = 5000): Promise<ChangeMessage[]> => {
    const deadline = Date.now() + timeoutMs;
    while (messages.length < count) {
      if (Date.now() > deadline) throw new Error(`got ${messages.length} messages, wanted ${count}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return messages;
  };
  return { ws, messages, waitFor };
}


describe('WebSocket hub', () => {
  test('a client first receives every target as a snapshot, then every change in order', async () => {
    const h = await startHub();
    h.change('added', value('http://a.test/'));
    h.change('added', value('http://b.test/', 'Unhealthy'));
    const c = await listen(h.url);
    await c.waitFor(2);
    assert.deepEqual(c.messages.map((m) => [m.event, m.url, m.status]), [
      ['snapshot', 'http://a.test/', 'Healthy'],
      ['snapshot', 'http://b.test/', 'Unhealthy'],
    ]);
    assert.deepEqual(c.messages.map((m) => m.snapshotEnd), [undefined, true], 'the last snapshot message says so');
    h.change('status', value('http://a.test/', 'Unreachable', { reason: 'connect ECONNREFUSED 127.0.0.1:1' }));
    h.change('updated', value('http://b.test/', 'Unhealthy', { data: { team: 'x' } }));
    h.change('added', value('http://c.test/'));
    h.change('removed', value('http://a.test/', 'Unreachable'));
    const all = await c.waitFor(6);
    assert.deepEqual(all.slice(2).map((m) => [m.event, m.url, m.status]), [
      ['status', 'http://a.test/', 'Unreachable'],
      ['updated', 'http://b.test/', 'Unhealthy'],
      ['added', 'http://c.test/', 'Healthy'],
      ['removed', 'http://a.test/', 'Removed'],
    ]);
    assert.ok(all.slice(2).every((m) => m.snapshotEnd === undefined), 'changes are never marked');
    assert.equal(all[2]!.reason, 'connect ECONNREFUSED 127.0.0.1:1');
    assert.deepEqual(all[3]!.data, { team: 'x' });
    for (const key of ['url', 'status', 'reason', 'data', 'latencyMs', 'since', 'httpStatus', 'event']) {
      assert.ok(key in all[0]!, `message has ${key}`);
    }
  });

  test('a change emitted in the same turn as the connection is neither lost nor duplicated', async () => {
    const h = await startHub();
    h.change('added', value('http://a.test/'));
    // Emit changes continuously while clients connect: each client must see a consistent
    // stream (its snapshot, then exactly the changes after it).
    const clients: Awaited<ReturnType<typeof listen>>[] = [];
    let n = 0;
    const ticker = setInterval(() => h.change('status', value('http://a.test/', n++ % 2 ? 'Healthy' : 'Unhealthy', { latencyMs: n })), 1);
    for (let i = 0; i < 10; i++) clients.push(await listen(h.url));
    clearInterval(ticker);
    h.change('added', value('http://end.test/'));
    for (const c of clients) {
      const msgs = await c.waitFor(1);
      await sleep(0);
      while (!msgs.some((m) => m.url === 'http://end.test/')) await c.waitFor(msgs.length + 1);
      assert.equal(msgs[0]!.event, 'snapshot');
      const latencies = msgs.filter((m) => m.url === 'http://a.test/').map((m) => m.latencyMs ?? 0);
      for (let i = 1; i < latencies.length; i++) assert.equal(latencies[i], latencies[i - 1]! + 1, 'consecutive changes, no gap');
    }
  });

  test('a late client sees the latest state and not the history', async () => {
    const h = await startHub();
    h.change('added', value('http://a.test/'));
    h.change('added', value('http://gone.test/'));
    h.change('status', value('http://a.test/', 'Unhealthy'));
    h.change('removed', value('http://gone.test/'));
    const c = await listen(h.url);
    const msgs = await c.waitFor(1);
    await sleep(50);
    assert.deepEqual(msgs.map((m) => [m.event, m.url, m.status]), [['snapshot', 'http://a.test/', 'Unhealthy']]);
  });

  test('every client gets each change from a single bus listener', async () => {
    const h = await startHub();
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => listen(h.url)));
    assert.equal(h.hub.clientCount, 5);
    assert.equal(h.bus.listenerCount('change'), 1);
    h.change('added', value('http://a.test/'));
    for (const c of clients) assert.equal((await c.waitFor(1))[0]!.url, 'http://a.test/');
  });

  test('a stalled client is dropped once its buffer passes the bound, without hurting others', async () => {
    const h = await startHub({ maxBufferedBytes: 256 * 1024 });
    const good = await listen(h.url);
    await stalled(h.port);
    assert.equal(h.hub.clientCount, 2);
    const blob = 'x'.repeat(64 * 1024);
    let sent = 0;
    while (h.hub.clientCount > 1) {
      assert.ok(sent < 2000, 'stalled client still connected after 128 MB');
      h.change('updated', value('http://a.test/', 'Healthy', { data: { blob, n: sent++ } }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const msgs = await good.waitFor(sent, 20_000);
    assert.deepEqual(msgs.map((m) => (m.data as { n: number }).n), [...Array(sent).keys()]);
    assert.equal(good.ws.readyState, WebSocket.OPEN);
  });

  test('a big snapshot does not count as a slow client', async () => {
    const h = await startHub({ maxBufferedBytes: 1024 });
    for (let i = 0; i < 2000; i++) h.change('added', value(`http://t${i}.test/`, 'Healthy', { data: { pad: 'p'.repeat(200) } }));
    const c = await listen(h.url);
    h.change('status', value('http://t0.test/', 'Unhealthy'));
    const msgs = await c.waitFor(2001);
    assert.equal(msgs[2000]!.event, 'status');
    assert.equal(h.hub.clientCount, 1);
  });

  test('changes while a snapshot streams: each target once in the snapshot, then every change, the state replays exactly', async () => {
    const h = await startHub();
    // ~40 MB of snapshot: more than the kernel buffers of a loopback socket, so it streams for a while.
    const pad = 'p'.repeat(2000);
    const n = 20_000;
    for (let i = 0; i < n; i++) h.change('added', value(`http://t${i}.test/`, 'Healthy', { data: { pad } }));
    const c = await listen(h.url);
    await c.waitFor(2);
    c.ws.pause();
    await sleep(100);
    h.change('updated', value('http://t0.test/', 'Healthy', { data: { v: 2 } })); // sent: news after the snapshot
    h.change('removed', value('http://t1.test/')); // sent: its removal follows
    h.change('removed', value('http://t2.test/')); // sent, removed, and registered again (a new id):
    h.change('added', value('http://t2.test/', 'Healthy', { data: { back: true } })); // it must end on the board
    h.change('status', value(`http://t${n - 1}.test/`, 'Unhealthy', { data: { pad } })); // not sent yet: goes out as it is then
    h.change('removed', value(`http://t${n - 2}.test/`)); // not sent yet: never heard of
    h.change('added', value('http://new.test/')); // added meanwhile: once, at the end
    c.ws.resume();
    while (!c.messages.some((m) => m.event === 'updated')) await c.waitFor(c.messages.length + 1, 20_000);
    h.change('updated', value('http://t5.test/', 'Healthy', { data: { v: 3 } }));
    while (!c.messages.some((m) => m.url === 'http://t5.test/' && m.event === 'updated')) await c.waitFor(c.messages.length + 1, 5000);

    const msgs = c.messages;
    const snapshotEnd = msgs.findIndex((m) => m.event !== 'snapshot');
    assert.ok(msgs.slice(snapshotEnd).every((m) => m.event !== 'snapshot'), 'the snapshot comes in one piece, before any change');
    const inSnapshot = msgs.slice(0, snapshotEnd).map((m) => m.id);
    assert.equal(new Set(inSnapshot).size, inSnapshot.length, 'each target (id) once in the snapshot');
    assert.ok(inSnapshot.length >= n - 1, `snapshot of ${inSnapshot.length}`);
    assert.deepEqual(msgs.slice(0, 2).map((m) => m.url), ['http://t0.test/', 'http://t1.test/']);
    assert.deepEqual(msgs.slice(snapshotEnd).filter((m) => m.url === 'http://t0.test/' || m.url === 'http://t1.test/' || m.url === 'http://t5.test/').map((m) => [m.event, m.url]), [
      ['updated', 'http://t0.test/'],
      ['removed', 'http://t1.test/'],
      ['updated', 'http://t5.test/'],
    ]);
    assert.equal(msgs.filter((m) => m.url === 'http://new.test/').length, 1, 'the added target once, as a snapshot or as added');
    // Replaying the stream gives the registry as it is.
    const board = new Map<string, ChangeMessage>();
    for (const m of msgs) {
      if (m.status === 'Removed') board.delete(m.url);
      else board.set(m.url, m);
    }
    assert.equal(board.size, h.targets.size);
    for (const [url, v] of h.targets) {
      const m = board.get(url);
      assert.ok(m, `${url} on the board`);
      assert.equal(m.status, v.status, url);
      assert.deepEqual(m.data, v.data, url);
    }
  });

  test('a client over the limit is refused with 503 and a log line; a freed place is taken again', async () => {
    const h = await startHub({ maxClients: 2 });
    const first = await listen(h.url);
    await listen(h.url);
    const late = new WebSocket(h.url);
    late.on('error', () => {});
    cleanups.push(() => late.terminate());
    const [, res] = (await Promise.race([
      once(late, 'unexpected-response'),
      once(late, 'open').then(() => assert.fail('a third client was accepted')),
    ])) as [unknown, { statusCode: number; headers: Record<string, string> }];
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '10');
    assert.equal(h.hub.clientCount, 2);
    assert.ok(h.logs.some((l) => l.msg.includes('SPO2_WS_MAX_CLIENTS') && l.refused === 1), 'the refusal is logged');
    first.ws.close();
    const deadline = Date.now() + 3000;
    while (h.hub.clientCount > 1 && Date.now() < deadline) await sleep(10);
    const again = await listen(h.url);
    h.change('added', value('http://a.test/'));
    assert.equal((await again.waitFor(1))[0]!.url, 'http://a.test/');
  });

  test('clients share the total bound: each stalled one is dropped at its share, not at the per-client bound', async () => {
    const total = 1024 * 1024;
    const h = await startHub({ maxTotalBufferedBytes: total, maxBufferedBytes: total });
    const good = await listen(h.url);
    for (let i = 0; i < 4; i++) await stalled(h.port);
    const blob = 'x'.repeat(64 * 1024);
    let sent = 0;
    while (h.hub.clientCount > 1) {
      assert.ok(sent < 3000, 'stalled clients still connected after 192 MB');
      h.change('updated', value('http://a.test/', 'Healthy', { data: { blob, n: sent++ } }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const drops = h.logs.filter((l) => l.msg === 'dropping websocket client');
    assert.equal(drops.length, 4);
    // 5 clients share 1 MiB (205 KiB each); the last stalled one, with 2 connected, 512 KiB: one frame over at most.
    for (const d of drops) assert.ok((d.buffered as number) <= total / 2 + 70 * 1024, `dropped holding ${d.buffered as number} bytes`);
    await good.waitFor(sent, 30_000);
    assert.equal(good.ws.readyState, WebSocket.OPEN);
  });

  test('a peer that stops answering pings is dropped', async () => {
    const h = await startHub({ pingIntervalMs: 150 });
    const good = await listen(h.url);
    const deaf = await stalled(h.port);
    assert.equal(h.hub.clientCount, 2);
    const deadline = Date.now() + 3000;
    while (h.hub.clientCount > 1 && Date.now() < deadline) await sleep(20);
    assert.equal(h.hub.clientCount, 1);
    assert.equal(good.ws.readyState, WebSocket.OPEN);
    deaf.destroy();
  });

  test('what clients send is ignored, and an oversized frame only closes that client', async () => {
    const h = await startHub();
    const good = await listen(h.url);
    const chatty = await listen(h.url);
    chatty.ws.send('hello');
    chatty.ws.send('{"not":"a command"}');
    await sleep(20);
    assert.equal(chatty.ws.readyState, WebSocket.OPEN);
    chatty.ws.send('x'.repeat(100_000));
    const [code] = (await once(chatty.ws, 'close')) as [number];
    assert.equal(code, 1009);
    h.change('added', value('http://a.test/'));
    assert.equal((await good.waitFor(1))[0]!.url, 'http://a.test/');
  });

  test('close() says goodbye with 1001 and refuses new clients', async () => {
    const h = await startHub();
    const c = await listen(h.url);
    const closed = once(c.ws, 'close');
    await h.hub.close();
    const [code] = (await closed) as [number];
    assert.equal(code, 1001);
    assert.equal(h.hub.clientCount, 0);
    assert.equal(h.bus.listenerCount('change'), 0);
    const late = new WebSocket(h.url);
    const [err] = (await once(late, 'error')) as [Error];
    assert.match(err.message, /503/);
  });
});

describe('WebSocket stream of the real server', () => {
  test('both listeners (/ws and WS_LISTEN_ADDR, any path) send the snapshot, then changes in order', async () => {
    const targets = await startTargetServer();
    const spo2 = await startSpo2({ wsListener: true, env: FAST_ENV });
    cleanups.push(() => targets.close(), async () => void (await spo2.stop()));
    const before = targets.url('/before');
    await api(spo2.httpUrl, 'PUT', q(before), { team: 'a' });
    const main = await listen(spo2.httpUrl.replace(/^http/, 'ws') + '/ws');
    const extra = await listen(spo2.wsUrl! + '/any/path');
    const flip = targets.url('/flip');
    targets.set('/flip', { status: 503 });
    await api(spo2.httpUrl, 'PUT', q(flip));
    await api(spo2.httpUrl, 'DELETE', q(before));
    for (const c of [main, extra]) {
      // Probe results also arrive as `status` events; the contract is the order of what matters.
      const deadline = Date.now() + 10_000;
      const flipBad = () => c.messages.findIndex((m) => m.url === flip && m.status === 'Unhealthy');
      while (flipBad() < 0 && Date.now() < deadline) await c.waitFor(c.messages.length + 1, 10_000);
      const msgs = c.messages;
      assert.deepEqual([msgs[0]!.event, msgs[0]!.url, msgs[0]!.status], ['snapshot', before, 'Healthy']);
      assert.deepEqual(msgs[0]!.data, { team: 'a' });
      const added = msgs.findIndex((m) => m.event === 'added' && m.url === flip);
      const removed = msgs.findIndex((m) => m.event === 'removed' && m.url === before);
      assert.ok(added > 0 && removed > added && flipBad() > added, `order: ${msgs.map((m) => m.event).join(',')}`);
      assert.equal(msgs[removed]!.status, 'Removed');
      assert.equal(msgs[flipBad()]!.reason, '503 Service Unavailable');
      assert.ok(!msgs.slice(removed + 1).some((m) => m.url === before), 'nothing about a removed target after its removal');
    }
    // Both were connected before `flip` was added: from there on, the streams are the same.
    // (What comes before may differ: a probe of `before` can land between the two connects.)
    const fromAdded = (c: typeof main) => c.messages.slice(c.messages.findIndex((m) => m.event === 'added' && m.url === flip));
    const [a, b] = [fromAdded(main), fromAdded(extra)];
    const common = Math.min(a.length, b.length);
    const key = (m: ChangeMessage) => `${m.event} ${m.url} ${m.status} ${m.lastCheck}`;
    assert.deepEqual(a.slice(0, common).map(key), b.slice(0, common).map(key), 'both listeners carry the same stream');

    // A late client gets the latest state only.
    const late = await listen(spo2.wsUrl!);
    const [only] = await late.waitFor(1);
    await sleep(100);
    assert.equal(late.messages.length, 1);
    assert.deepEqual([only!.event, only!.url, only!.status], ['snapshot', flip, 'Unhealthy']);
  });
});
