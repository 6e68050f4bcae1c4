/**
 * A destination that misbehaves must cost bounded memory and disk and never bury the next
 * alert: a revoked hook, a long outage, a wave of trouble. Against a local HTTP server
 * standing in for Slack; the last test runs the real `spo2 serve` process.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import type { Transition, TransitionKind } from '../src/core/health.ts';
import type { TargetValue } from '../src/core/target.ts';
import { EventBus } from '../src/events.ts';
import { Notifier, type NotifierConfig } from '../src/notify/notifier.ts';
import type { DeliveryTiming } from '../src/notify/delivery.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import { api, FAST_ENV, q, sqliteFile, startSpo2, startTargetServer, tempDir, waitFor, type Spo2 } from './helpers.ts';
import { recordTransition } from './notify-fixtures.ts';
import { eventLines, startSlackStub, type SlackStub } from './notify-slack-stub.ts';

const stubs: SlackStub[] = [];
const running: Spo2[] = [];
const rigs: Array<{ stop(): Promise<void> }> = [];
const servers: Array<{ close(): Promise<void> }> = [];
after(async () => {
  // A failed assertion leaves its notifier retrying: stop everything whatever happened.
  for (const r of rigs) await r.stop();
  for (const s of running) await s.kill9();
  for (const s of servers) await s.close();
  await Promise.all(stubs.map((s) => s.close()));
});

async function stub(): Promise<SlackStub> {
  const s = await startSlackStub();
  stubs.push(s);
  return s;
}

function transition(url: string, kind: TransitionKind = 'bad', at = Date.now()): { target: TargetValue; transition: Transition } {
  const iso = new Date(at).toISOString();
  const target: TargetValue = {
    id: 1, url, status: 'Unhealthy', reason: '503 Service Unavailable', data: null,
    httpStatus: 503, latencyMs: 3, since: iso, lastCheck: iso, lastStatus: null, lastReason: null, createdAt: iso,
  };
  return { target, transition: { kind, status: 'Unhealthy', reason: target.reason, httpStatus: 503, at, previous: { status: 'Healthy', reason: '', httpStatus: 200, since: at - 60_000 } } };
}

interface LogRecord { level: number; msg: string; [k: string]: unknown }

async function rig(config: Partial<NotifierConfig & { outboxLimit: number }>, timing: Partial<DeliveryTiming> = {}) {
  const logs: LogRecord[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { logs.push(JSON.parse(chunk.toString()) as LogRecord); done(); } });
  const bus = new EventBus();
  const dbPath = join(tempDir('spo2-hostile-'), 'spo2.db');
  const store = new SqliteStore(dbPath, { outboxLimit: config.outboxLimit });
  const look = sqliteFile(dbPath);
  const notifier = new Notifier({
    config: { slackHookUrl: null, slackMention: '<!channel>', webhookUrl: null, webhookSecret: null, notifyBatch: 40, notifyWindowMs: 50, ...config },
    bus, outbox: store.outbox, logger: pino({ level: 'info' }, sink),
    timing: { minGapMs: 100, backoff: { baseMs: 200, maxMs: 2000 }, requestTimeoutMs: 2000, ...timing },
    random: () => 1,
  });
  await notifier.start();
  const self = {
    bus, store, notifier, logs,
    /** A transition as the monitor records it (see recordTransition). */
    record: (t: { target: TargetValue; transition: Transition }) => recordTransition({ store, bus, destinations: notifier.destinations }, t),
    rows: () => (look.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n,
    async stop() {
      await notifier.stop();
      await store.close();
      look.close();
    },
  };
  rigs.push(self);
  return self;
}

describe('a revoked or gone hook', () => {
  for (const [status, said] of [[404, 'no_service'], [410, 'channel_is_archived'], [403, 'invalid_token']] as const) {
    test(`answering ${status} forever: each message is dropped after three tries, logged with what Slack said, and later events are still tried`, async () => {
      const slack = await stub();
      slack.respond((_n, _req, res) => res.writeHead(status).end(said));
      const r = await rig({ slackHookUrl: slack.url });
      for (let i = 0; i < 5; i++) void r.record(transition(`http://t${i}.example/`));
      const dropped = await waitFor(() => r.logs.find((l) => l.level >= 50 && /revoked or gone/.test(l.msg)), 5000, 'the drop logged as an error');
      assert.equal(dropped.reason, `HTTP ${status}: ${said}`);
      assert.equal(dropped.events, 5);
      await waitFor(() => r.rows() === 0, 2000, 'the outbox emptied');
      assert.equal(slack.received.length, 3);

      void r.record(transition('http://later.example/'));
      await waitFor(() => slack.received.length === 4, 2000, 'the next event tried');
      assert.deepEqual(eventLines(slack.received[3]!.json.text), ['http://later.example/ reported Unhealthy (503 Service Unavailable)']);
      assert.match(slack.received[3]!.json.text!, new RegExp(`\\(5 events were dropped after this destination refused them: HTTP ${status}: ${said}\\)`));
      await r.stop();
    });
  }

  test('a hook that answers 200 again after a drop gets the next event promptly: the backoff starts over', async () => {
    const slack = await stub();
    // 404 three times (dropped), then one 500, then fine.
    slack.respond((n, _req, res) => {
      if (n < 3) res.writeHead(404).end('no_service');
      else if (n === 3) res.writeHead(500).end('oops');
      else res.end('ok');
    });
    // Backoff 1 s, 2 s, 4 s … (jitter pinned to its top): a kept count would make the 500 wait 4 s.
    const r = await rig({ slackHookUrl: slack.url }, { backoff: { baseMs: 1000, maxMs: 60_000 } });
    void r.record(transition('http://old.example/'));
    await waitFor(() => r.rows() === 0 && slack.received.length === 3, 8000, 'the refused message dropped');

    const emittedAt = Date.now();
    void r.record(transition('http://new.example/'));
    const delivered = await waitFor(() => slack.delivered()[0], 5000, 'the next event delivered');
    assert.deepEqual(eventLines(delivered.json.text), ['http://new.example/ reported Unhealthy (503 Service Unavailable)']);
    const retryGap = slack.received[4]!.at - slack.received[3]!.at;
    assert.ok(retryGap >= 900 && retryGap < 2500, `the first retry after the drop waited ${retryGap} ms: the first step of the backoff (1 s)`);
    assert.ok(delivered.at - emittedAt < 3000, `delivered ${delivered.at - emittedAt} ms after the event`);
    await r.stop();
  });
});

