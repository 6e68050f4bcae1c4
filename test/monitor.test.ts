import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { Clock } from '../src/core/clock.ts';
import type { ProbeResult } from '../src/core/status.ts';
import { EventBus } from '../src/events.ts';
import { type Prober, proberFrom } from '../src/core/prober.ts';
import { Monitor } from '../src/monitor/monitor.ts';
import type { Store } from '../src/store/ports.ts';
import { FakeClock } from './fake-clock.ts';
import { memoryStore } from './memory-store.ts';
import { waitFor } from './helpers.ts';


type Overrides = { concurrency?: number; intervalMs?: number; store?: Store; clock?: Clock };

function monitor(probe: ((url: string) => Promise<ProbeResult>) | Prober<string>, overrides: Overrides = {}) {
  const bus = new EventBus();
  const errors: unknown[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(JSON.parse(line)) });
  const m = new Monitor({
    health: { windowSize: 10, intervalMs: overrides.intervalMs ?? 1000, fastIntervalMs: 200, remindAfterMs: 0 },
    concurrency: overrides.concurrency ?? 10_000,
    flushIntervalMs: 60_000, clock: overrides.clock,
    probe: typeof probe === 'function' ? proberFrom(probe) : probe, bus, store: overrides.store ?? memoryStore(), destinations: [], logger,
  });
  return { m, bus, errors };
}

const healthy = (): ProbeResult => ({ status: 'Healthy', reason: '', httpStatus: 200, latencyMs: 1, at: Date.now() });

describe('scheduler', () => {
  // Timing itself (bound, grids, stop) is tested on a fake clock in scheduler.test.ts.
  it('spreads the first probes of 10,000 targets registered at once over the interval', async () => {
    const clock = new FakeClock(0);
    const first = new Map<string, number>();
    const prober: Prober<string> = {
      prepare: (url) => url,
      start: (url, done, context) => {
        if (!first.has(url)) first.set(url, clock.now());
        done(healthy(), context);
      },
    };
    const { m } = monitor(prober, { intervalMs: 1000, clock });
    m.start();
    for (let i = 1; i <= 10_000; i++) m.add({ id: i, url: `http://127.0.0.1:1/${i}`, data: null, createdAt: 0 });
    clock.advance(1000);
    assert.equal(first.size, 10_000, 'every target probed once within the interval');
    await m.stop();
    // Spread: no 100 ms slice of the interval holds more than twice its fair share (1,000).
    const buckets = new Array(10).fill(0);
    for (const at of first.values()) buckets[Math.min(9, Math.floor(at / 100))]++;
    assert.ok(Math.max(...buckets) < 2_000, `buckets ${buckets}`);
  });

  it('a probe in flight for a target that was just removed never brings it back', async () => {
    let release: (r: ProbeResult) => void = () => {};
    const { m, bus } = monitor(() => new Promise<ProbeResult>((resolve) => {
      release = resolve;
    }), { intervalMs: 10 });
    const kinds: string[] = [];
    bus.on('change', (c) => kinds.push(c.kind));
    m.start();
    m.add({ id: 1, url: 'http://127.0.0.1:1/x', data: null, createdAt: Date.now() });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(m.probesInFlight, 1);
    m.remove('http://127.0.0.1:1/x');
    release(healthy());
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(m.has('http://127.0.0.1:1/x'), false);
    assert.equal(m.size, 0);
    assert.deepEqual(kinds, ['added', 'removed']);
    await m.stop();
  });

  it('keeps probing a target whose status listener throws', async () => {
    let probes = 0;
    const { m, bus } = monitor(async () => { probes++; return healthy(); }, { intervalMs: 50 });
    m.start();
    m.add({ id: 1, url: 'u1', data: null, createdAt: Date.now() });
    bus.on('change', () => { throw new Error('a buggy listener'); });
    await waitFor(() => probes >= 4, 3000, 'probing goes on');
    await m.stop();
  });

  it('a failed flush keeps the results for the next one', async () => {
    let fail = true;
    const saved: number[] = [];
    const store = { ...memoryStore(), saveHealth: async (items: ReadonlyArray<{ id: number }>) => {
      if (fail) throw new Error('disk full');
      saved.push(...items.map((i) => i.id));
    } };
    const { m } = monitor(async () => ({ ...healthy(), status: 'Unhealthy', reason: '500 Internal Server Error', httpStatus: 500 }), { intervalMs: 50, store });
    m.start();
    m.add({ id: 7, url: 'u7', data: null, createdAt: Date.now() });
    await new Promise((r) => setTimeout(r, 120));
    await m.flush();
    assert.equal(saved.length, 0);
    fail = false;
    await m.stop();
    assert.ok(saved.includes(7), 'written once the store works again');
  });

  it('the periodic flush writes a window with mixed outcomes, not a steady one', async () => {
    const saved: number[] = [];
    const store = { ...memoryStore(), saveHealth: async (items: ReadonlyArray<{ id: number }>) => void saved.push(...items.map((i) => i.id)) };
    const probes = new Map<string, number>();
    const { m } = monitor(async (url) => {
      const n = (probes.get(url) ?? 0) + 1;
      probes.set(url, n);
      // `mixed`: one 503 first, then 200s, the same raw result each time but a window
      // that still holds the failure; `steady`: 200s from the start.
      return url === 'mixed' && n === 1 ? { ...healthy(), status: 'Unhealthy', reason: '503 Service Unavailable', httpStatus: 503 } : healthy();
    }, { intervalMs: 30, store });
    m.start();
    m.add({ id: 1, url: 'steady', data: null, createdAt: Date.now() });
    m.add({ id: 2, url: 'mixed', data: null, createdAt: Date.now() });
    await waitFor(() => (probes.get('steady') ?? 0) >= 3 && (probes.get('mixed') ?? 0) >= 3, 3000, 'both probed three times');
    await m.flush();
    saved.length = 0;
    const [steady, mixed] = [probes.get('steady')!, probes.get('mixed')!];
    await waitFor(() => probes.get('steady')! >= steady + 2 && probes.get('mixed')! >= mixed + 2, 3000, 'two more probes each');
    await m.flush();
    const written = [...saved];
    await m.stop(); // writes every result not yet written, steady ones included
    assert.ok(probes.get('mixed')! < 10, 'the failure is still in the window');
    assert.deepEqual(written, [2]);
  });

  it('starts no probe after stop()', async () => {
    let started = 0;
    const release: Array<() => void> = [];
    const { m } = monitor(() => { started++; return new Promise<ProbeResult>((r) => release.push(() => r(healthy()))); }, { concurrency: 1, intervalMs: 10 });
    m.start();
    for (let i = 1; i <= 5; i++) m.add({ id: i, url: `u${i}`, data: null, createdAt: Date.now() });
    await waitFor(() => started === 1, 2000, 'one probe in flight, four waiting');
    await new Promise((r) => setTimeout(r, 50));
    await m.stop();
    for (const r of release) r();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(started, 1);
  });
});

