/**
 * Storage trouble (issue 10, item 5): a full disk, a read-only file system and a damaged
 * database file are said plainly — writes answer 503 with the reason, /healthz answers 503
 * while it lasts and 200 again by itself, and start-up refuses a database it cannot use.
 * The full disk is a small tmpfs in a private mount namespace (root only, as in CI).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pino from 'pino';
import { GroupCommit } from '../src/store/sqlite/commit.ts';
import { openDatabase } from '../src/store/sqlite/open.ts';
import { StoreUnavailableError } from '../src/store/ports.ts';
import { api, BIN, FAST_ENV, q, startSpo2, startTargetServer, tempDir, waitFor, type Spo2, type TargetServer, type Wrap } from './helpers.ts';

const canMount = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;
const hasStrace = spawnSync('strace', ['-V']).status === 0;

/** Runs the server with `dir` a tmpfs of `sizeKb`, holding a `ballast` file of `ballastKb` to free later. */
function onTmpfs(dir: string, sizeKb: number, ballastKb: number): Wrap {
  const script = `mount -t tmpfs -o size=${sizeKb}k tmpfs "$0" || exit 97
    head -c ${ballastKb * 1024} /dev/zero > "$0/ballast"
    exec "$@"`;
  return (file, args) => ({ file: 'unshare', args: ['-m', 'sh', '-c', script, dir, file, ...args] });
}

/** A path inside the server's mount namespace, as the test (outside it) can reach it. */
const inServer = (spo2: Spo2, path: string) => `/proc/${spo2.proc.pid}/root${path}`;

const healthz = (spo2: Spo2) => api(spo2.httpUrl, 'GET', '/healthz');
const troubleLogs = (spo2: Spo2, msg: RegExp) => spo2.logs.filter((l) => msg.test(l.msg)).length;

