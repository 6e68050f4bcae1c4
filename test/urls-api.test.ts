/**
 * URL identity through the real server: one endpoint is one target whatever its spelling,
 * credentials are refused, and a database from before keeps no duplicate and leaks no password.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { startSlackStub, type SlackStub } from './notify-slack-stub.ts';
import { api, FAST_ENV, q, type Spo2, startSpo2, startTargetServer, type TargetServer, sqliteFile, tempDir, waitFor } from './helpers.ts';

const QUIET = { SPO2_INTERVAL: '1h', SPO2_FAST_INTERVAL: '1h' };

/** The first message of every target from a fresh WebSocket connection (the snapshot). */
async function snapshotUrls(spo2: Spo2, count: number): Promise<string[]> {
  const ws = new WebSocket(spo2.httpUrl.replace(/^http/, 'ws') + '/ws');
  const urls: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (m) => { urls.push((JSON.parse(String(m)) as { url: string }).url); if (urls.length === count) resolve(); });
      ws.once('error', reject);
    });
  } finally {
    ws.close();
  }
  return urls;
}

describe('one endpoint, one target, whatever the spelling', () => {
  let spo2: Spo2;
  before(async () => { spo2 = await startSpo2({ env: QUIET }); });
  after(async () => { await spo2.stop(); });

  const all = async () => (await api<Array<{ id: number; url: string }>>(spo2.httpUrl, 'GET', '/all')).body;

  // [canonical, spellings...]: each group names one endpoint.
  const groups: ReadonlyArray<readonly [string, ...string[]]> = [
    ['http://x.test/', 'HTTP://X.TEST', 'http://x.test:80', 'http://x.test/?', 'http://x.test/#frag', 'http://x.test/./'],
    ['http://x.test/a', 'http://x.test/./a', 'http://x.test/b/../a?#top', 'HTTP://x.test:80/a'],
    ['http://127.0.0.1:9/h', 'http://2130706433:9/h', 'http://0x7f.0.0.1:9/h#x'],
    ['http://xn--bcher-kva.test/', 'http://bücher.test/', 'http://BÜCHER.test'],
  ];

  for (const [canonical, ...spellings] of groups) {
    it(`${spellings.join(', ')} register one target, shown as ${canonical}`, async () => {
      const before = (await all()).length;
      const ids = new Set<number>();
      for (const [i, spelling] of spellings.entries()) {
        const res = i % 2 === 0
          ? await api(spo2.httpUrl, 'PUT', q(spelling), { n: i })
          : await api(spo2.httpUrl, 'POST', '/api/v1/targets', { url: spelling, data: { n: i } });
        assert.ok(res.status === 200 || res.status === 201, `${spelling}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.url, canonical, spelling);
        ids.add(res.body.id as number);
      }
      assert.equal(ids.size, 1, 'one id for every spelling');
      const now = await all();
      assert.equal(now.length, before + 1);
      assert.ok(now.some((v) => v.url === canonical));
      for (const spelling of [canonical, ...spellings]) {
        const got = await api(spo2.httpUrl, 'GET', q(spelling));
        assert.equal(got.status, 200, spelling);
        assert.equal(got.body.url, canonical);
        assert.deepEqual(got.body.data, { n: spellings.length - 1 }, 'the last registration replaced the data');
      }
      const last = spellings[spellings.length - 1]!;
      const removed = await api(spo2.httpUrl, 'DELETE', q(last));
      assert.equal(removed.status, 200);
      assert.equal(removed.body.url, canonical);
      for (const spelling of [canonical, ...spellings]) assert.equal((await api(spo2.httpUrl, 'GET', q(spelling))).status, 404, spelling);
      assert.equal((await all()).length, before);
    });
  }

  it('shows the canonical URL on the WebSocket', async () => {
    await api(spo2.httpUrl, 'PUT', q('HTTP://WS.test:80/./live?#frag'));
    assert.deepEqual(await snapshotUrls(spo2, 1), ['http://ws.test/live']);
    assert.equal((await api(spo2.httpUrl, 'DELETE', q('http://ws.test/live'))).status, 200);
  });

  it('refuses credentials with a 400 that says why and what to do instead, storing nothing', async () => {
    const before = await all();
    for (const url of ['http://admin:s3cr3t@x.test/', 'http://admin@x.test/', 'https://:s3cr3t@x.test/h']) {
      for (const res of [
        await api(spo2.httpUrl, 'PUT', q(url)),
        await api(spo2.httpUrl, 'POST', q(url), { a: 1 }),
        await api(spo2.httpUrl, 'POST', '/api/v1/targets', { url }),
      ]) {
        assert.equal(res.status, 400, url);
        assert.match(res.body.error, /must not carry credentials .*shown in every answer, message and log.*health path that needs no credentials/);
      }
    }
    assert.deepEqual(await all(), before);
    // A lookup with credentials is not refused: it finds nothing, as none can be registered.
    assert.equal((await api(spo2.httpUrl, 'GET', q('http://admin:s3cr3t@x.test/'))).status, 404);
    assert.equal((await api(spo2.httpUrl, 'DELETE', q('http://admin:s3cr3t@x.test/'))).status, 404);
    assert.ok(!JSON.stringify(spo2.logs).includes('s3cr3t'), 'nothing logged the password');
  });
});

describe('a database from before the upgrade', () => {
  let spo2: Spo2;
  let target: TargetServer;
  let slack: SlackStub;
  let port: number;
  const dbPath = join(tempDir(), 'spo2.db');

  before(async () => {
    target = await startTargetServer();
    slack = await startSlackStub();
    port = target.port;
    // Rows as SpO₂ 0.1 stored them: verbatim spellings, duplicates of one endpoint, a password,
    // and a notification about the credentialed URL still waiting for Slack.
    const seed = sqliteFile(dbPath);
    const insert = seed.prepare('INSERT INTO targets (url, data, created_at, updated_at) VALUES (?, ?, ?, ?)');
    const rows: Array<[string, unknown]> = [
      [`HTTP://127.0.0.1:${port}/old`, { first: true }],
      [`http://127.0.0.1:${port}/old#frag`, { second: true }],
      [`http://admin:s3cr3t@127.0.0.1:${port}/cred`, { cred: true }],
      [`http://127.0.0.1:${port}/fine`, null],
      [`http://2130706433:${port}/old?`, { third: true }],
    ];
    rows.forEach(([url, data], i) => insert.run(url, JSON.stringify(data), 1000 + i, 1000 + i));
    const credUrl = `http://admin:s3cr3t@127.0.0.1:${port}/cred`;
    const event = { url: credUrl, kind: 'bad', status: 'Unhealthy', reason: '401 Unauthorized', httpStatus: 401, at: Date.now(), previous: { status: 'Healthy', reason: '', httpStatus: null, since: 1000 }, data: { cred: true } };
    seed.prepare("INSERT INTO outbox (destination, url, event, created_at) VALUES ('slack', ?, ?, ?)").run(credUrl, JSON.stringify(event), Date.now());
    seed.close();
    spo2 = await startSpo2({ dbPath, env: { ...FAST_ENV, SLACK_HOOK_URL: slack.url } });
  });
  after(async () => {
    await spo2.stop();
    await target.close();
    await slack.close();
  });

  it('loads every URL in its canonical form, the oldest of duplicates kept with its id and data', async () => {
    const all = (await api<Array<{ id: number; url: string; data: unknown }>>(spo2.httpUrl, 'GET', '/all')).body;
    assert.deepEqual(all.map((v) => [v.id, v.url, v.data]), [
      [1, `http://127.0.0.1:${port}/old`, { first: true }],
      [3, `http://admin:***@127.0.0.1:${port}/cred`, { cred: true }],
      [4, `http://127.0.0.1:${port}/fine`, null],
    ]);
    const removed = spo2.logs.filter((l) => l.msg.startsWith('removed a stored target'));
    assert.deepEqual(removed.map((l) => [l.id, l.keptId, l.url, l.data]), [
      [2, 1, `http://127.0.0.1:${port}/old`, { second: true }],
      [5, 1, `http://127.0.0.1:${port}/old`, { third: true }],
    ]);
    assert.equal(removed[0]!.level, 40, 'a warning');
    assert.ok(spo2.logs.some((l) => l.msg === 'stored URLs rewritten to their canonical form' && l.rewritten === 2 && l.credentialsMasked === 1));
  });

  it('probes the masked target as before (credentials were never sent) and finds it by either spelling', async () => {
    await waitFor(async () => (await api(spo2.httpUrl, 'GET', q(`http://admin:***@127.0.0.1:${port}/cred`))).body.lastCheck, 5000, 'a probe');
    assert.ok(target.hits('/cred') > 0);
    const byOld = await api(spo2.httpUrl, 'GET', q(`http://admin:s3cr3t@127.0.0.1:${port}/cred`));
    assert.equal(byOld.status, 200);
    assert.equal(byOld.body.url, `http://admin:***@127.0.0.1:${port}/cred`);
    assert.equal(byOld.body.status, 'Healthy');
  });

  it('shows the password nowhere: answers, WebSocket, logs, Slack, the stored rows', async () => {
    const masked = `http://admin:***@127.0.0.1:${port}/cred`;
    // The pending notification went out with the masked URL.
    const delivered = await waitFor(() => slack.delivered()[0], 8000, 'the pending notification delivered');
    assert.match(delivered.json.text ?? '', new RegExp(masked.replace(/[.*?]/g, '\\$&') + ' reported Unhealthy'));
    // A new outage of it reaches Slack masked too.
    target.set('/cred', { status: 503 });
    await waitFor(() => slack.delivered().some((m) => (m.json.text ?? '').includes(`${masked} reported Unhealthy (503`)), 8000, 'the new outage reported');
    const stored = new Database(dbPath, { readonly: true });
    const shown = [
      JSON.stringify((await api(spo2.httpUrl, 'GET', '/all')).body),
      JSON.stringify((await api(spo2.httpUrl, 'GET', '/api/v1/targets')).body),
      JSON.stringify(await snapshotUrls(spo2, 3)),
      JSON.stringify(spo2.logs),
      slack.received.map((m) => m.body).join('\n'),
      JSON.stringify(stored.prepare('SELECT * FROM targets').all()) + JSON.stringify(stored.prepare('SELECT * FROM outbox').all()),
    ];
    stored.close();
    for (const text of shown) assert.ok(!text.includes('s3cr3t'), text.slice(0, 300));
    assert.ok(shown[2]!.includes(masked));
    // The old spelling removes it.
    assert.equal((await api(spo2.httpUrl, 'DELETE', q(`http://admin:s3cr3t@127.0.0.1:${port}/cred`))).status, 200);
    assert.equal((await api(spo2.httpUrl, 'GET', q(masked))).status, 404);
  });
});
