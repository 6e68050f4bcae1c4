import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import type { Transition, TransitionKind } from '../src/core/health.ts';
import type { TargetValue } from '../src/core/target.ts';
import { EventBus } from '../src/events.ts';
import { Notifier, type NotifierConfig } from '../src/notify/notifier.ts';
import { backoffMs, parseRetryAfter } from '../src/notify/retry.ts';
import type { Outbox } from '../src/store/ports.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import { sqliteFile, tempDir, waitFor } from './helpers.ts';
import { recordTransition } from './notify-fixtures.ts';
import { eventLines, startSlackStub, type SlackStub } from './notify-slack-stub.ts';

const silent = pino({ level: 'silent' });
const stubs: SlackStub[] = [];
after(async () => { await Promise.all(stubs.map((s) => s.close())); });

function transition(url: string, kind: TransitionKind, at = Date.now()): { target: TargetValue; transition: Transition } {
  const bad = kind !== 'recovered';
  const iso = new Date(at).toISOString();
  const target: TargetValue = {
    id: 1, url, status: bad ? 'Unhealthy' : 'Healthy', reason: bad ? '503 Service Unavailable' : '', data: { team: 'core' },
    httpStatus: bad ? 503 : 200, latencyMs: 3, since: iso, lastCheck: iso, lastStatus: null, lastReason: null, createdAt: iso,
  };
  return {
    target,
    transition: {
      kind, status: target.status, reason: target.reason, httpStatus: target.httpStatus, at,
      previous: bad ? { status: 'Healthy', reason: '', httpStatus: 200, since: at - 60_000 } : { status: 'Unhealthy', reason: '503 Service Unavailable', httpStatus: 503, since: at - 4000 },
    },
  };
}

interface Rig {
  bus: EventBus;
  store: SqliteStore;
  notifier: Notifier;
  dbPath: string;
  outboxRows: () => number;
  /** A transition as the monitor records it (see recordTransition). */
  record(t: { target: TargetValue; transition: Transition }): Promise<void>;
  stop(): Promise<void>;
}