describe('the outbox limit', () => {
  test('an outage past SPO2_OUTBOX_LIMIT keeps the newest events, drops the oldest, and the next message says how many', async () => {
    const slack = await stub();
    let down = true;
    slack.respond((_n, _req, res) => (down ? res.writeHead(503).end('down') : res.end('ok')));
    const r = await rig({ slackHookUrl: slack.url, outboxLimit: 5 });
    for (let i = 0; i < 12; i++) void r.record(transition(`http://t${i}.example/`));
    await waitFor(() => slack.received.length >= 1, 3000, 'a first failed attempt');
    assert.equal(r.rows(), 5);
    assert.deepEqual(r.notifier.pending(), { slack: 5 });
    const warned = await waitFor(() => r.logs.find((l) => /outbox full/.test(l.msg)), 2000, 'the drop logged');
    assert.equal(warned.dropped, 7);

    down = false;
    const delivered = await waitFor(() => slack.delivered()[0], 5000, 'delivery after the outage');
    assert.deepEqual(eventLines(delivered.json.text).map((l) => l.split(' ')[0]), [7, 8, 9, 10, 11].map((i) => `http://t${i}.example/`));
    assert.match(delivered.json.text!, /^\(7 older events were dropped: the outbox of this destination was full, see SPO2_OUTBOX_LIMIT\)$/m);
    await waitFor(() => r.rows() === 0, 2000, 'outbox cleared');
    // Told once: the next message carries no note.
    void r.record(transition('http://after.example/'));
    const next = await waitFor(() => slack.delivered()[1], 3000, 'the next message');
    assert.doesNotMatch(next.json.text!, /dropped/);
    await r.stop();
  });
});

describe('the mention', () => {
  test('100 targets going bad at once: three messages, only the first opens with <!channel>, all 100 covered', async () => {
    const slack = await stub();
    const r = await rig({ slackHookUrl: slack.url });
    for (let i = 0; i < 100; i++) void r.record(transition(`http://t${i}.example/`));
    await waitFor(() => slack.delivered().length === 3, 5000, 'three messages');
    const texts = slack.delivered().map((m) => m.json.text!);
    assert.deepEqual(texts.map((t) => t.split('\n')[0] === '<!channel>'), [true, false, false]);
    assert.equal(texts.join('\n').match(/<!channel>/g)!.length, 1);
    assert.equal(new Set(texts.flatMap((t) => eventLines(t))).size, 100);
    await r.stop();
  });
});

describe('a revoked hook against the real process', () => {
  test('404 forever: the outbox in the database file stays within SPO2_OUTBOX_LIMIT and the drops are logged', async () => {
    const slack = await stub();
    slack.respond((_n, _req, res) => res.writeHead(404).end('no_service'));
    const targets = await startTargetServer();
    servers.push(targets);
    const spo2 = await startSpo2({ env: { ...FAST_ENV, SLACK_HOOK_URL: slack.url, SPO2_OUTBOX_LIMIT: '20' } });
    running.push(spo2);
    const urls = Array.from({ length: 60 }, (_, i) => targets.url(`/gone/${i}`));
    for (let i = 0; i < 60; i++) targets.set(`/gone/${i}`, { status: 500 });
    await Promise.all(urls.map((u) => api(spo2.httpUrl, 'PUT', q(u))));

    const db = new Database(spo2.dbPath, { readonly: true, fileMustExist: true });
    const rows = () => (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
    let most = 0;
    const deadline = Date.now() + 6000;
    while (Date.now() < deadline) {
      most = Math.max(most, rows());
      await new Promise((res) => setTimeout(res, 50));
    }
    db.close();
    assert.ok(most > 0 && most <= 20, `at most 20 rows in the outbox, saw ${most}`);
    const full = await spo2.waitForLog((l) => /outbox full/.test(l.msg), 5000);
    assert.ok(Number(full.dropped) > 0);
    const refused = await spo2.waitForLog((l) => /revoked or gone/.test(l.msg), 5000);
    assert.equal(refused.reason, 'HTTP 404: no_service');
    await spo2.stop();
  });
});