describe('storage trouble', { skip: canMount || process.env.CI ? false : 'needs root and unshare -m (a private tmpfs)' }, () => {
  let target: TargetServer;
  before(async () => {
    target = await startTargetServer();
    // Never answers: no probe result, so no health write competes with the test's writes.
    target.set('/hang', { delayMs: Infinity });
  });
  after(() => target.close());

  it('a full disk answers writes 503 "disk full", /healthz 503, reads still work, and recovery shows by itself', async () => {
    const dir = tempDir();
    const spo2 = await startSpo2({
      dbPath: join(dir, 'spo2.db'),
      env: { ...FAST_ENV, SPO2_TIMEOUT: '10m', SPO2_BODY_LIMIT: '1mb' },
      wrap: onTmpfs(dir, 2048, 512),
    });
    try {
      const blob = { blob: 'x'.repeat(200_000) };
      const registered: string[] = [];
      let refused: { status: number; body: { error: string } } | null = null;
      for (let i = 0; i < 40 && !refused; i++) {
        const url = target.url(`/hang?n=${i}`);
        const res = await api(spo2.httpUrl, 'PUT', q(url), blob);
        if (res.status === 200) registered.push(url);
        else refused = res;
      }
      assert.ok(refused, 'the disk filled up');
      assert.ok(registered.length >= 2, `some writes fit first (${registered.length})`);
      assert.equal(refused.status, 503);
      assert.match(refused.body.error, /disk full/);
      assert.match(refused.body.error, /DATABASE_PATH=/);

      const h = await healthz(spo2);
      assert.equal(h.status, 503);
      assert.equal(h.body.status, 'degraded');
      assert.match(h.body.reason, /disk full/);
      assert.equal(h.body.targets, registered.length);

      // Nothing half-applied: the refused target is not monitored; reads answer from memory.
      assert.equal((await api(spo2.httpUrl, 'GET', q(target.url(`/hang?n=${registered.length}`)))).status, 404);
      const all = await api(spo2.httpUrl, 'GET', '/all');
      assert.equal(all.status, 200);
      assert.deepEqual(all.body.map((v: { url: string }) => v.url), registered);
      // More writes fail the same way; the trouble is logged once, not per write.
      assert.equal((await api(spo2.httpUrl, 'PUT', q(target.url('/hang?more')), blob)).status, 503);
      assert.equal((await api(spo2.httpUrl, 'PUT', q(registered[0]!), { blob: 'y'.repeat(200_000) })).status, 503, 'replacing data');
      assert.equal(troubleLogs(spo2, /^storage trouble/), 1);
      // The write check runs every 2 s: still no room, still degraded.
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal((await healthz(spo2)).status, 503);
      assert.equal(troubleLogs(spo2, /^storage recovered/), 0);

      // Space comes back (an operator cleans up): /healthz sees it with nobody writing.
      rmSync(inServer(spo2, join(dir, 'ballast')));
      await waitFor(async () => (await healthz(spo2)).status === 200, 15_000, '/healthz to recover');
      assert.equal((await healthz(spo2)).body.status, 'ok');
      assert.equal(troubleLogs(spo2, /^storage recovered/), 1);
      assert.equal((await api(spo2.httpUrl, 'PUT', q(target.url('/hang?after')), { a: 1 })).status, 200, 'writes work again');
      assert.equal((await api(spo2.httpUrl, 'DELETE', q(registered[0]!))).status, 200);
      assert.equal(spo2.proc.exitCode, null, 'the process stayed up');
    } finally {
      assert.equal(await spo2.stop(), 0);
    }
  });

  it('a read-only file system answers writes 503 "read-only", /healthz 503, and 200 again once writable', { skip: hasStrace || process.env.CI ? false : 'needs strace (CI installs it)' }, async () => {
    // Linux refuses to remount a file system read-only while a process holds a file open
    // for writing (EBUSY), so the running server meets one the way the kernel shows it:
    // every write and every access check answers EROFS (strace fault injection), until
    // strace detaches — as after `mount -o remount,rw`.
    const dir = tempDir();
    const spo2 = await startSpo2({ dbPath: join(dir, 'spo2.db'), env: { ...FAST_ENV, SPO2_TIMEOUT: '10m' } });
    // SQLite writes with pwrite64 and fsync; the log's writes (write) stay untouched.
    const calls = 'pwrite64,fsync,fdatasync,ftruncate,access,faccessat,faccessat2';
    let strace: ChildProcess | null = null;
    try {
      assert.equal((await api(spo2.httpUrl, 'PUT', q(target.url('/hang?before')))).status, 200);
      strace = spawn('strace', ['-qq', '-f', '-p', String(spo2.proc.pid), '-o', '/dev/null', '-e', `trace=${calls}`, '-e', `inject=${calls}:error=EROFS`], { stdio: 'ignore' });
      let n = 0;
      const refused = await waitFor(async () => {
        const res = await api(spo2.httpUrl, 'PUT', q(target.url(`/hang?during=${n++}`)));
        return res.status === 503 ? res : null;
      }, 10_000, 'a write to be refused once the file system is read-only');
      assert.match(refused.body.error, /read-only/);
      assert.match(refused.body.error, /DATABASE_PATH=/);
      assert.equal((await api(spo2.httpUrl, 'GET', q(target.url(`/hang?during=${n - 1}`)))).status, 404, 'the refused target is not monitored');
      const h = await healthz(spo2);
      assert.equal(h.status, 503);
      assert.equal(h.body.status, 'degraded');
      assert.match(h.body.reason, /read-only/);
      assert.equal((await api(spo2.httpUrl, 'DELETE', q(target.url('/hang?before')))).status, 503);
      assert.equal((await api(spo2.httpUrl, 'GET', q(target.url('/hang?before')))).status, 200, 'a refused removal removes nothing');
      assert.equal(troubleLogs(spo2, /^storage trouble/), 1);

      // Writable again (strace detaches): /healthz sees it with nobody writing.
      strace.kill('SIGINT');
      await waitFor(async () => (await healthz(spo2)).status === 200, 15_000, '/healthz to recover');
      assert.equal(troubleLogs(spo2, /^storage recovered/), 1);
      assert.equal((await api(spo2.httpUrl, 'PUT', q(target.url('/hang?after')))).status, 200);
    } finally {
      strace?.kill('SIGKILL');
      assert.equal(await spo2.stop(), 0);
    }
  });
});