describe('prober contract', () => {
  it('drains a long queue of probes that settle inside start() without deep recursion', async () => {
    // One slow probe holds the only slot while 20,000 targets fall due; once it settles, the
    // queue drains with probes that call done() before start() returns.
    const probed = new Set<string>();
    let holdSlot: (() => void) | null = null;
    const prober: Prober<string> = {
      prepare: (url) => url,
      start: (url, done, context) => {
        const result = healthy();
        if (url === 'slow' && holdSlot === null) holdSlot = () => done(result, context);
        else {
          probed.add(url);
          done(result, context);
        }
      },
    };
    const { m, errors } = monitor(prober, { concurrency: 1, intervalMs: 100 });
    m.start();
    m.add({ id: 1, url: 'slow', data: null, createdAt: Date.now() });
    await waitFor(() => holdSlot !== null, 2000, 'the slow probe holds the slot');
    for (let i = 2; i <= 20_001; i++) m.add({ id: i, url: `u${i}`, data: null, createdAt: Date.now() });
    await new Promise((r) => setTimeout(r, 200)); // all of them due, all waiting
    assert.equal(probed.size, 0);
    holdSlot!();
    await waitFor(() => probed.size === 20_000, 5000, 'every waiting target probed');
    await m.stop();
    assert.deepEqual(errors, []);
  });

  it('ignores a second done() for the same probe', async () => {
    const starts = new Map<string, number>();
    let peak = 0;
    let inFlight = 0;
    const prober: Prober<string> = {
      prepare: (url) => url,
      start: (url, done, context) => {
        starts.set(url, (starts.get(url) ?? 0) + 1);
        peak = Math.max(peak, ++inFlight);
        setTimeout(() => {
          inFlight--;
          done(healthy(), context);
          done(healthy(), context); // a faulty prober
        }, 5);
      },
    };
    const { m } = monitor(prober, { concurrency: 2, intervalMs: 50 });
    m.start();
    for (let i = 1; i <= 4; i++) m.add({ id: i, url: `u${i}`, data: null, createdAt: Date.now() });
    await new Promise((r) => setTimeout(r, 500));
    await m.stop();
    // ~10 periods of 50 ms: a doubled reschedule would grow the count per period instead.
    for (const [url, n] of starts) assert.ok(n >= 5 && n <= 12, `${url} probed ${n} times`);
    assert.ok(peak <= 2, `the concurrency bound holds (peak ${peak})`);
  });

  it('reports a prober that throws as Unreachable, logs it, and keeps probing', async () => {
    let calls = 0;
    const prober: Prober<string> = {
      prepare: (url) => url,
      start: () => {
        calls++;
        throw new Error('prober bug');
      },
    };
    const { m, bus, errors } = monitor(prober, { intervalMs: 50 });
    const seen: Array<{ lastStatus: string | null; lastReason: string | null }> = [];
    bus.on('change', ({ value }) => seen.push(value));
    m.start();
    m.add({ id: 1, url: 'u1', data: null, createdAt: Date.now() });
    await waitFor(() => calls >= 3, 3000, 'probing goes on');
    await m.stop();
    assert.ok(seen.some((v) => v.lastStatus === 'Unreachable' && /prober bug/.test(v.lastReason ?? '')), JSON.stringify(seen));
    assert.ok(errors.length >= 1);
  });
});
