/**
 * The Store port's contract, run against every engine (one file, each backend in turn).
 * Engine-specific trouble (a full disk, a read-only file) lives in storage-trouble.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { type Health, initialHealth } from '../src/core/health.ts';
import type { NotifyEvent } from '../src/core/notify-event.ts';
import type { Store } from '../src/store/ports.ts';
import { openPostgresStore } from '../src/store/postgres/open.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import { postgresBackend, sqliteFile, tempDir } from './helpers.ts';
import { notifyEvent, T0 } from './notify-fixtures.ts';

/** A fresh database of an engine: the store on it, the same database opened again, and a raw row written past the store. */
interface Opened {
  store: Store;
  reopen(opts?: { outboxLimit?: number }): Promise<Store>;
  /** A target row as an older SpO₂ (or another tool) wrote it, past the store's own checks. */
  insertRaw(url: string, data: unknown): Promise<void>;
}

const pgDatabases = postgresBackend();
after(() => pgDatabases.stop());

const backends: Array<{ name: string; skip: string | false; open(opts: { outboxLimit: number }): Promise<Opened> }> = [
  {
    name: 'sqlite',
    skip: false,
    open: async ({ outboxLimit }) => {
      const path = join(tempDir('spo2-store-'), 'spo2.db');
      return {
        store: new SqliteStore(path, { outboxLimit }),
        reopen: async (o) => new SqliteStore(path, { outboxLimit: o?.outboxLimit ?? outboxLimit }),
        insertRaw: async (url, data) => {
          const db = sqliteFile(path);
          db.prepare('INSERT INTO targets (url, data, created_at, updated_at) VALUES (?, ?, 0, 0)').run(url, JSON.stringify(data));
          db.close();
        },
      };
    },
  },
  {
    name: 'postgres',
    skip: pgDatabases.skip,
    open: async ({ outboxLimit }) => {
      const url = await pgDatabases.freshUrl();
      return {
        store: await openPostgresStore(url, { outboxLimit }),
        reopen: (o) => openPostgresStore(url, { outboxLimit: o?.outboxLimit ?? outboxLimit }),
        insertRaw: async (rowUrl, data) => {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          await client.query('INSERT INTO targets (url, data, created_at, updated_at) VALUES ($1, $2, 0, 0)', [rowUrl, JSON.stringify(data)]);
          await client.end();
        },
      };
    },
  },
];

const down = (at: number): Health => ({ ...initialHealth(T0), status: 'Unhealthy', reason: '503 Service Unavailable', httpStatus: 503, bad: true, since: at, window: [true, true, true, true, true] });

