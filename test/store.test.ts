/**
 * The Store port's contract, run against every engine (one file, each backend in turn).
 * Engine-specific trouble (a full disk, a read-only file) lives in storage-trouble.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Health, initialHealth } from '../src/core/health.ts';
import type { NotifyEvent } from '../src/core/notify-event.ts';
import type { Store } from '../src/store/ports.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import { tempDir } from './helpers.ts';
import { notifyEvent, T0 } from './notify-fixtures.ts';

const backends: Array<{ name: string; open(opts: { outboxLimit: number }): Promise<Store> }> = [
  { name: 'sqlite', open: async ({ outboxLimit }) => new SqliteStore(join(tempDir('spo2-store-'), 'spo2.db'), { outboxLimit }) },
];

const down = (at: number): Health => ({ ...initialHealth(T0), status: 'Unhealthy', reason: '503 Service Unavailable', httpStatus: 503, bad: true, since: at, window: [true, true, true, true, true] });

for (const backend of backends) {
  describe(`the store (${backend.name})`, () => {
    it('a transition writes the health and one outbox row per destination, and both are there after a reopen', async () => {
      const store = await backend.open({ outboxLimit: 100 });
      try {
        const { id } = await store.upsertTarget('http://a.test/', { team: 'core' }, T0);
        const added = await store.recordTransition({ id, health: down(T0 + 5) }, notifyEvent('http://a.test/', 'bad', T0 + 5), ['slack', 'webhook']);
        assert.deepEqual(added.entries.map((e) => e.destination), ['slack', 'webhook']);
        assert.ok(added.entries.every((e) => e.id > 0));
        assert.equal((await store.loadTargets())[0]!.health?.status, 'Unhealthy');
        assert.deepEqual((await store.outbox.pending('slack')).map((e) => e.id), [added.entries[0]!.id]);
        assert.deepEqual(await store.outbox.counts(), { slack: 1, webhook: 1 });
      } finally {
        await store.close();
      }
    });

    it('a transition whose outbox rows cannot be written leaves the health unwritten too: one transaction', async () => {
      const store = await backend.open({ outboxLimit: 100 });
      try {
        const { id } = await store.upsertTarget('http://a.test/', null, T0);
        // Data that cannot be serialised fails the outbox insert inside the transaction.
        const unstorable: NotifyEvent = { ...notifyEvent('http://a.test/', 'bad', T0 + 5), data: { n: 1n } };
        await assert.rejects(store.recordTransition({ id, health: down(T0 + 5) }, unstorable, ['slack']));
        assert.equal((await store.loadTargets())[0]!.health, null, 'no health without its outbox rows');
        assert.deepEqual(await store.outbox.counts(), {});
        // The store goes on: the next transition is written whole.
        await store.recordTransition({ id, health: down(T0 + 6) }, notifyEvent('http://a.test/', 'bad', T0 + 6), ['slack']);
        assert.equal((await store.loadTargets())[0]!.health?.since, T0 + 6);
      } finally {
        await store.close();
      }
    });

    it('with notifications off a transition writes the health alone', async () => {
      const store = await backend.open({ outboxLimit: 100 });
      try {
        const { id } = await store.upsertTarget('http://a.test/', null, T0);
        const added = await store.recordTransition({ id, health: down(T0 + 5) }, notifyEvent('http://a.test/', 'bad', T0 + 5), []);
        assert.deepEqual(added, { entries: [], trimmed: [] });
        assert.equal((await store.loadTargets())[0]!.health?.bad, true);
        assert.deepEqual(await store.outbox.counts(), {});
      } finally {
        await store.close();
      }
    });
  });
}