describe('start-up refuses a database it cannot use (exit 2, naming DATABASE_PATH)', () => {
  const serve = (databasePath: string) => spawnSync(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', HTTP_LISTEN_ADDR: '127.0.0.1:0', WS_LISTEN_ADDR: 'off', DATABASE_PATH: databasePath },
    encoding: 'utf8',
    timeout: 20_000,
  });

  it('a folder that does not exist', () => {
    const path = join(tempDir(), 'missing', 'dir', 'spo2.db');
    const run = serve(path);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /folder .*missing\/dir does not exist/);
    assert.ok(run.stderr.includes(`DATABASE_PATH=${path}`), run.stderr);
  });

  it('a damaged page (an index of the targets)', () => {
    const dir = tempDir();
    const path = join(dir, 'spo2.db');
    const db = new Database(path);
    db.exec('CREATE TABLE targets (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, data TEXT)');
    const insert = db.prepare('INSERT INTO targets (url, data) VALUES (?, ?)');
    db.transaction(() => { for (let i = 0; i < 2000; i++) insert.run(`http://127.0.0.1:1/${i}`, '{}'); })();
    const { rootpage } = db.prepare("SELECT rootpage FROM sqlite_master WHERE type = 'index'").get() as { rootpage: number };
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (rootpage - 1) * pageSize);
    closeSync(fd);

    const run = serve(path);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /database file is corrupted/);
    assert.ok(run.stderr.includes(`DATABASE_PATH=${path}`), run.stderr);
  });

  it('a file that is not a database', () => {
    const dir = tempDir();
    const path = join(dir, 'spo2.db');
    const fd = openSync(path, 'w');
    writeSync(fd, Buffer.alloc(16_384, 0x5a));
    closeSync(fd);
    const run = serve(path);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /not a SQLite database/);
    assert.ok(run.stderr.includes(`DATABASE_PATH=${path}`), run.stderr);
  });

  it('a file system that is read-only', { skip: canMount ? false : 'needs root and unshare -m' }, () => {
    const dir = tempDir();
    const made = join(dir, 'spo2.db');
    new Database(made).close();
    mkdirSync(join(dir, 'ro'));
    const path = join(dir, 'ro', 'spo2.db');
    // The volume holds the database, then goes read-only (nothing has it open yet, so Linux allows it).
    const script = 'mount -t tmpfs tmpfs "$0" && cp "$1" "$0/" && mount -o remount,ro "$0" || exit 97; shift; exec "$@"';
    const run = spawnSync('unshare', ['-m', 'sh', '-c', script, join(dir, 'ro'), made, process.execPath, BIN, 'serve'], {
      env: { PATH: process.env.PATH ?? '', HTTP_LISTEN_ADDR: '127.0.0.1:0', WS_LISTEN_ADDR: 'off', DATABASE_PATH: path },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /read-only/);
    assert.ok(run.stderr.includes(`DATABASE_PATH=${path}`), run.stderr);
  });
});

describe('the store marks itself unavailable from any failed commit', () => {
  it('a background write that fails (as a health flush would) marks it degraded, and the write check clears it', async () => {
    const lines: Array<{ msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
    // The SQLite engine's group commit, which every write of the store goes through.
    const path = join(tempDir(), 'spo2.db');
    const store = new GroupCommit(openDatabase(path), { path, logger, recheckMs: 50 });
    try {
      let failing = 3;
      const full = () => { if (failing-- > 0) throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL'); };
      const failed = await store.enqueue(full).then(() => null, (err: unknown) => err);
      assert.ok(failed instanceof StoreUnavailableError);
      assert.equal(failed.reason, 'disk full');
      assert.equal(store.trouble()?.reason, 'disk full');
      await assert.rejects(store.enqueue(full), StoreUnavailableError);
      // Nobody writes: the write check every 50 ms sees the storage back.
      failing = 0;
      await waitFor(() => store.trouble() === null, 5_000, 'the write check to clear the trouble');
      assert.deepEqual(lines.map((l) => l.msg.split(':')[0]), ['storage trouble', 'storage recovered']);
    } finally {
      store.close();
      store.db.close();
    }
  });
});