for (const backend of backends) {
  describe(`the store (${backend.name})`, { skip: backend.skip }, () => {
    const open = async (opts: { outboxLimit: number }) => (await backend.open(opts)).store;
    it('a transition writes the health and one outbox row per destination, and both are there after a reopen', async () => {
      const store = await open({ outboxLimit: 100 });
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
      const store = await open({ outboxLimit: 100 });
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
      const store = await open({ outboxLimit: 100 });
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

    it('registrations resolve once committed: many at once, each its own id, all there after a reopen', async () => {
      const opened = await backend.open({ outboxLimit: 100 });
      const urls = Array.from({ length: 300 }, (_, i) => `http://a.test/${i}`);
      const acks = await Promise.all(urls.map((u, i) => opened.store.upsertTarget(u, { i }, T0 + i)));
      assert.equal(new Set(acks.map((a) => a.id)).size, 300);
      assert.ok(acks.every((a, i) => a.created && a.createdAt === T0 + i));
      await opened.store.close();
      const again = await opened.reopen();
      try {
        const stored = await again.loadTargets();
        assert.deepEqual(stored.map((t) => [t.id, t.url, t.data]), acks.map((a, i) => [a.id, urls[i], { i }]), 'oldest first, ids and data kept');
      } finally {
        await again.close();
      }
    });

    it('writes of one URL asked for in one turn commit in that order', async () => {
      const store = await open({ outboxLimit: 100 });
      try {
        const url = 'http://a.test/';
        const [first, second, kept, removed, again] = await Promise.all([
          store.upsertTarget(url, { v: 1 }, T0),
          store.upsertTarget(url, { v: 2 }, T0 + 1),
          store.upsertTarget(url, undefined, T0 + 2),
          store.deleteTarget(url),
          store.upsertTarget(url, undefined, T0 + 3),
        ]);
        assert.deepEqual([first.created, second.created, kept.created], [true, false, false]);
        assert.equal(second.id, first.id);
        assert.equal(second.createdAt, T0, 'an existing target keeps its creation time');
        assert.deepEqual(kept.data, { v: 2 }, 'no data given: the stored data stays');
        assert.equal(removed, true);
        assert.equal(again.created, true);
        assert.notEqual(again.id, first.id);
        assert.deepEqual((await store.loadTargets()).map((t) => [t.id, t.data]), [[again.id, null]]);
      } finally {
        await store.close();
      }
    });

    it('updateData changes a registered URL only; deleteTarget says whether it was there', async () => {
      const store = await open({ outboxLimit: 100 });
      try {
        await store.upsertTarget('http://a.test/', { v: 1 }, T0);
        assert.equal(await store.updateData('http://a.test/', { v: 2 }, T0 + 1), true);
        assert.equal(await store.updateData('http://b.test/', { v: 2 }, T0 + 1), false);
        assert.deepEqual((await store.loadTargets()).map((t) => [t.url, t.data]), [['http://a.test/', { v: 2 }]]);
        assert.equal(await store.deleteTarget('http://b.test/'), false);
        assert.equal(await store.deleteTarget('http://a.test/'), true);
        assert.deepEqual(await store.loadTargets(), []);
      } finally {
        await store.close();
      }
    });

    it('the periodic flush writes a slice of many healths in one call; ids no longer stored are ignored', async () => {
      const opened = await backend.open({ outboxLimit: 100 });
      const ids = await Promise.all(Array.from({ length: 1000 }, (_, i) => opened.store.upsertTarget(`http://a.test/${i}`, null, T0).then((r) => r.id)));
      await opened.store.saveHealth([...ids.map((id, i) => ({ id, health: down(T0 + i) })), { id: 999_999, health: down(T0) }]);
      await opened.store.close();
      const again = await opened.reopen();
      try {
        assert.deepEqual((await again.loadTargets()).map((t) => t.health?.since), ids.map((_, i) => T0 + i));
      } finally {
        await again.close();
      }
    });

    it('the outbox: oldest first, delivered forgets, counts and backlog per destination, and over the limit the oldest go', async () => {
      const opened = await backend.open({ outboxLimit: 10 });
      const { store } = opened;
      const { id } = await store.upsertTarget('http://a.test/', null, T0);
      const added = [];
      for (let i = 0; i < 15; i++) added.push(await store.recordTransition({ id, health: down(T0 + i) }, notifyEvent(`http://t${i}/`, 'bad', T0 + i), ['slack', 'webhook']));
      assert.deepEqual(await store.outbox.counts(), { slack: 10, webhook: 10 });
      const trimmed = added.flatMap((a) => a.trimmed).filter((t) => t.destination === 'slack');
      assert.equal(trimmed.reduce((n, t) => n + t.count, 0), 5);
      const pending = await store.outbox.pending('slack');
      assert.deepEqual(pending.map((e) => e.event.url), Array.from({ length: 10 }, (_, i) => `http://t${i + 5}/`));
      assert.ok(pending[0]!.id > trimmed.at(-1)!.throughId);
      assert.deepEqual(pending[0]!.event, notifyEvent('http://t5/', 'bad', T0 + 5));

      await store.outbox.delivered([...pending.slice(0, 3).map((e) => e.id), -1, 999_999]);
      const backlog = await store.outbox.backlog();
      assert.deepEqual(Object.keys(backlog).sort(), ['slack', 'webhook']);
      assert.equal(backlog.slack!.pending, 7);
      assert.ok(backlog.slack!.oldestAt! > T0, 'the oldest waiting event has its storage time');
      // Deliveries keep the count in step: room for exactly as many new events.
      const more = [];
      for (let i = 0; i < 3; i++) more.push(await store.recordTransition({ id, health: down(T0) }, notifyEvent(`http://new${i}/`, 'bad', T0), ['slack']));
      assert.deepEqual(more.flatMap((a) => a.trimmed), []);
      await store.close();

      const lowered = await opened.reopen({ outboxLimit: 4 });
      try {
        assert.deepEqual((await lowered.outbox.trim()).map((t) => [t.destination, t.count]).sort(), [['slack', 6], ['webhook', 6]]);
        assert.deepEqual(await lowered.outbox.counts(), { slack: 4, webhook: 4 });
      } finally {
        await lowered.close();
      }
    });

    it('start-up puts stored URLs in their canonical form: the oldest spelling wins, pending notifications follow', async () => {
      const opened = await backend.open({ outboxLimit: 100 });
      await opened.store.close();
      await opened.insertRaw('HTTP://A.test:80/x', { team: 'a' });
      await opened.insertRaw('http://a.test/x', { team: 'dup' });
      await opened.insertRaw('http://b.test/ok', null);
      const store = await opened.reopen();
      try {
        const [a] = await store.loadTargets();
        await store.recordTransition({ id: a!.id, health: down(T0) }, notifyEvent('HTTP://A.test:80/x', 'bad', T0, { data: { team: 'a' } }), ['slack']);
        const cleanup = await store.canonicaliseUrls();
        assert.deepEqual(cleanup.rewritten.map((r) => [r.from, r.to]), [['HTTP://A.test:80/x', 'http://a.test/x']]);
        assert.deepEqual(cleanup.removed.map((d) => [d.url, d.keptId, d.data]), [['http://a.test/x', a!.id, { team: 'dup' }]]);
        assert.deepEqual((await store.loadTargets()).map((t) => [t.url, t.data]), [['http://a.test/x', { team: 'a' }], ['http://b.test/ok', null]]);
        const [entry] = await store.outbox.pending('slack');
        assert.deepEqual(entry!.event, notifyEvent('http://a.test/x', 'bad', T0, { data: { team: 'a' } }), 'the event is whole, with the canonical URL');
      } finally {
        await store.close();
      }
    });
  });
}

describe('the PostgreSQL group commit', { skip: pgDatabases.skip }, () => {
  it('a write the database refuses fails alone: the writes of its turn commit', async () => {
    const store = await openPostgresStore(await pgDatabases.freshUrl());
    try {
      // PostgreSQL's TEXT refuses a NUL character: an error of that write, not of the database.
      const results = await Promise.allSettled(['http://a.test/', 'http://b.test/\u0000', 'http://c.test/'].map((u) => store.upsertTarget(u, null, T0)));
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.deepEqual((await store.loadTargets()).map((t) => t.url), ['http://a.test/', 'http://c.test/']);
      assert.equal(store.trouble(), null, 'one bad write is not trouble of the database');
    } finally {
      await store.close();
    }
  });
});
