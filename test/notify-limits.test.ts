/** The pure rules that keep notifications bounded: the mention per incident, drop accounting, the outbox cap. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { initialHealth } from '../src/core/health.ts';
import type { Destination, NotifyEvent } from '../src/core/notify-event.ts';
import { Batcher } from '../src/notify/batcher.ts';
import { DropLedger } from '../src/notify/dropped.ts';
import { collapse, formatSlack, formatWebhook } from '../src/notify/format.ts';
import { Incident, incidentQuietMs, MAX_INCIDENT_MS } from '../src/notify/incident.ts';
import { classify } from '../src/notify/retry.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import { sqliteFile, tempDir } from './helpers.ts';
import { notifyEvent, T0 } from './notify-fixtures.ts';

describe('the mention opens an incident, not every message of it', () => {
  test('a wave split over three messages a second apart mentions once', () => {
    const incident = new Incident(incidentQuietMs(10_000));
    const mentions = [0, 1000, 2000].map((dt) => {
      const opens = incident.opens(T0 + dt);
      incident.told(T0 + dt, opens);
      return opens;
    });
    assert.deepEqual(mentions, [true, false, false]);
  });

  test('new trouble after a quiet period of three windows (at least 30 s) opens a new incident', () => {
    assert.equal(incidentQuietMs(10_000), 30_000);
    assert.equal(incidentQuietMs(0), 30_000);
    assert.equal(incidentQuietMs(60_000), 180_000);
    const incident = new Incident(30_000);
    incident.told(T0, incident.opens(T0));
    assert.equal(incident.opens(T0 + 29_999), false);
    assert.equal(incident.opens(T0 + 30_000), true);
  });

  test('a message that was not delivered does not count: the retry still mentions', () => {
    const incident = new Incident(30_000);
    assert.equal(incident.opens(T0), true);
    // The first attempt failed: nothing told, the retry a few seconds later opens it again.
    assert.equal(incident.opens(T0 + 5000), true);
  });

  test('a steady trickle of trouble mentions again after ten minutes instead of never', () => {
    const incident = new Incident(30_000);
    const mentionedAt: number[] = [];
    for (let t = T0; t < T0 + 25 * 60_000; t += 20_000) {
      const opens = incident.opens(t);
      if (opens) mentionedAt.push(t - T0);
      incident.told(t, opens);
    }
    assert.deepEqual(mentionedAt, [0, MAX_INCIDENT_MS, 2 * MAX_INCIDENT_MS]);
  });
});

describe('dropped events are told once, by a delivered message', () => {
  test('counts wait for a delivered message, and drops during its flight wait for the next', () => {
    const ledger = new DropLedger();
    ledger.outboxFull(1234);
    const told = ledger.unreported();
    ledger.outboxFull(10); // while the message was in flight
    ledger.refused(40, 'HTTP 404: no_service');
    ledger.reported(told);
    assert.deepEqual(ledger.unreported(), { outboxFull: 10, refused: 40, refusedReason: 'HTTP 404: no_service' });
    ledger.reported(ledger.unreported());
    assert.deepEqual(ledger.unreported(), { outboxFull: 0, refused: 0, refusedReason: '' });
  });

  test('the next Slack message says how many were dropped and why; the webhook body carries the counts', () => {
    const lines = [collapse([notifyEvent('https://a.example/', 'bad', T0)])];
    const dropped = { outboxFull: 1234, refused: 1, refusedReason: 'HTTP 410: channel_is_archived <x>' };
    assert.deepEqual(formatSlack(lines, { mention: '', now: T0, dropped }).text.split('\n'), [
      'https://a.example/ reported Unhealthy (503 Service Unavailable)',
      '(1234 older events were dropped: the outbox of this destination was full, see SPO2_OUTBOX_LIMIT)',
      '(1 event was dropped after this destination refused them: HTTP 410: channel_is_archived &lt;x&gt;)',
    ]);
    assert.deepEqual(formatWebhook(lines, dropped).dropped, dropped);
    assert.equal('dropped' in formatWebhook(lines, { outboxFull: 0, refused: 0, refusedReason: '' }), false);
  });
});

describe('a revoked or gone hook is permanent', () => {
  test('403, 404 and 410 say the hook is gone; 5xx and 429 stay retries', () => {
    for (const code of [403, 404, 410]) assert.equal(classify(code, undefined, 'no_service', T0).kind, 'gone');
    for (const code of [500, 502, 429]) assert.equal(classify(code, undefined, '', T0).kind, 'retry');
    assert.equal(classify(400, undefined, 'invalid_payload', T0).kind, 'rejected');
  });
});

describe('the outbox keeps at most SPO2_OUTBOX_LIMIT events per destination', () => {
  function openOutbox(limit: number, path = join(tempDir('spo2-outbox-'), 'spo2.db')) {
    const store = new SqliteStore(path, { outboxLimit: limit });
    const look = sqliteFile(path);
    after(() => look.close());
    const rows = (d: string) => (look.prepare('SELECT COUNT(*) AS n FROM outbox WHERE destination = ?').get(d) as { n: number }).n;
    // Events enter the outbox with a transition, as the monitor writes them (id 0: no target row).
    const add = (event: NotifyEvent, destinations: Destination[]) => store.recordTransition({ id: 0, health: initialHealth(T0) }, event, destinations);
    return { store, path, rows, add, outbox: store.outbox };
  }

  test('the insert over the limit drops the oldest in its own transaction and says through which id', async () => {
    const { store, rows, add, outbox } = openOutbox(10);
    const added = await Promise.all(Array.from({ length: 15 }, (_, i) => add(notifyEvent(`http://t${i}/`, 'bad', T0), ['slack', 'webhook'])));
    assert.deepEqual([rows('slack'), rows('webhook')], [10, 10]);
    const trimmed = added.flatMap((a) => a.trimmed).filter((t) => t.destination === 'slack');
    assert.equal(trimmed.reduce((n, t) => n + t.count, 0), 5);
    const pending = await outbox.pending('slack');
    assert.deepEqual(pending.map((e) => e.event.url), Array.from({ length: 10 }, (_, i) => `http://t${i + 5}/`));
    assert.ok(pending[0]!.id > trimmed.at(-1)!.throughId);
    // Deliveries keep the count in step: room for exactly as many new events.
    await outbox.delivered(pending.slice(0, 3).map((e) => e.id));
    const more = await Promise.all([0, 1, 2].map((i) => add(notifyEvent(`http://new${i}/`, 'bad', T0), ['slack'])));
    assert.deepEqual(more.flatMap((a) => a.trimmed), []);
    assert.equal(rows('slack'), 10);
    await store.close();
  });

  test('a full outbox trims to 1 % below the limit, not one row per event', async () => {
    const { store, rows, add } = openOutbox(1000);
    const added = await Promise.all(Array.from({ length: 1100 }, (_, i) => add(notifyEvent(`http://t${i}/`, 'bad', T0), ['slack'])));
    const trims = added.flatMap((a) => a.trimmed);
    assert.ok(rows('slack') <= 1000 && rows('slack') >= 990, `${rows('slack')} rows`);
    assert.equal(trims.length, 10);
    assert.equal(trims.reduce((n, t) => n + t.count, 0), 1100 - rows('slack'));
    await store.close();
  });

  test('a limit lowered between runs applies at start', async () => {
    const first = openOutbox(100);
    await Promise.all(Array.from({ length: 30 }, (_, i) => first.add(notifyEvent(`http://t${i}/`, 'bad', T0), ['slack'])));
    await first.store.close();
    const second = openOutbox(10, first.path);
    const trimmed = await second.outbox.trim();
    assert.deepEqual(trimmed.map((t) => [t.destination, t.count]), [['slack', 20]]);
    assert.equal(second.rows('slack'), 10);
    await second.store.close();
  });

  test('the batcher forgets what the outbox dropped, and only that', () => {
    const b = new Batcher({ maxLines: 40, windowMs: 0 });
    for (let id = 1; id <= 6; id++) b.add({ id, destination: 'slack', event: notifyEvent(`http://t${id % 3}/`, 'bad', T0 + id) }, T0);
    b.add({ id: -1, destination: 'slack', event: notifyEvent('http://volatile/', 'bad', T0) }, T0);
    assert.equal(b.dropThrough(4), 4);
    assert.equal(b.size, 3);
    const batch = b.take(T0)!;
    assert.deepEqual(batch.ids.sort((x, y) => x - y), [-1, 5, 6]);
  });
});
