import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Health, type HealthConfig, type Transition, initialHealth, nextDelay, observe } from '../src/core/health.ts';
import type { ProbeResult, Status } from '../src/core/status.ts';

const config: HealthConfig = { windowSize: 10, intervalMs: 3000, fastIntervalMs: 800, remindAfterMs: 15 * 60_000 };

/** Drives the state machine the way the scheduler does: each probe at the delay the machine asks for. */
function simulate(outcomes: Array<Status | [Status, string]>, start: { health: Health; now: number } = { health: initialHealth(0), now: 0 }) {
  const { health } = start;
  let { now } = start;
  const transitions: Transition[] = [];
  const times: number[] = [];
  for (const o of outcomes) {
    const [status, reason] = Array.isArray(o) ? o : [o, o === 'Healthy' ? '' : 'connect ECONNREFUSED 127.0.0.1:9'];
    const result: ProbeResult = { status, reason, httpStatus: status === 'Unhealthy' ? 503 : status === 'Healthy' ? 200 : null, latencyMs: 1, at: now };
    const transition = observe(health, result, config);
    if (transition) transitions.push(transition);
    times.push(now);
    now += nextDelay(health, config);
  }
  return { health, transitions, times, now };
}

const repeat = <T>(x: T, n: number): T[] => Array.from({ length: n }, () => x);

describe('health state machine', () => {
  it('a new target starts Healthy with an empty window', () => {
    const h = initialHealth(42);
    assert.equal(h.status, 'Healthy');
    assert.deepEqual(h.window, []);
    assert.equal(h.since, 42);
  });

  it('keeps the newest results when the window holds more than the window size (the size was lowered)', () => {
    const h = initialHealth(0);
    h.window = [...repeat(true, 12), false, false, false];
    const result: ProbeResult = { status: 'Healthy', reason: '', httpStatus: 200, latencyMs: 1, at: 1 };
    observe(h, result, config);
    assert.deepEqual(h.window, [...repeat(true, 6), false, false, false, false]);
  });

  it('keeps its own copy of the last result, never the caller\'s object', () => {
    const h = initialHealth(0);
    const first: ProbeResult = { status: 'Healthy', reason: '', httpStatus: 200, latencyMs: 1, at: 1 };
    observe(h, first, config);
    observe(h, { status: 'Unhealthy', reason: '503 Service Unavailable', httpStatus: 503, latencyMs: 2, at: 2 }, config);
    assert.deepEqual(first, { status: 'Healthy', reason: '', httpStatus: 200, latencyMs: 1, at: 1 });
    assert.deepEqual(h.last, { status: 'Unhealthy', reason: '503 Service Unavailable', httpStatus: 503, latencyMs: 2, at: 2 });
  });

  it('a dead target is reported after five failed probes at the fast pace (3.2 s)', () => {
    const run = simulate(repeat<Status>('Unreachable', 5));
    assert.equal(run.transitions.length, 1);
    const t = run.transitions[0]!;
    assert.equal(t.kind, 'bad');
    assert.equal(t.status, 'Unreachable');
    assert.equal(t.reason, 'connect ECONNREFUSED 127.0.0.1:9');
    assert.equal(t.at, 3200);
    assert.deepEqual(run.times, [0, 800, 1600, 2400, 3200]);
  });

  it('four failures are a blip: no transition', () => {
    const run = simulate([...repeat<Status>('Unreachable', 4), ...repeat<Status>('Healthy', 10)]);
    assert.deepEqual(run.transitions, []);
    assert.equal(run.health.status, 'Healthy');
  });

  it('the status entered is the one of the result that tipped the ratio, with its status line', () => {
    const run = simulate([...repeat<[Status, string]>(['Unhealthy', '503 Service Unavailable'], 5)]);
    assert.equal(run.transitions[0]!.status, 'Unhealthy');
    assert.equal(run.transitions[0]!.reason, '503 Service Unavailable');
    assert.equal(run.transitions[0]!.httpStatus, 503);
  });

  it('a recovered target is reported after ten good probes', () => {
    const down = simulate(repeat<Status>('Unreachable', 10));
    const up = simulate(repeat<Status>('Healthy', 10), { health: structuredClone(down.health), now: down.now });
    assert.equal(up.transitions.length, 1);
    const t = up.transitions[0]!;
    assert.equal(t.kind, 'recovered');
    assert.equal(t.status, 'Healthy');
    assert.equal(t.previous.status, 'Unreachable');
    assert.equal(t.previous.since, 3200);
    assert.equal(simulate(repeat<Status>('Healthy', 9), { health: structuredClone(down.health), now: down.now }).transitions.length, 0);
  });

  it('the bad ratio divides by the window size, not by how many results it holds', () => {
    const run = simulate(['Unreachable', 'Unreachable', 'Unreachable', 'Unreachable']);
    assert.equal(run.health.bad, false); // 4 of 4 results, but 4/10 < 0.5
  });

  it('probes fast while a target looks bad, and back at the interval when fully down', () => {
    const config10 = config;
    const h = initialHealth(0);
    assert.equal(nextDelay(h, config10), 3000);
    const fail = (at: number): ProbeResult => ({ status: 'Unreachable', reason: 'x', httpStatus: null, latencyMs: 1, at });
    observe(h, fail(0), config10);
    assert.equal(nextDelay(h, config10), 800, 'the last result was bad');
    for (let i = 1; i < 10; i++) observe(h, fail(i), config10);
    assert.equal(nextDelay(h, config10), 3000, 'fully down: no hammering');
    observe(h, { ...fail(11), status: 'Healthy', reason: '' }, config10);
    assert.equal(nextDelay(h, config10), 800, 'in bad state');
  });

  it('reminds that a target is still bad after SPO2_REMIND_AFTER, then restarts the clock', () => {
    const cfg = { ...config, remindAfterMs: 10_000 };
    const h = initialHealth(0);
    const kinds: string[] = [];
    for (let t = 0; t <= 25_000; t += 1000) {
      const transition = observe(h, { status: 'Unhealthy', reason: '500 Internal Server Error', httpStatus: 500, latencyMs: 1, at: t }, cfg);
      if (transition) kinds.push(`${transition.kind}@${t}`);
    }
    assert.deepEqual(kinds, ['bad@4000', 'reminder@14000', 'reminder@24000']);
  });

  it('a remind-after of 0 never reminds', () => {
    const cfg = { ...config, remindAfterMs: 0 };
    const h = initialHealth(0);
    let reminders = 0;
    for (let t = 0; t < 100_000; t += 1000) {
      if (observe(h, { status: 'Unreachable', reason: 'x', httpStatus: null, latencyMs: 1, at: t }, cfg)?.kind === 'reminder') reminders++;
    }
    assert.equal(reminders, 0);
  });

  it('while bad, the reported status follows the latest bad result but the outage keeps its start', () => {
    const run = simulate([...repeat<[Status, string]>(['Unhealthy', '502 Bad Gateway'], 5), 'Unreachable']);
    assert.equal(run.health.status, 'Unreachable');
    assert.equal(run.health.since, 3200);
    assert.equal(run.transitions.length, 1);
  });

  it('the window never grows past its size', () => {
    const run = simulate(repeat<Status>('Healthy', 25));
    assert.equal(run.health.window.length, 10);
  });
});
