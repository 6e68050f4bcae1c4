/**
 * One probe and its origin's connection budget: driven through a fake dispatcher (every
 * undici callback called by hand, timers faked) for the gate's rules, and against a real
 * loopback server for what happens to a body after the verdict.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, it, mock } from 'node:test';
import type { Dispatcher } from 'undici';
import type { ProbeResult } from '../src/core/status.ts';
import { type GateWaiter, OriginGate, OriginGates } from '../src/probe/origin-gate.ts';
import { createProbeAgent, probe, probeRequest, startProbe } from '../src/probe/probe.ts';
import { waitFor } from './helpers.ts';

/** What undici's controller does on abort: the request errors (the socket is destroyed). */
class FakeController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  constructor(private readonly handler: Dispatcher.DispatchHandler) {}
  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.handler.onResponseError?.(this as unknown as Dispatcher.DispatchController, reason);
  }
  pause(): void {}
  resume(): void {}
}

interface Sent {
  url: string;
  handler: Dispatcher.DispatchHandler;
  controller: FakeController;
}

/** A dispatcher that only records requests; the test plays undici's part on each. */
function fakeUndici() {
  const sent: Sent[] = [];
  const dispatcher = {
    dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
      sent.push({ url: String(opts.origin) + opts.path, handler, controller: new FakeController(handler) });
      return true;
    },
  } as unknown as Dispatcher;
  const c = (s: Sent) => s.controller as unknown as Dispatcher.DispatchController;
  const find = (url: string) => {
    const s = sent.find((x) => x.url === url);
    assert.ok(s, `${url} was dispatched`);
    return s;
  };
  return {
    sent,
    dispatcher,
    urls: () => sent.map((s) => s.url),
    connect: (url: string) => { const s = find(url); s.handler.onRequestStart?.(c(s), {}); },
    answer: (url: string, status = 200) => { const s = find(url); s.handler.onResponseStart?.(c(s), status, {}, 'OK'); },
    data: (url: string, bytes: number) => { const s = find(url); s.handler.onResponseData?.(c(s), Buffer.alloc(bytes)); },
    end: (url: string) => { const s = find(url); s.handler.onResponseEnd?.(c(s), {}); },
    error: (url: string, message: string) => { const s = find(url); s.handler.onResponseError?.(c(s), new Error(message)); },
    controller: (url: string) => find(url).controller,
  };
}

function recorder() {
  const results = new Map<string, ProbeResult>();
  const done = (result: ProbeResult, url: string) => {
    assert.ok(!results.has(url), `${url} settled once`);
    results.set(url, result);
  };
  return { results, done };
}

