/** The scheduler's timing on a fake clock: no sleeps, exact times. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Scheduled, Scheduler } from '../src/monitor/scheduler.ts';
import { FakeClock } from './fake-clock.ts';

interface Item extends Scheduled {
  name: string;
}

const item = (name: string): Item => ({ name, dueAt: 0, heapIndex: -1, removed: false, probing: false, startedAt: 0 });

/** A scheduler whose probes end when the test says; `started` lists [name, time] in order. */
function rig(concurrency = 10_000) {
  const clock = new FakeClock(1_000);
  const started: Array<[string, number]> = [];
  const running: Item[] = [];
  const s = new Scheduler<Item>({ concurrency, clock, run: (e) => { started.push([e.name, clock.now()]); running.push(e); } });
  /** Ends the probe of `e` and queues it `delay` later, as the monitor does. */
  const end = (e: Item, delay: number) => {
    running.splice(running.indexOf(e), 1);
    if (s.ended(e)) s.again(e, delay);
  };
  return { clock, s, started, running, end };
}

describe('scheduler', () => {
  it('starts a probe at its due time, not before, and nothing before start()', () => {
    const { clock, s, started } = rig();
    s.add(item('a'), 1_500);
    clock.advance(100);
    assert.equal(started.length, 0);
    s.start();
    clock.advance(394);
    assert.equal(started.length, 0);
    clock.advance(10);
    assert.deepEqual(started, [['a', 1_500]]);
  });

  it('probes falling due close together share one timer', () => {
    const { clock, s, started } = rig();
    s.start();
    const before = clock.armed;
    for (let i = 0; i < 1000; i++) s.add(item(`t${i}`), 2_000 + (i % 4)); // all within 4 ms
    clock.advance(1_010);
    assert.equal(started.length, 1000);
    assert.equal(clock.armed - before, 1, 'one timer for the whole batch');
  });

  it('never has more probes in flight than the bound; the waiting ones start in order as slots free', () => {
    const { clock, s, started, running, end } = rig(2);
    s.start();
    ['a', 'b', 'c', 'd'].forEach((name, i) => s.add(item(name), 1_100 + i));
    clock.advance(100);
    assert.deepEqual(started.map(([n]) => n), ['a', 'b']);
    assert.equal(s.probesInFlight, 2);
    end(running[0]!, 1_000);
    assert.deepEqual(started.map(([n]) => n), ['a', 'b', 'c']);
    end(running[0]!, 1_000);
    end(running[0]!, 1_000);
    assert.deepEqual(started.map(([n]) => n), ['a', 'b', 'c', 'd']);
    assert.ok(s.probesInFlight <= 2);
  });

  it('keeps each target on its own grid: a probe that ran a little late does not push the next one', () => {
    const { clock, s, started, running, end } = rig();
    s.start();
    clock.lag = 3; // every tick is 3 ms late
    s.add(item('a'), 1_100);
    clock.advance(103);
    clock.lag = 0;
    clock.advance(40);
    end(running[0]!, 1_000); // ends 43 ms after its start
    clock.advance(1_000);
    assert.deepEqual(started.map(([, at]) => at), [1_103, 2_100]);
  });

  it('a probe that ran much later than planned starts a new grid instead of catching up', () => {
    const { clock, s, started, running, end } = rig(1);
    s.start();
    s.add(item('slow'), 1_000);
    s.add(item('late'), 1_000);
    clock.advance(1); // both due; 'late' waits for the only slot
    clock.advance(500);
    end(running[0]!, 1_000); // 'slow' ends at 1,501, back on its grid at 2,000; 'late' starts 501 ms after its due time
    assert.deepEqual(started.at(-1), ['late', 1_501]);
    end(running[0]!, 1_000);
    clock.advance(499);
    end(running[0]!, 1_000); // 'slow' at 2,000
    clock.advance(501);
    assert.deepEqual(started.map(([n, at]) => `${n}@${at}`), ['slow@1000', 'late@1501', 'slow@2000', 'late@2501']);
  });

  it('ignores a second end of the same probe', () => {
    const { clock, s, running } = rig(1);
    s.start();
    const a = item('a');
    s.add(a, 1_000);
    clock.advance(1);
    running.length = 0;
    assert.equal(s.ended(a), true);
    assert.equal(s.ended(a), false);
    assert.equal(s.probesInFlight, 0);
  });

  it('a removed target is never started again, not even from the waiting queue', () => {
    const { clock, s, started, running, end } = rig(1);
    s.start();
    const [a, b] = [item('a'), item('b')];
    s.add(a, 1_000);
    s.add(b, 1_000);
    clock.advance(1);
    s.remove(b); // waiting
    end(running[0]!, 1_000);
    clock.advance(5_000);
    assert.ok(!started.some(([n]) => n === 'b'));
  });

  it('starts no probe after stop(), and leaves no timer behind', () => {
    const { clock, s, started, running, end } = rig(1);
    s.start();
    for (const name of ['a', 'b', 'c']) s.add(item(name), 1_000 + name.charCodeAt(0));
    clock.advance(200);
    assert.equal(started.length, 1);
    s.stop();
    end(running[0]!, 10);
    clock.advance(10_000);
    assert.equal(started.length, 1);
    assert.equal(clock.pending, 0);
  });

  it('shifts queued due times by what start-up took, in one go', () => {
    const { clock, s, started } = rig();
    for (let i = 0; i < 10; i++) s.add(item(`t${i}`), 1_000 + i * 100);
    clock.advance(3_000); // start-up took 3 s
    s.start(3_000);
    assert.equal(started.length, 0);
    clock.advance(1_000);
    assert.deepEqual(started.map(([, at]) => at), Array.from({ length: 10 }, (_, i) => 4_000 + i * 100));
  });
});