async function rig(config: Partial<NotifierConfig & { outboxLimit: number }>, dbPath = join(tempDir('spo2-notify-'), 'spo2.db')): Promise<Rig> {
  const bus = new EventBus();
  const store = new SqliteStore(dbPath, { outboxLimit: config.outboxLimit });
  const look = sqliteFile(dbPath);
  const notifier = new Notifier({
    config: { slackHookUrl: null, slackMention: '<!channel>', webhookUrl: null, webhookSecret: null, notifyBatch: 40, notifyWindowMs: 50, ...config },
    bus, outbox: store.outbox, logger: silent,
    timing: { minGapMs: 100, backoff: { baseMs: 200, maxMs: 2000 }, requestTimeoutMs: 2000 },
  });
  await notifier.start();
  return {
    bus, store, notifier, dbPath,
    record: (t) => recordTransition({ store, bus, destinations: notifier.destinations }, t),
    outboxRows: () => (look.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n,
    async stop() {
      await notifier.stop();
      await store.close();
      look.close();
    },
  };
}

async function stub(): Promise<SlackStub> {
  const s = await startSlackStub();
  stubs.push(s);
  return s;
}

describe('notification delivery against a stand-in Slack', () => {
  test('an event is in the outbox before it is sent and leaves it after a 2xx', async () => {
    const slack = await stub();
    const r = await rig({ slackHookUrl: slack.url });
    let rowsWhenSent = -1;
    slack.respond((_n, _req, res) => { rowsWhenSent = r.outboxRows(); res.end('ok'); });
    void r.record(transition('http://a.example/', 'bad'));
    await waitFor(() => slack.delivered().length === 1);
    assert.equal(rowsWhenSent, 1);
    assert.deepEqual(slack.received[0]!.json.text!.split('\n'), ['<!channel>', 'http://a.example/ reported Unhealthy (503 Service Unavailable)']);
    await waitFor(() => r.outboxRows() === 0, 2000, 'outbox cleared');
    await r.stop();
  });

  test('events delivered while the outbox cannot be written are cleared once it can: no second send after a restart', async () => {
    const slack = await stub();
    const dbPath = join(tempDir('spo2-notify-'), 'spo2.db');
    const store = new SqliteStore(dbPath);
    const look = sqliteFile(dbPath);
    let storageDown = false;
    const real = store.outbox;
    const outbox: Outbox = {
      trim: () => real.trim(), pending: (d) => real.pending(d), counts: () => real.counts(), backlog: () => real.backlog(),
      delivered: (ids) => (storageDown ? Promise.reject(new Error('disk full')) : real.delivered(ids)),
    };
    const bus = new EventBus();
    const notifier = new Notifier({
      config: { slackHookUrl: slack.url, slackMention: '<!channel>', webhookUrl: null, webhookSecret: null, notifyBatch: 40, notifyWindowMs: 50 },
      bus, outbox, logger: silent,
      timing: { minGapMs: 100, backoff: { baseMs: 200, maxMs: 2000 }, requestTimeoutMs: 2000, clearRetryMs: 100 },
    });
    await notifier.start();
    const rows = () => (look.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
    try {
      await recordTransition({ store, bus, destinations: notifier.destinations }, transition('http://a.example/', 'bad'));
      storageDown = true; // the disk fills between the write of the event and its delivery
      await waitFor(() => slack.delivered().length === 1, 5000);
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(rows(), 1, 'not cleared while the storage refuses');
      storageDown = false;
      await waitFor(() => rows() === 0, 3000, 'cleared once the storage takes writes again');
      assert.equal(slack.delivered().length, 1);
    } finally {
      await notifier.stop();
      await store.close();
      look.close();
    }
  });

  test('429 with Retry-After is obeyed, then the same events are delivered', async () => {
    const slack = await stub();
    slack.respond((n, _req, res) => {
      if (n === 0) res.writeHead(429, { 'retry-after': '1' }).end('rate_limited');
      else res.end('ok');
    });
    const r = await rig({ slackHookUrl: slack.url });
    void r.record(transition('http://a.example/', 'bad'));
    void r.record(transition('http://b.example/', 'bad'));
    await waitFor(() => slack.delivered().length === 1, 5000);
    const [first, second] = slack.received;
    assert.ok(second!.at - first!.at >= 950, `retried after ${second!.at - first!.at} ms, Retry-After said 1 s`);
    assert.equal(second!.body, first!.body);
    await waitFor(() => r.outboxRows() === 0, 2000, 'outbox cleared');
    await r.stop();
  });

  test('500 is retried with growing backoff until it succeeds; nothing is lost or sent twice', async () => {
    const slack = await stub();
    slack.respond((n, _req, res) => { if (n < 3) res.writeHead(500).end('boom'); else res.end('ok'); });
    const r = await rig({ slackHookUrl: slack.url });
    for (let i = 0; i < 5; i++) void r.record(transition(`http://t${i}.example/`, 'bad'));
    await waitFor(() => slack.delivered().length === 1, 8000);
    const gaps = slack.received.slice(1).map((x, i) => x.at - slack.received[i]!.at);
    assert.equal(gaps.length, 3);
    assert.ok(gaps[0]! >= 100 && gaps[2]! > gaps[0]!, `backoff should grow: ${gaps.join(', ')} ms`);
    assert.equal(eventLines(slack.delivered()[0]!.json.text).length, 5);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(slack.delivered().length, 1);
    await r.stop();
  });

  test('a Slack outage across a restart: pending events are sent by the next run', async () => {
    const slack = await stub();
    slack.respond((_n, _req, res) => res.writeHead(503).end('down'));
    const first = await rig({ slackHookUrl: slack.url });
    for (let i = 0; i < 3; i++) void first.record(transition(`http://t${i}.example/`, 'bad'));
    await waitFor(() => slack.received.length >= 1, 3000);
    await first.stop();
    assert.equal(slack.delivered().length, 0);

    slack.respond((_n, _req, res) => res.end('ok'));
    const second = await rig({ slackHookUrl: slack.url }, first.dbPath);
    await waitFor(() => slack.delivered().length === 1, 3000);
    assert.deepEqual(eventLines(slack.delivered()[0]!.json.text).sort(), [0, 1, 2].map((i) => `http://t${i}.example/ reported Unhealthy (503 Service Unavailable)`));
    await waitFor(() => second.outboxRows() === 0, 2000, 'outbox cleared');
    await second.stop();
  });

  test('each destination has its own queue: a failing webhook does not hold Slack back', async () => {
    const slack = await stub();
    const hook = await stub();
    hook.respond((_n, _req, res) => res.writeHead(502).end());
    const r = await rig({ slackHookUrl: slack.url, webhookUrl: hook.url });
    void r.record(transition('http://a.example/', 'bad'));
    await waitFor(() => slack.delivered().length === 1 && hook.received.length >= 2, 5000);
    assert.equal(r.outboxRows(), 1); // the webhook's copy waits
    await r.stop();
  });

  test('the webhook body is signed with HMAC-SHA256 of the exact bytes', async () => {
    const hook = await stub();
    const secret = 's3cret-for-tests';
    const r = await rig({ webhookUrl: hook.url, webhookSecret: secret });
    void r.record(transition('http://a.example/', 'bad'));
    await waitFor(() => hook.delivered().length === 1);
    const req = hook.received[0]!;
    const expected = Buffer.from('sha256=' + createHmac('sha256', secret).update(req.body).digest('hex'));
    const given = Buffer.from(String(req.headers['x-spo2-signature']));
    assert.ok(given.length === expected.length && timingSafeEqual(given, expected), 'signature verifies');
    const [event] = req.json.events!;
    assert.deepEqual(
      { url: event!.url, status: event!.status, previous: event!.previous, reason: event!.reason, httpStatus: event!.httpStatus, data: event!.data },
      { url: 'http://a.example/', status: 'Unhealthy', previous: 'Healthy', reason: '503 Service Unavailable', httpStatus: 503, data: { team: 'core' } },
    );
    assert.match(String(event!.at), /^\d{4}-\d\d-\d\dT/);
    await r.stop();
  });

  test('a payload the destination keeps rejecting (400) is dropped after three tries, not retried forever', async () => {
    const slack = await stub();
    slack.respond((n, _req, res) => { if (n < 3) res.writeHead(400).end('invalid_payload'); else res.end('ok'); });
    const r = await rig({ slackHookUrl: slack.url });
    void r.record(transition('http://poison.example/', 'bad'));
    await waitFor(() => r.outboxRows() === 0 && slack.received.length === 3, 5000, 'dropped');
    void r.record(transition('http://next.example/', 'bad'));
    await waitFor(() => slack.delivered().length === 1, 3000);
    assert.deepEqual(eventLines(slack.delivered()[0]!.json.text), ['http://next.example/ reported Unhealthy (503 Service Unavailable)']);
    await r.stop();
  });

  test('no destination configured: nothing is written', async () => {
    const r = await rig({});
    void r.record(transition('http://a.example/', 'bad'));
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(r.outboxRows(), 0);
    assert.deepEqual(r.notifier.destinations, []);
    await r.stop();
  });
});

describe('retry rules', () => {
  test('Retry-After in seconds or as an HTTP date', () => {
    const now = Date.parse('2025-03-01T12:00:00Z');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter('Sat, 01 Mar 2025 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('soon', now), null);
    assert.equal(parseRetryAfter(undefined, now), null);
  });

  test('backoff doubles per attempt, jitters within its upper half, and is capped', () => {
    const b = { baseMs: 1000, maxMs: 60_000 };
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffMs(n, b, () => 1)), [1000, 2000, 4000, 8000]);
    assert.deepEqual([1, 2, 3].map((n) => backoffMs(n, b, () => 0)), [500, 1000, 2000]);
    assert.equal(backoffMs(30, b, () => 1), 60_000);
  });
});