const A = 'http://a.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('origin connection budget', () => {
  afterEach(() => mock.timers.reset());

  it("an origin's probes beyond its budget wait in order; each starts when undici is done with one (end, error, abort), not at a verdict", () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const undici = fakeUndici();
    const options = { timeoutMs: 5000, dispatcher: undici.dispatcher, gates: new OriginGates(2) };
    const { results, done } = recorder();
    for (const path of ['/1', '/2', '/3', '/4', '/5']) startProbe(probeRequest(A + path), options, done, A + path);
    startProbe(probeRequest('http://b.test/1'), options, done, 'http://b.test/1');
    assert.deepEqual(undici.urls(), [`${A}/1`, `${A}/2`, 'http://b.test/1'], 'two of a.test, and b.test has its own budget');

    undici.connect(`${A}/1`);
    undici.answer(`${A}/1`);
    assert.equal(results.get(`${A}/1`)?.status, 'Healthy');
    assert.equal(undici.sent.length, 3, 'a verdict does not free the connection: the body is still on it');
    undici.end(`${A}/1`);
    assert.deepEqual(undici.urls().slice(3), [`${A}/3`], 'the end of the response does');

    undici.connect(`${A}/2`);
    undici.error(`${A}/2`, 'socket hang up');
    assert.equal(results.get(`${A}/2`)?.reason, 'socket hang up');
    assert.deepEqual(undici.urls().slice(4), [`${A}/4`], 'an error does');

    undici.connect(`${A}/3`);
    undici.answer(`${A}/3`, 503);
    assert.equal(results.get(`${A}/3`)?.reason, '503 OK');
    undici.data(`${A}/3`, 70 * 1024);
    assert.equal(undici.controller(`${A}/3`).aborted, true, 'a body over 64 KiB is aborted');
    assert.deepEqual(undici.urls().slice(5), [`${A}/5`], 'and the abort frees the connection');
    assert.equal(results.size, 3, 'the waiting probes have no result yet');
  });

  it("a waiting probe's timeout starts only when it gets a connection; one that timed out frees it only when undici lets go", () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const undici = fakeUndici();
    const options = { timeoutMs: 500, dispatcher: undici.dispatcher, gates: new OriginGates(1) };
    const { results, done } = recorder();
    startProbe(probeRequest(`${A}/slow`), options, done, 'slow');
    startProbe(probeRequest(`${A}/next`), options, done, 'next');
    mock.timers.tick(499);
    assert.equal(results.size, 0);
    mock.timers.tick(1);
    assert.equal(results.get('slow')?.reason, 'timeout after 500 ms');
    // Still connecting (undici has not started the request): the connection is not free yet.
    mock.timers.tick(5000);
    assert.deepEqual(undici.urls(), [`${A}/slow`]);
    assert.equal(results.has('next'), false, 'a probe that did not get to start never times out');
    undici.error(`${A}/slow`, 'connect ETIMEDOUT');
    assert.deepEqual(undici.urls(), [`${A}/slow`, `${A}/next`]);
    mock.timers.tick(499);
    assert.equal(results.has('next'), false, 'its own 500 ms started when it got the connection');
    undici.connect(`${A}/next`);
    undici.answer(`${A}/next`);
    assert.equal(results.get('next')?.status, 'Healthy');
    undici.end(`${A}/next`);
    assert.equal(options.gates.of(A).idle, true);
  });

  it('a body that has not ended right after the verdict gets 200 ms, then its request is aborted', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const undici = fakeUndici();
    const options = { timeoutMs: 5000, dispatcher: undici.dispatcher, gates: new OriginGates(1) };
    const { results, done } = recorder();
    startProbe(probeRequest(`${A}/sse`), options, done, 'sse');
    startProbe(probeRequest(`${A}/after`), options, done, 'after');
    undici.connect(`${A}/sse`);
    undici.answer(`${A}/sse`);
    undici.data(`${A}/sse`, 10);
    await new Promise((r) => process.nextTick(r)); // the check right after the verdict
    mock.timers.tick(199);
    undici.data(`${A}/sse`, 10);
    assert.equal(undici.controller(`${A}/sse`).aborted, false);
    mock.timers.tick(1);
    assert.match(String(undici.controller(`${A}/sse`).reason), /body did not end/);
    assert.equal(results.get('sse')?.status, 'Healthy', 'the verdict stands');
    assert.deepEqual(undici.urls(), [`${A}/sse`, `${A}/after`]);
  });

  it('a body that ended with the headers is not waited for', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const undici = fakeUndici();
    const options = { timeoutMs: 5000, dispatcher: undici.dispatcher, gates: new OriginGates(1) };
    const { done } = recorder();
    startProbe(probeRequest(`${A}/ok`), options, done, 'ok');
    undici.connect(`${A}/ok`);
    undici.answer(`${A}/ok`);
    undici.data(`${A}/ok`, 2);
    undici.end(`${A}/ok`);
    await new Promise((r) => process.nextTick(r));
    mock.timers.tick(10_000);
    assert.equal(undici.controller(`${A}/ok`).aborted, false, 'its connection is kept');
  });

  it('hands slots on without recursion when 20,000 waiters give theirs back at once', () => {
    const gate = new OriginGate(1);
    let begun = 0;
    const waiter = (): GateWaiter => ({ nextWaiter: null, begin: () => { begun++; gate.leave(); } });
    const first: GateWaiter = { nextWaiter: null, begin: () => { begun++; } };
    gate.enter(first);
    for (let i = 0; i < 20_000; i++) gate.enter(waiter());
    assert.equal(gate.waiting, 20_000);
    gate.leave();
    assert.equal(begun, 20_001);
    assert.equal(gate.idle, true);
  });

  it('keeps the order of arrival when a slot frees while others wait', () => {
    const gate = new OriginGate(2);
    const order: number[] = [];
    const waiters = [0, 1, 2, 3, 4].map((i): GateWaiter => ({ nextWaiter: null, begin: () => order.push(i) }));
    for (const w of waiters) gate.enter(w);
    assert.deepEqual(order, [0, 1]);
    gate.leave();
    gate.enter({ nextWaiter: null, begin: () => order.push(5) }); // comes after those waiting
    gate.leave();
    gate.leave();
    gate.leave();
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
  });

  it('forgets the gates of origins no longer probed', () => {
    const gates = new OriginGates(4);
    for (let i = 0; i < 10_000; i++) {
      const gate = gates.of(`http://pod-${i}.test`);
      gate.enter({ nextWaiter: null, begin: () => {} });
      gate.leave();
    }
    assert.ok(gates.size <= 2048, `${gates.size} gates kept`);
  });
});

describe('a body after the verdict, on real sockets', () => {
  let server: Server | null = null;
  afterEach(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server!.close(r));
      server = null;
    }
  });

  it('a small body keeps its connection; an endless one loses it, and its slot, within a second', async () => {
    const sockets: Socket[] = [];
    const streams = new Set<ServerResponse>();
    server = createServer((req, res) => {
      if (req.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        streams.add(res);
        const beat = setInterval(() => res.write('data: tick\n\n'), 20);
        res.on('close', () => { clearInterval(beat); streams.delete(res); });
        return;
      }
      res.end('ok');
    });
    server.on('connection', (s: Socket) => sockets.push(s));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const agent = createProbeAgent({ timeoutMs: 5000, originConnections: 4 });
    const options = { timeoutMs: 5000, dispatcher: agent, gates: new OriginGates(4) };
    try {
      assert.equal((await probe(`${origin}/ok`, options)).status, 'Healthy');
      await sleep(20); // undici frees a connection a microtask after its response ends
      assert.equal((await probe(`${origin}/ok`, options)).status, 'Healthy');
      assert.equal(sockets.length, 1, 'the small body was read and its connection reused');

      const streaming = await probe(`${origin}/events`, options);
      assert.equal(streaming.status, 'Healthy');
      await waitFor(() => streams.size === 0, 1500, 'the stream closed by the prober');
      assert.equal(options.gates.of(origin).idle, true, 'its slot is free');
      assert.equal(sockets.filter((s) => s.destroyed).length, 1, 'that one connection was closed, the other is kept');
    } finally {
      await agent.destroy();
    }
  });
});
