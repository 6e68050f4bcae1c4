/**
 * `spo2 migrate --to postgres://…` (issue 12, docs/operations.md): a SQLite database seeded
 * by the real server — targets with data, health, a removed one, and notifications waiting
 * for a Slack that is down — copied into a throwaway PostgreSQL, row for row.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { createPool } from '../src/store/postgres/connect.js';
import { api, BIN, FAST_ENV, q, startSpo2, startTargetServer, tempDir, waitFor, type TargetServer } from './helpers.ts';
import { startSlackStub } from './notify-slack-stub.ts';
import { findPgBin, startPgCluster, type PgCluster } from './pg-cluster.ts';

const skip = findPgBin() || process.env.CI ? false : 'needs the PostgreSQL server binaries (apt-get install postgresql)';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `spo2 migrate` as an operator runs it: another process, nothing of the test's environment but PATH. */
function migrate(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, 'migrate', ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const TARGETS = 'SELECT id, url, data, created_at AS "createdAt", updated_at AS "updatedAt", health FROM targets ORDER BY id';
const OUTBOX = 'SELECT id, destination, url, event, created_at AS "createdAt" FROM outbox ORDER BY id';

describe('spo2 migrate --to postgres://…', { skip, timeout: 180_000 }, () => {
  let cluster: PgCluster;
  let target: TargetServer;
  let db: pg.Pool;
  let password: string;
  before(async () => {
    [cluster, target] = await Promise.all([startPgCluster(), startTargetServer()]);
    db = createPool(cluster.url);
    password = decodeURIComponent(new URL(cluster.url).password);
  });
  after(async () => {
    await db?.end();
    await Promise.all([cluster?.stop(), target?.close()]);
  });

  /** Neither output may show the password of the URL. */
  const noPassword = (run: Run) => {
    assert.ok(password.length >= 8, 'the cluster has a real password');
    assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), `the password is printed:\n${run.stdout}${run.stderr}`);
  };

  it('copies targets with their ids, data, times and health, and the pending outbox, into an empty database; refuses to copy twice', async () => {
    // Slack is down: the transitions' events stay in the outbox.
    const slack = await startSlackStub();
    await slack.close();
    const path = join(tempDir(), 'spo2.db');
    const spo2 = await startSpo2({ dbPath: path, env: { ...FAST_ENV, SLACK_HOOK_URL: slack.url } });
    const bad = [0, 1, 2, 3, 4].map((i) => `/bad/${i}`);
    for (const p of bad) target.set(p, { status: 503 });
    try {
      const datas: Array<string | object> = [{ team: 'search', n: 1 }, { nested: { list: [1, 2, 3], none: null }, text: 'é ☃ "quoted" \\ back' }, '"a JSON string"', '42', [1, 'two']];
      for (let i = 0; i < 20; i++) {
        const res = await api(spo2.httpUrl, 'PUT', q(target.url(`/ok/${i}`)), i % 6 === 5 ? undefined : datas[i % 6]);
        assert.equal(res.status, 200);
      }
      for (const p of bad) assert.equal((await api(spo2.httpUrl, 'PUT', q(target.url(p)), { bad: p })).status, 200);
      // A gap in the ids, and the newest id removed: the sequence must not hand it out again.
      assert.equal((await api(spo2.httpUrl, 'PUT', q(target.url('/gone/newest')))).status, 200);
      assert.equal((await api(spo2.httpUrl, 'DELETE', q(target.url('/ok/7')))).status, 200);
      assert.equal((await api(spo2.httpUrl, 'DELETE', q(target.url('/gone/newest')))).status, 200);
      await waitFor(async () => {
        const health = (await api(spo2.httpUrl, 'GET', '/healthz')).body as { notifications: Record<string, { pending: number }> };
        return health.notifications.slack?.pending === bad.length;
      }, 20_000, 'one undelivered event per bad target');
      await waitFor(async () => ((await api(spo2.httpUrl, 'GET', '/all')).body as Array<{ lastCheck: string | null }>).every((v) => v.lastCheck !== null), 10_000, 'every target probed');
    } finally {
      assert.equal(await spo2.stop(), 0);
    }

    const sqlite = new Database(path, { readonly: true });
    const rows = sqlite.prepare(TARGETS).all() as Array<{ id: number; health: string | null }>;
    const outbox = sqlite.prepare(OUTBOX).all();
    const lastId = sqlite.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'targets'").pluck().get() as number;
    const lastEvent = sqlite.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").pluck().get() as number;
    sqlite.close();
    assert.equal(rows.length, 24);
    assert.equal(outbox.length, 5);
    assert.ok(rows.every((r) => r.health !== null), 'every target has a stored health');
    assert.ok(lastId > rows.at(-1)!.id, 'the newest id was removed');

    const run = await migrate(['--to', cluster.url, '--database-path', path]);
    assert.equal(run.code, 0, run.stderr);
    noPassword(run);
    assert.match(run.stdout, /^copied DATABASE_PATH=.*spo2\.db into postgres:\/\/spo2:\*\*\*@127\.0\.0\.1:\d+\/spo2: schema created \(versions 1, 2, 3\); 24 targets, 5 undelivered notifications, schema version 3, in \d+ ms/);

    // Field by field: the same ids, the same JSON text, the same times.
    assert.deepEqual((await db.query(TARGETS)).rows, rows);
    assert.deepEqual((await db.query(OUTBOX)).rows, outbox);
    assert.deepEqual((await db.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version), [1, 2, 3]);

    // Again, into the same database (from DATABASE_URL this time): refused, nothing changed.
    const again = await migrate(['--database-path', path], { DATABASE_URL: cluster.url });
    assert.equal(again.code, 2, again.stderr);
    noPassword(again);
    assert.match(again.stderr, /spo2:\*\*\*@127\.0\.0\.1:\d+\/spo2 is not empty \(24 targets, 5 undelivered notifications\): spo2 migrate copies into an empty database only, and changed nothing/);
    assert.deepEqual((await db.query(TARGETS)).rows, rows);
    assert.deepEqual((await db.query(OUTBOX)).rows, outbox);

    // New rows continue the old numbering, past ids that were removed.
    const next = await db.query("INSERT INTO targets (url, created_at, updated_at) VALUES ('http://127.0.0.1:1/new', 0, 0) RETURNING id");
    assert.equal(next.rows[0].id, lastId + 1);
    const nextEvent = await db.query("INSERT INTO outbox (destination, url, event, created_at) VALUES ('slack', 'http://x', '{}', 0) RETURNING id");
    assert.equal(nextEvent.rows[0].id, lastEvent + 1);
  });

  it('a URL that is not PostgreSQL\'s, or a server that does not answer or refuses the password, is a clear error that shows no password', async () => {
    const path = join(tempDir(), 'spo2.db');
    const spo2 = await startSpo2({ dbPath: path, env: FAST_ENV });
    await api(spo2.httpUrl, 'PUT', q(target.url('/one')));
    assert.equal(await spo2.stop(), 0);

    const notPg = await migrate(['--to', 'mysql://spo2:hunter2secret@127.0.0.1/spo2', '--database-path', path]);
    assert.equal(notPg.code, 2);
    assert.match(notPg.stderr, /--to must be a postgres:\/\/ URL, not mysql:\/\/spo2:\*\*\*@127\.0\.0\.1\/spo2/);
    assert.ok(!notPg.stderr.includes('hunter2secret'));

    const garbage = await migrate(['--to', 'postgres//spo2:hunter2secret@', '--database-path', path]);
    assert.equal(garbage.code, 2);
    assert.match(garbage.stderr, /--to is not a URL/);
    assert.ok(!garbage.stderr.includes('hunter2secret'));

    const missing = await migrate(['--database-path', path]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /give --to postgres:\/\/… \(or set DATABASE_URL\)/);

    // Port 1 on loopback: nothing listens there.
    const refused = await migrate(['--to', 'postgres://spo2:hunter2secret@127.0.0.1:1/spo2', '--database-path', path]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot copy into postgres:\/\/spo2:\*\*\*@127\.0\.0\.1:1\/spo2: connect ECONNREFUSED 127\.0\.0\.1:1; no row was copied/);
    assert.ok(!refused.stderr.includes('hunter2secret'));

    const wrong = new URL(cluster.url);
    wrong.password = 'not-the-password';
    const rejected = await migrate(['--to', wrong.toString(), '--database-path', path]);
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /password authentication failed for user "spo2"/);
    assert.ok(!rejected.stderr.includes('not-the-password'));
    assert.equal((await db.query("SELECT COUNT(*) AS n FROM targets WHERE url LIKE '%/one'")).rows[0].n, 0);
  });
});
