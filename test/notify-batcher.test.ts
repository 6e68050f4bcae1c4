import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batcher, type Batch } from '../src/notify/batcher.ts';
import { collapse, formatSlack } from '../src/notify/format.ts';
import type { OutboxEntry } from '../src/store/ports.ts';
import { notifyEvent, T0 } from './notify-fixtures.ts';

let nextId = 1;

function entry(url: string, kind: 'bad' | 'recovered' | 'reminder' = 'bad', at = T0): OutboxEntry {
  return { id: nextId++, destination: 'slack', event: notifyEvent(url, kind, at) };
}

function urls(batch: Batch): string[] {
  return batch.groups.map((g) => g.url);
}

describe('batcher', () => {
  test('100 targets failing at once make messages of at most 40 events that cover all 100', () => {
    const b = new Batcher({ maxLines: 40, windowMs: 10_000 });
    for (let i = 0; i < 100; i++) b.add(entry(`http://t${i}.example/`), T0);
    const sent: Batch[] = [];
    for (let now = T0; b.size > 0; now += 1000) {
      const batch = b.take(now);
      if (batch) sent.push(batch);
    }
    assert.deepEqual(sent.map((m) => m.ids.length), [40, 40, 20]);
    assert.deepEqual(new Set(sent.flatMap(urls)).size, 100);
  });

  test('a full batch is ready at once; a partial one waits for the window', () => {
    const b = new Batcher({ maxLines: 3, windowMs: 10_000 });
    b.add(entry('http://a/'), T0);
    b.add(entry('http://b/'), T0 + 2000);
    assert.equal(b.readyAt(), T0 + 10_000);
    assert.equal(b.take(T0 + 9999), null);
    b.add(entry('http://c/'), T0 + 3000);
    assert.deepEqual(urls(b.take(T0 + 3000)!), ['http://a/', 'http://b/', 'http://c/']);
    assert.equal(b.readyAt(), null);
  });

  test('1,000 targets going down at once make at most 25 messages', () => {
    const b = new Batcher({ maxLines: 40, windowMs: 10_000 });
    let messages = 0;
    // They fail over three seconds while full messages go out once a second.
    for (let ms = 0, i = 0; ms <= 60_000; ms += 10) {
      for (let k = 0; k < 4 && i < 1000; k++, i++) b.add(entry(`http://t${i}/`, 'bad', T0 + ms), T0 + ms);
      if (ms % 1000 === 0 && b.take(T0 + ms)) messages++;
    }
    assert.equal(b.size, 0);
    assert.equal(messages, 25);
  });

  test('several events of one URL collapse into one line that keeps the outage', () => {
    const b = new Batcher({ maxLines: 40, windowMs: 10_000 });
    const down = entry('http://a/', 'bad', T0);
    const up = { ...entry('http://a/', 'recovered', T0 + 4000) };
    up.event.previous = { status: 'Unhealthy', reason: '503 Service Unavailable', httpStatus: 503, since: T0 };
    const other = entry('http://b/');
    b.add(down, T0);
    b.add(other, T0 + 1000);
    b.add(up, T0 + 4000);
    const batch = b.take(T0 + 10_000)!;
    assert.deepEqual([...batch.ids].sort(), [down.id, up.id, other.id].sort());
    const text = formatSlack(batch.groups.map((g) => collapse(g.entries.map((e) => e.event))), { mention: '<!channel>', now: T0 + 10_000 }).text;
    assert.equal(text, '<!channel>\nhttp://a/ is now Healthy 🎉 (was Unhealthy, 503 Service Unavailable, for 4 s)\nhttp://b/ reported Unhealthy (503 Service Unavailable)');
  });

  test('a message that failed goes back to the front and folds in what came meanwhile', () => {
    const b = new Batcher({ maxLines: 2, windowMs: 0 });
    b.add(entry('http://a/'), T0);
    b.add(entry('http://b/'), T0);
    b.add(entry('http://c/'), T0);
    const first = b.take(T0)!;
    b.add(entry('http://a/', 'recovered', T0 + 500), T0 + 500);
    b.putBack(first);
    assert.equal(b.size, 4);
    const retry = b.take(T0 + 1000)!;
    assert.deepEqual(urls(retry), ['http://a/', 'http://b/']);
    assert.deepEqual(retry.groups[0]!.entries.map((e) => e.event.kind), ['bad', 'recovered']);
    assert.deepEqual(urls(b.take(T0 + 1000)!), ['http://c/']);
  });

  test('a long backlog folds old events of one URL instead of flooding', () => {
    const b = new Batcher({ maxLines: 40, windowMs: 10_000 });
    // An hour of Slack outage: 50 targets each flapping 30 times.
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 50; i++) b.add(entry(`http://t${i}/`, round % 2 === 0 ? 'bad' : 'recovered', T0 + round * 60_000), T0 + round * 60_000);
    }
    assert.equal(b.size, 1500);
    const first = b.take(T0 + 3_600_000)!;
    const second = b.take(T0 + 3_600_000)!;
    assert.equal(b.size, 0);
    assert.deepEqual([first.groups.length, second.groups.length], [40, 10]);
    const text = formatSlack(first.groups.map((g) => collapse(g.entries.map((e) => e.event))), { mention: '<!channel>', now: T0 + 3_600_000 }).text;
    assert.match(text, /\(1160 earlier events folded into these lines\)/);
    assert.doesNotMatch(text, /<!channel>/); // everything ended recovered
  });

  test('a days-long backlog of one URL keeps its count and latest state, not every event in memory', () => {
    const b = new Batcher({ maxLines: 40, windowMs: 10_000 });
    for (let i = 0; i < 1000; i++) b.add(entry('http://flap/', i % 2 === 0 ? 'bad' : 'recovered', T0 + i * 60_000), T0 + i * 60_000);
    const batch = b.take(T0 + 1000 * 60_000)!;
    const [group] = batch.groups;
    assert.equal(batch.ids.length, 1000);
    assert.ok(group!.entries.length <= 64);
    const line = collapse(group!.entries.map((e) => e.event), group!.ids.length);
    assert.deepEqual([line.kind, line.folded, line.firstAt], ['recovered', 999, T0]);
  });
});
