/**
 * Backup, restore and upgrades of the SQLite database (issue 11, operations; docs/operations.md).
 * `spo2 backup FILE` runs beside the real server while it acknowledges registrations; the
 * restore procedure (stop, remove the -wal/-shm, copy the file back, start) is followed to the letter.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { api, BIN, FAST_ENV, q, startSpo2, startTargetServer, tempDir, type TargetServer } from './helpers.ts';

/** `spo2 backup` as an operator runs it: another process, same DATABASE_PATH. */
function backup(databasePath: string, file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, 'backup', file], { env: { PATH: process.env.PATH ?? '', DATABASE_PATH: databasePath } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function integrity(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

describe('spo2 backup and restore', () => {
  let target: TargetServer;
  before(async () => {
    target = await startTargetServer();
  });
  after(() => target.close());

  it('a backup taken while registrations are acknowledged holds every one acknowledged before it, and restores into a fresh server', async () => {
    const dir = tempDir();
    const spo2 = await startSpo2({ dbPath: join(dir, 'spo2.db'), env: FAST_ENV });
    const acked = new Map<string, number>(); // url → when its 200 arrived
    const sent = new Map<string, number>(); // url → when its request left
    let running = true;
    let n = 0;
    const worker = async () => {
      while (running) {
        const url = target.url(`/t?n=${n++}`);
        sent.set(url, Date.now());
        const res = await api(spo2.httpUrl, 'PUT', q(url), { n });
        if (res.status === 200) acked.set(url, Date.now());
        else assert.fail(`registration refused: ${res.status}`);
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    try {
      while (acked.size < 300) await new Promise((r) => setTimeout(r, 20));
      const file = join(tempDir(), 'spo2-backup.db');
      const startedAt = Date.now();
      const result = await backup(spo2.dbPath, file);
      const endedAt = Date.now();
      const before = [...acked].filter(([, at]) => at < startedAt).map(([url]) => url);
      const during = [...acked.values()].filter((at) => at >= startedAt && at <= endedAt).length;
      while (acked.size < before.length + during + 100) await new Promise((r) => setTimeout(r, 20));
      running = false;
      await Promise.all(workers);

      assert.equal(result.code, 0, result.stderr);
      assert.ok(during > 0, 'registrations were acknowledged while the backup ran');
      const printed = /: (\d+) targets, 0 undelivered notifications, schema version 3, \d+ bytes in \d+ ms; integrity_check ok/.exec(result.stdout);
      assert.ok(printed, result.stdout);
      assert.ok(!existsSync(`${file}-wal`) && !existsSync(`${file}-journal`), 'the backup is one file');
      assert.equal(integrity(file), 'ok');

      // Restore, as docs/operations.md says: the server goes away (here the hard way, with a
      // WAL full of later registrations beside the file), its -wal and -shm are removed, the
      // backup is copied back, and a fresh server starts on it.
      await spo2.kill9();
      assert.ok(existsSync(`${spo2.dbPath}-wal`), 'a WAL was left behind');
      rmSync(`${spo2.dbPath}-wal`, { force: true });
      rmSync(`${spo2.dbPath}-shm`, { force: true });
      copyFileSync(file, spo2.dbPath);
      const restored = await startSpo2({ dbPath: spo2.dbPath, env: FAST_ENV });
      try {
        const urls = new Set(((await api(restored.httpUrl, 'GET', '/all')).body as Array<{ url: string }>).map((v) => v.url));
        assert.equal(urls.size, Number(printed[1]), 'the restored server has what the backup said it holds');
        const missing = before.filter((url) => !urls.has(url));
        assert.deepEqual(missing, [], `every registration acknowledged before the backup is restored (${before.length})`);
        const unsent = [...urls].filter((url) => !((sent.get(url) ?? Infinity) <= endedAt));
        assert.deepEqual(unsent, [], 'nothing registered after the backup ended is in it');
        assert.ok(urls.size < acked.size, 'later registrations are not (the backup is of one instant)');
        // Restored data is whole: a target's custom data came back with it.
        const one = before[0]!;
        assert.equal(typeof (await api(restored.httpUrl, 'GET', q(one))).body.data.n, 'number');
      } finally {
        assert.equal(await restored.stop(), 0);
      }
      assert.equal(integrity(spo2.dbPath), 'ok');
    } finally {
      running = false;
      await Promise.allSettled(workers);
      await spo2.kill9();
    }
  });

  it('a database whose server is stopped is backed up too; what the backup reader creates keeps the database owner', async () => {
    const dir = tempDir();
    const spo2 = await startSpo2({ dbPath: join(dir, 'spo2.db'), env: FAST_ENV });
    await api(spo2.httpUrl, 'PUT', q(target.url('/a')));
    assert.equal(await spo2.stop(), 0);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chownSync(spo2.dbPath, 65534, 65534); // the service's own user, not root
    const file = join(dir, 'copy.db');
    // As docs/operations.md runs it: the path as a flag (sudo keeps no environment).
    const result = spawnSync(process.execPath, [BIN, 'backup', '--database-path', spo2.dbPath, file], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /: 1 targets, /);
    if (asRoot) {
      for (const suffix of ['-wal', '-shm']) {
        const s = statSync(spo2.dbPath + suffix, { throwIfNoEntry: false });
        if (s) assert.deepEqual([s.uid, s.gid], [65534, 65534], `${suffix} belongs to the database's owner`);
      }
    }
  });

  it('refuses (exit 2) what an operator must fix: no database there, the database itself as FILE, no FILE', async () => {
    const dir = tempDir();
    const missing = await backup(join(dir, 'nothing.db'), join(dir, 'b.db'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no database at DATABASE_PATH=.*nothing\.db/);
    assert.ok(!existsSync(join(dir, 'nothing.db')), 'no empty database was created');

    const spo2 = await startSpo2({ dbPath: join(dir, 'spo2.db'), env: FAST_ENV });
    try {
      const itself = await backup(spo2.dbPath, spo2.dbPath);
      assert.equal(itself.code, 2);
      assert.match(itself.stderr, /is the database itself/);
      const noFolder = await backup(spo2.dbPath, join(dir, 'missing', 'b.db'));
      assert.equal(noFolder.code, 2);
      assert.match(noFolder.stderr, /folder .*missing does not exist/);
      const none = spawnSync(process.execPath, [BIN, 'backup'], { env: { PATH: process.env.PATH ?? '', DATABASE_PATH: spo2.dbPath }, encoding: 'utf8' });
      assert.equal(none.status, 2);
      assert.match(none.stderr, /usage: spo2 backup FILE/);
      const onPostgres = spawnSync(process.execPath, [BIN, 'backup', join(dir, 'b.db')], { env: { PATH: process.env.PATH ?? '', DATABASE_PATH: spo2.dbPath, DATABASE_URL: 'postgres://spo2:s3cret@db/spo2' }, encoding: 'utf8' });
      assert.equal(onPostgres.status, 2, 'with DATABASE_URL the SQLite file is not the state: no false backup');
      assert.match(onPostgres.stderr, /DATABASE_URL is set: the state is in PostgreSQL/);
      assert.ok(!existsSync(join(dir, 'b.db')));
    } finally {
      assert.equal(await spo2.stop(), 0);
    }
  });
});

describe('upgrades and roll-backs of the database schema', () => {
  const serve = (databasePath: string) => spawnSync(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', HTTP_LISTEN_ADDR: '127.0.0.1:0', WS_LISTEN_ADDR: 'off', DATABASE_PATH: databasePath },
    encoding: 'utf8',
    timeout: 20_000,
  });

  it('an older SpO₂ refuses a database a newer one migrated (exit 2, naming DATABASE_PATH), and changes nothing in it', async () => {
    const path = join(tempDir(), 'spo2.db');
    const spo2 = await startSpo2({ dbPath: path, env: FAST_ENV });
    await api(spo2.httpUrl, 'PUT', q('http://127.0.0.1:1/kept'));
    assert.equal(await spo2.stop(), 0);
    const db = new Database(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (4, ?, ?)').run('from the future', Date.now());
    const check = () => db.prepare("SELECT value FROM store_meta WHERE key = 'write_check'").pluck().get();
    const before = check();
    db.close();

    const run = serve(path);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /schema version 4, written by a newer SpO₂ \(this one knows up to 3\)/);
    assert.match(run.stderr, /restore the backup taken before the upgrade/);
    assert.ok(run.stderr.includes(`DATABASE_PATH=${path}`), run.stderr);
    const after = new Database(path, { readonly: true });
    assert.equal(after.prepare("SELECT value FROM store_meta WHERE key = 'write_check'").pluck().get(), before, 'not even the write check ran');
    after.close();
  });

  it('a database of an earlier version is migrated at start, said in the log, and keeps its targets', async () => {
    // As the first release left it: the targets table only (version 1), a URL stored verbatim.
    const path = join(tempDir(), 'spo2.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);
      INSERT INTO schema_migrations VALUES (1, 'targets', 0);
      CREATE TABLE targets (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE, data TEXT NOT NULL DEFAULT 'null',
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, health TEXT);
      INSERT INTO targets (url, data, created_at, updated_at) VALUES ('HTTP://127.0.0.1:1/old', '{"team":"a"}', 0, 0);`);
    db.close();
    const spo2 = await startSpo2({ dbPath: path, env: FAST_ENV });
    try {
      const line = await spo2.waitForLog((l) => /^database schema migrated/.test(l.msg));
      assert.equal(line.msg, 'database schema migrated from version 1 to 3');
      const all = (await api(spo2.httpUrl, 'GET', '/all')).body as Array<{ url: string; data: unknown }>;
      assert.deepEqual(all.map((v) => [v.url, v.data]), [['http://127.0.0.1:1/old', { team: 'a' }]], 'kept, with its URL in canonical form');
    } finally {
      assert.equal(await spo2.stop(), 0);
    }
  });
});
