/**
 * SpO₂'s own health (issue 11, operations): how late probes start, and what counts as
 * "well" for /healthz's `problems` and the heartbeat. Pure parts with a fake clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { ProbeResult } from '../src/core/status.ts';
import { EventBus } from '../src/events.ts';
import { ProbeLag } from '../src/monitor/lag.ts';
import type { Prober } from '../src/core/prober.ts';
import { Monitor } from '../src/monitor/monitor.ts';
import { healthReport, wellLimits, type HealthSources } from '../src/self/health-report.ts';
import { StoreUnavailableError } from '../src/store/ports.ts';
import { waitFor } from './helpers.ts';
import { memoryStore } from './memory-store.ts';

describe('probe lag over the last minute', () => {
  it('reports the p99 and the max of how late probes started, within the bucket resolution', () => {
    const lag = new ProbeLag();
    const t0 = 1_000_000;
    for (let i = 0; i < 990; i++) lag.record(2, t0 + i);
    for (let i = 0; i < 10; i++) lag.record(400, t0 + 990 + i);
    lag.record(1500, t0 + 1000);
    const s = lag.summary(t0 + 1000);
    assert.equal(s.probes, 1001);
    assert.equal(s.maxMs, 1500);
    // Rank 991 of 1001 falls among the 400 ms starts: reported at most ~19 % above.
    assert.ok(s.p99Ms >= 400 && s.p99Ms <= 480, `p99 ${s.p99Ms}`);
  });

  it('a probe that starts a few ms early (sharing a timer) counts as on time', () => {
    const lag = new ProbeLag();
    lag.record(-4, 5_000);
    assert.deepEqual(lag.summary(5_000), { p99Ms: 0, maxMs: 0, probes: 1 });
  });

  it('a late minute is forgotten a minute later, slice by slice', () => {
    const lag = new ProbeLag();
    const t0 = 6_000_000;
    lag.record(5_000, t0);
    for (let s = 1; s <= 5; s++) lag.record(1, t0 + s * 10_000);
    assert.equal(lag.summary(t0 + 50_000).maxMs, 5_000, 'still within the minute');
    for (let s = 6; s <= 7; s++) lag.record(1, t0 + s * 10_000);
    const later = lag.summary(t0 + 70_000);
    assert.equal(later.maxMs, 1, 'the slow start slid out');
    assert.equal(later.p99Ms, 1);
    assert.equal(later.probes, 6);
    assert.deepEqual(lag.summary(t0 + 10 * 60_000), { p99Ms: 0, maxMs: 0, probes: 0 });
  });

  it('the monitor measures starts held back by the concurrency bound, and what is overdue now', async () => {
    const held: Array<() => void> = [];
    const prober: Prober<string> = {
      prepare: (url) => url,
      start: (_url, done, context) => {
        held.push(() => done({ status: 'Healthy', reason: '', httpStatus: 200, latencyMs: 1, at: Date.now() } satisfies ProbeResult, context));
      },
    };
    const m = new Monitor({
      health: { windowSize: 10, intervalMs: 100, fastIntervalMs: 50, remindAfterMs: 0 },
      concurrency: 1,
      flushIntervalMs: 60_000,
      probe: prober,
      bus: new EventBus(),
      store: memoryStore(),
      destinations: [],
      logger: pino({ enabled: false }),
    });
    m.start();
    for (let i = 1; i <= 3; i++) m.add({ id: i, url: `http://127.0.0.1:1/${i}`, data: null, createdAt: Date.now() });
    await waitFor(() => held.length === 1, 5_000, 'the first probe to start');
    await new Promise((r) => setTimeout(r, 400));
    const waiting = m.probeLag();
    assert.ok(waiting.overdueMs >= 250, `two probes wait behind the bound: overdue ${waiting.overdueMs} ms`);
    held.shift()!(); // the next waiting probe starts at once, ~400 ms late
    assert.equal(held.length, 1);
    const started = m.probeLag();
    assert.ok(started.maxMs >= 250, `its lateness is recorded: max ${started.maxMs} ms`);
    assert.equal(started.probes, 2);
    await m.stop();
    held.shift()!();
  });
});

describe('what "well" means (problems on /healthz; the heartbeat waits for none)', () => {
  const limits = wellLimits({ intervalMs: 3000, notifyWindowMs: 10_000 });
  const sources = (over: Partial<HealthSources> = {}): HealthSources => ({
    probesInFlight: () => 3,
    probeLag: () => ({ p99Ms: 4, maxMs: 30, probes: 1200, overdueMs: 0 }),
    storeTrouble: () => null,
    backlog: async () => ({}),
    destinations: ['slack'],
    limits,
    clock: () => 10_000_000,
    ...over,
  });

  it('all is well: storage ok, probes on time, nothing waiting (a configured destination shows 0)', async () => {
    const r = await healthReport(sources());
    assert.deepEqual(r, {
      probesInFlight: 3, storage: 'ok', probeLag: { p99Ms: 4, maxMs: 30, probes: 1200, overdueMs: 0 },
      notifications: { slack: { pending: 0, oldestAgeSeconds: null } }, problems: [],
    });
  });

  it('storage trouble is a problem, named by its kind', async () => {
    const r = await healthReport(sources({ storeTrouble: () => new StoreUnavailableError('disk-full', 'disk full', 'DATABASE_PATH=/x', false) }));
    assert.equal(r.storage, 'disk-full');
    assert.deepEqual(r.problems, ['storage: disk full']);
  });

  it('probes that start a whole interval late are a problem; one slow start in a minute is not', async () => {
    assert.deepEqual((await healthReport(sources({ probeLag: () => ({ p99Ms: 40, maxMs: 2900, probes: 1200, overdueMs: 0 }) }))).problems, []);
    const late = await healthReport(sources({ probeLag: () => ({ p99Ms: 3400, maxMs: 5000, probes: 1200, overdueMs: 0 }) }));
    assert.match(late.problems.join(), /probes start late: 3\.4 s/);
    const stalled = await healthReport(sources({ probeLag: () => ({ p99Ms: 0, maxMs: 0, probes: 0, overdueMs: 12_000 }) }));
    assert.match(stalled.problems.join(), /overdue by 12 s/);
    // A short interval still allows a second of lateness (a garbage collection).
    assert.equal(wellLimits({ intervalMs: 300, notifyWindowMs: 0 }).lateMs, 1000);
  });

  it('notifications stuck for 10 minutes past the window are a problem, for a configured destination only', async () => {
    const now = 10_000_000;
    const backlog = async () => ({
      slack: { pending: 12, oldestAt: now - 11 * 60_000 },
      webhook: { pending: 3, oldestAt: now - 60 * 60_000 }, // left over from an earlier configuration
    });
    const r = await healthReport(sources({ backlog }));
    assert.deepEqual(r.notifications, { slack: { pending: 12, oldestAgeSeconds: 660 }, webhook: { pending: 3, oldestAgeSeconds: 3600 } });
    assert.deepEqual(r.problems, ['slack: the oldest undelivered notification is 11 min old']);
    const young = await healthReport(sources({ backlog: async () => ({ slack: { pending: 250, oldestAt: now - 5 * 60_000 } }) }));
    assert.deepEqual(young.problems, [], 'a big batch still going out is not stuck');
  });

  it('an outbox that cannot be read is a problem, not a crash of /healthz', async () => {
    const r = await healthReport(sources({ backlog: async () => { throw new Error('disk I/O error'); } }));
    assert.deepEqual(r.problems, ['cannot read the notification outbox: disk I/O error']);
  });
});
