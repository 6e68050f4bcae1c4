/**
 * A PostgreSQL outage (issue 12): SpO₂ stays up, keeps probing and streaming, answers
 * writes with 503, says so on /healthz and once in the log, notifies from memory, and
 * catches up by itself when the server is back — the state changes it kept are in the
 * database, so a restart does not alert again. And start-up against a server that is
 * not there yet, or that refuses the login.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { WebSocket } from 'ws';
import { api, BIN, FAST_ENV, postgresBackend, q, startSpo2, startTargetServer, waitFor, type Spo2, type TargetServer } from './helpers.ts';
import { eventLines, startSlackStub, type SlackStub } from './notify-slack-stub.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const databases = postgresBackend();

describe('a PostgreSQL outage', { skip: databases.skip, timeout: 120_000 }, () => {
  let targets: TargetServer;
  let slack: SlackStub;
  const running: Spo2[] = [];
  before(async () => {
    targets = await startTargetServer();
    slack = await startSlackStub();
  });
  after(async () => {
    for (const s of running) await s.kill9();
    await slack?.close();
    await targets?.close();
    await databases.stop();
  });

  it('SpO₂ stays up: writes get 503, /healthz says degraded, probing, streaming and notifying go on; all of it catches up by itself', async () => {
    const env = await databases.fresh();
    const first = await startSpo2({ env: { ...FAST_ENV, ...env, SLACK_HOOK_URL: slack.url } });
    running.push(first);
    const cluster = databases.cluster();
    const steady = targets.url('/steady');
    const flaky = targets.url('/flaky');
    const flaky2 = targets.url('/flaky2');
    for (const u of [steady, flaky, flaky2]) assert.equal((await api(first.httpUrl, 'PUT', q(u))).status, 200);
    await waitFor(() => targets.hits('/flaky') > 0 && targets.hits('/steady') > 0, 5000, 'both probed');
    const stream = new WebSocket(first.httpUrl.replace('http', 'ws') + '/ws');
    const seen: Array<{ url: string; status: string }> = [];
    stream.on('message', (m) => seen.push(JSON.parse(String(m)) as { url: string; status: string }));
    after(() => stream.terminate());

    await cluster.down();
    // A write: refused while the database is away, with the reason and never the password.
    const refused = await api(first.httpUrl, 'PUT', q(targets.url('/new')));
    assert.equal(refused.status, 503);
    // The variable's name, not the server's address: API clients are not the operator.
    assert.equal(refused.body.error, 'database server unreachable (DATABASE_URL)');
    assert.equal((await api(first.httpUrl, 'DELETE', q(steady))).status, 503);
    assert.equal((await api(first.httpUrl, 'GET', q(targets.url('/new')))).status, 404, 'nothing half-applied');
    const health = await api(first.httpUrl, 'GET', '/healthz');
    assert.equal(health.status, 503);
    assert.equal(health.body.status, 'degraded');
    assert.equal(health.body.reason, 'database server unreachable');
    assert.equal(health.body.storage, 'unreachable');
    assert.doesNotMatch(JSON.stringify(health.body), /127\.0\.0\.1|DATABASE_URL/, '/healthz needs no credentials: it does not say where the database is');

    // A target that goes bad during the outage: probed, shown, streamed, and notified from memory.
    targets.set('/flaky', { status: 503 });
    targets.set('/flaky2', { status: 503 });
    await waitFor(async () => (await api(first.httpUrl, 'GET', q(flaky))).body.status === 'Unhealthy', 8000, 'flaky shown bad');
    await waitFor(() => seen.some((m) => m.url === flaky && m.status === 'Unhealthy'), 5000, 'the change streamed');
    await waitFor(() => new Set(slack.delivered().flatMap((m) => eventLines(m.json.text))).size === 2, 8000, 'both alerts sent from memory');
    assert.deepEqual(slack.delivered().flatMap((m) => eventLines(m.json.text)).sort(), [flaky, flaky2].map((u) => `${u} reported Unhealthy (503 Service Unavailable)`));
    const hitsDuring = targets.hits('/steady');
    await sleep(1000); // a few more flushes and write checks fail meanwhile
    assert.ok(targets.hits('/steady') > hitsDuring, 'probing goes on');
    assert.equal(first.logs.filter((l) => l.msg.startsWith('storage trouble')).length, 1, 'one line for the outage, not one per failed write');
    assert.deepEqual(first.logs.filter((l) => l.level >= 50).map((l) => l.msg.split(';')[0]), ['storage trouble: database server unreachable', 'could not store a notification'],
      'two transitions, one line for the notifications sent without a durable copy');
    assert.doesNotMatch(first.logs.map((l) => JSON.stringify(l)).join('\n'), new RegExp(new URL(env.DATABASE_URL!).password), 'the password is never logged');

    await cluster.up();
    // No write needed: the store's own check sees the server back.
    await waitFor(async () => (await api(first.httpUrl, 'GET', '/healthz')).status === 200, 15_000, '/healthz 200 again');
    assert.ok(first.logs.some((l) => l.msg.startsWith('storage recovered')));
    assert.equal((await api(first.httpUrl, 'PUT', q(targets.url('/new')))).status, 200, 'writes work again');
    // The health kept in memory during the outage goes with the next flush.
    for (const u of [flaky, flaky2]) await waitFor(async () => (await storedHealth(env.DATABASE_URL!, u))?.status === 'Unhealthy', 5000, 'the queued health written');

    // A restart reads that state: the outage is known, not announced again.
    const second = await first.restart();
    running.push(second);
    assert.equal((await api(second.httpUrl, 'GET', q(flaky))).body.status, 'Unhealthy');
    await sleep(1500);
    assert.equal(slack.delivered().flatMap((m) => eventLines(m.json.text)).length, 2, 'each alerted once');
    assert.deepEqual(second.logs.filter((l) => l.msg === 'target went bad'), []);
    await second.stop();
  });

  it('start-up waits for a server that is not there yet', async () => {
    const env = await databases.fresh();
    const cluster = databases.cluster();
    await cluster.down();
    const started = startSpo2({ env: { ...env, SPO2_INTERVAL: '1h', SPO2_FAST_INTERVAL: '1h' } });
    await sleep(1500);
    await cluster.up();
    const spo2 = await started;
    running.push(spo2);
    assert.ok(spo2.logs.some((l) => /the database server does not answer; waiting up to 30 s/.test(l.msg)));
    assert.equal((await api(spo2.httpUrl, 'GET', '/healthz')).status, 200);
    await spo2.stop();
  });

  it('a login the server refuses stops start-up at once with exit 2, naming DATABASE_URL without the password', async () => {
    const url = new URL(await databases.freshUrl());
    url.password = 'wrong-password-42';
    const proc = spawn(process.execPath, [BIN, 'serve'], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: url.toString(), HTTP_LISTEN_ADDR: '127.0.0.1:0', WS_LISTEN_ADDR: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const t0 = Date.now();
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.equal(code, 2);
    assert.ok(Date.now() - t0 < 10_000, 'no waiting for a refusal');
    assert.match(stderr, /^spo2: cannot use the database: the database refused the login in DATABASE_URL \(DATABASE_URL=postgres:\/\/spo2:\*\*\*@127\.0\.0\.1:\d+\/spo2_\d+\)\n$/);
    assert.doesNotMatch(stderr, /wrong-password/);
  });
});

/** The stored health of a target, read straight from the database. */
async function storedHealth(url: string, target: string): Promise<{ status: string } | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ health: string | null }>('SELECT health FROM targets WHERE url = $1', [target]);
    return rows[0]?.health ? (JSON.parse(rows[0].health) as { status: string }) : null;
  } finally {
    await client.end();
  }
}
