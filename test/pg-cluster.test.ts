/**
 * The throwaway PostgreSQL cluster the PostgreSQL tests and the bench run on, and the
 * schema migrations on it. CI installs the server binaries (.ci/run), so this never skips there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { createPool, migrate, redactedUrl } from '../src/store/postgres/connect.js';
import { MIGRATIONS } from '../src/store/postgres/migrations.js';
import { waitFor } from './helpers.js';
import { findPgBin, isRunning, startPgCluster, type PgCluster } from './pg-cluster.js';

const skip = findPgBin() || process.env.CI ? false : 'needs the PostgreSQL server binaries (apt-get install postgresql)';

describe('a throwaway PostgreSQL cluster', { skip, timeout: 180_000 }, () => {
  let cluster: PgCluster;
  const pools: pg.Pool[] = [];
  const pool = (url: string) => {
    const p = createPool(url);
    pools.push(p);
    return p;
  };

  before(async () => {
    cluster = await startPgCluster();
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await cluster?.stop();
  });

  it('listens on loopback only, with fsync on, and its URL logs in as a role that is not a superuser', async () => {
    const db = pool(cluster.url);
    const { rows: [row] } = await db.query(`SELECT current_user AS who, usesuper AS super, current_database() AS db,
      inet_server_addr()::text AS addr, current_setting('fsync') AS fsync, current_setting('listen_addresses') AS listen,
      current_setting('application_name') AS app, current_setting('statement_timeout') AS timeout
      FROM pg_user WHERE usename = current_user`);
    assert.deepEqual(row, { who: 'spo2', super: false, db: 'spo2', addr: '127.0.0.1/32', fsync: 'on', listen: '127.0.0.1', app: 'spo2', timeout: '10s' });
    assert.ok(cluster.dir && existsSync(`${cluster.dir}/.s.PGSQL.${cluster.port}`), 'the unix socket lives in the private folder');
    assert.equal((await db.query('SELECT 9007199254740991::bigint AS n')).rows[0].n, Number.MAX_SAFE_INTEGER, 'BIGINT comes back as a number');
    assert.equal(redactedUrl(cluster.url), `postgres://spo2:***@127.0.0.1:${cluster.port}/spo2`);
  });

  it('a connection that drops in the middle of a query fails that query and nothing else: the process lives on', async () => {
    // A proxy whose sockets the test cuts: a failover or a partition, with no goodbye from the server.
    const sockets = new Set<Socket>();
    const proxy = createServer((inbound) => {
      const outbound = connect(cluster.port, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const url = new URL(cluster.url);
      url.port = String((proxy.address() as AddressInfo).port);
      const db = pool(url.toString());
      const client = await db.connect();
      const sleeping = client.query('SELECT pg_sleep(30)');
      await new Promise((r) => setTimeout(r, 100));
      for (const s of sockets) s.destroy();
      // Without a listener on the checked-out client its 'error' event is an uncaught
      // exception, which ends this test process before the assertion.
      await assert.rejects(sleeping, /terminated|ECONNRESET|closed/i);
      client.release(true);
      assert.equal((await db.query('SELECT 1 AS one')).rows[0].one, 1, 'the pool goes on with a fresh connection');
    } finally {
      for (const s of sockets) s.destroy();
      proxy.close();
    }
  });

  it('a password in the query string is masked too', () => {
    assert.equal(redactedUrl('postgres://spo2@db.internal/spo2?password=s3cret&sslmode=require'), 'postgres://spo2@db.internal/spo2?password=***&sslmode=require');
  });

  it('migrations create the tables and columns of the SQLite schema, at the same versions', async () => {
    const db = pool(cluster.url);
    assert.deepEqual(await migrate(db), MIGRATIONS.map((m) => m.version));
    assert.deepEqual(MIGRATIONS.map((m) => [m.version, m.name]), SQLITE_MIGRATIONS.map((m) => [m.version, m.name]));

    const sqlite = new Database(':memory:');
    sqlite.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of SQLITE_MIGRATIONS) sqlite.exec(m.sql);
    const tables = (sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name);
    const expected = Object.fromEntries(tables.map((t) => [t, (sqlite.prepare(`PRAGMA table_info(${t})`).all() as Array<{ name: string }>).map((c) => c.name).sort()]));
    sqlite.close();

    const { rows } = await db.query<{ table_name: string; column_name: string }>(
      'SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, column_name');
    const actual: Record<string, string[]> = {};
    for (const r of rows) (actual[r.table_name] ??= []).push(r.column_name);
    assert.deepEqual(actual, expected);

    const { rows: [target] } = await db.query("INSERT INTO targets (url, created_at, updated_at) VALUES ('http://a.test/', $1, $1) RETURNING id, data, created_at", [1_700_000_000_123]);
    assert.deepEqual(target, { id: 1, data: 'null', created_at: 1_700_000_000_123 });
  });

  it('applying the migrations again is a no-op', async () => {
    const db = pool(cluster.url);
    const before = (await db.query('SELECT * FROM schema_migrations ORDER BY version')).rows;
    assert.deepEqual(await migrate(db), []);
    assert.deepEqual((await db.query('SELECT * FROM schema_migrations ORDER BY version')).rows, before);
    assert.equal((await db.query('SELECT count(*) AS n FROM targets')).rows[0].n, 1, 'the data stays');
  });

  it('replicas that start at once on an empty database apply the migrations exactly once', async () => {
    const admin = pool(cluster.adminUrl);
    await admin.query('CREATE DATABASE fresh OWNER spo2');
    const url = cluster.url.replace(/\/spo2$/, '/fresh');
    const replicas = Array.from({ length: 4 }, () => pool(url));
    const results = await Promise.all(replicas.map((r) => migrate(r)));
    assert.deepEqual(results.map((r) => r.length).sort(), [0, 0, 0, MIGRATIONS.length], JSON.stringify(results));
    assert.equal((await replicas[0]!.query('SELECT count(*) AS n FROM schema_migrations')).rows[0].n, MIGRATIONS.length);
  });

  it('down() is an outage of the same server: connections are refused, and up() brings it back with its data', async () => {
    const db = pool(cluster.url);
    await cluster.down();
    assert.equal(await portOpen(cluster.port), false);
    await assert.rejects(db.query('SELECT 1'), /ECONNREFUSED|terminat|shut/i);
    await cluster.up();
    assert.equal((await db.query('SELECT count(*) AS n FROM targets')).rows[0].n, 1);
  });
});

describe('cluster lifecycle', { skip, timeout: 180_000 }, () => {
  it('each cluster is its own, and after stop() its port is closed, its server gone and its folder removed', async () => {
    const first = await startPgCluster();
    let second: PgCluster | null = null;
    try {
      const a = new pg.Client({ connectionString: first.url });
      await a.connect();
      await a.query('CREATE TABLE only_in_first (x int)');
      await a.end();
      const pid = first.pid();
      await first.stop();
      assert.equal(await portOpen(first.port), false, 'the port is closed');
      assert.equal(isRunning(pid), false, 'the postmaster has exited');
      assert.equal(existsSync(first.dir), false, 'the folder is removed');
      await first.stop();

      second = await startPgCluster();
      assert.notEqual(second.dir, first.dir);
      const b = new pg.Client({ connectionString: second.url });
      await b.connect();
      const { rows } = await b.query("SELECT to_regclass('only_in_first') AS t");
      await b.end();
      assert.equal(rows[0].t, null, 'nothing of the first cluster is in the second');
    } finally {
      await first.stop();
      await second?.stop();
    }
  });

  it('a test process that ends without stop() takes its server with it, and one killed outright is cleaned up by the next start', async () => {
    // Ends through an uncaught error: the exit handler stops the server.
    const crashed = await runOwner('throw new Error("a test blew up")');
    await waitFor(() => !isRunning(crashed.pid), 10_000, 'the server of a crashed test process to stop');
    assert.equal(existsSync(crashed.dir), false);

    // Killed with SIGKILL: no handler runs, the server is orphaned until the next start.
    const killed = await runOwner('setInterval(() => {}, 1000)', 'SIGKILL');
    assert.equal(isRunning(killed.pid), true, 'an orphan is left behind');
    const next = await startPgCluster();
    await next.stop();
    assert.equal(isRunning(killed.pid), false, 'the next start stopped the orphan');
    assert.equal(existsSync(killed.dir), false, 'and removed its folder');
  });
});

/** A separate Node process that starts a cluster, reports it, then runs `then` (and is killed with `signal` if given). */
async function runOwner(then: string, signal?: NodeJS.Signals): Promise<{ dir: string; pid: number }> {
  const code = `import { startPgCluster } from ${JSON.stringify(new URL('./pg-cluster.ts', import.meta.url).href)};
    const c = await startPgCluster();
    console.log(JSON.stringify({ dir: c.dir, pid: c.pid() }));
    ${then}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', () => reject(new Error(`the owner process exited before reporting its cluster: ${err}`)));
  });
  if (signal) child.kill(signal);
  await exited;
  return JSON.parse(line) as { dir: string; pid: number };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
