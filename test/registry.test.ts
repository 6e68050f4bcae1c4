import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { EventBus } from '../src/events.ts';
import { proberFrom } from '../src/core/prober.ts';
import { Monitor } from '../src/monitor/monitor.ts';
import { Registry } from '../src/registry.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import { tempDir } from './helpers.ts';

function registry() {
  const store = new SqliteStore(join(tempDir(), 'spo2.db'));
  const monitor = new Monitor({
    health: { windowSize: 10, intervalMs: 3_600_000, fastIntervalMs: 3_600_000, remindAfterMs: 0 },
    concurrency: 1, flushIntervalMs: 3_600_000, bus: new EventBus(), store, destinations: [], logger: pino({ level: 'silent' }),
    probe: proberFrom(async () => { throw new Error('not probed in this test'); }),
  });
  return { store, monitor, registry: new Registry(store, monitor) };
}

describe('registry', () => {
  it('replacing data in the same commit as a removal does not bring the target back', async () => {
    const { store, registry: r } = registry();
    await r.put('http://127.0.0.1:1/a', { v: 1 });
    const [removed, replaced] = await Promise.all([r.remove('http://127.0.0.1:1/a'), r.replaceData('http://127.0.0.1:1/a', { v: 2 })]);
    assert.equal(removed?.url, 'http://127.0.0.1:1/a');
    assert.equal(replaced, undefined);
    assert.equal(r.get('http://127.0.0.1:1/a'), undefined);
    assert.deepEqual(await store.loadTargets(), []);
    await store.close();
  });

  it('concurrent PUT and DELETE of one URL apply in commit order', async () => {
    const { store, registry: r } = registry();
    await r.put('http://127.0.0.1:1/b', null);
    const [, , again] = await Promise.all([r.remove('http://127.0.0.1:1/b'), r.put('http://127.0.0.1:1/b', { v: 3 }), r.put('http://127.0.0.1:1/b', undefined)]);
    assert.deepEqual(again.value.data, { v: 3 });
    const stored = await store.loadTargets();
    assert.equal(stored.length, 1);
    assert.deepEqual(stored[0]!.data, { v: 3 });
    assert.equal(r.get('http://127.0.0.1:1/b')?.id, stored[0]!.id);
    await store.close();
  });
});
