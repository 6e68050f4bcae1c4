/**
 * A private, throwaway PostgreSQL server for tests and benchmarks: initdb into a fresh temp
 * folder, a free loopback port, a random password, removed again by `stop()`. Nothing is
 * shared between clusters or runs, and the machine's own PostgreSQL (if any) is never used.
 *
 * Clean-up: call `stop()` from an `after()` hook — node:test runs `after` even when a test
 * failed. If the test process ends without it (an uncaught error, process.exit), an 'exit'
 * handler stops the server; if it was killed outright (SIGKILL), the next `startPgCluster()`
 * finds the orphan (its owner process is gone) and removes it.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PgCluster {
  /** `postgres://spo2:…@127.0.0.1:PORT/spo2`: a database owned by a role that is not a superuser, as on a managed service. */
  url: string;
  /** The superuser on the `postgres` database: for what a test does to the server itself (terminate sessions, create databases). */
  adminUrl: string;
  port: number;
  /** The temp folder holding the data directory, the socket and the log; gone after `stop()`. */
  dir: string;
  /** The postmaster's process id (changes across `down()`/`up()`). */
  pid(): number;
  /** The server's log so far (stderr), for a failing test's message. */
  log(): string;
  /** Stops the server and keeps its data: a database outage, ended by `up()` on the same URL. */
  down(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts the stopped server again, same port, same data. */
  up(): Promise<void>;
  /** Fast shutdown, then removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface PgClusterOptions {
  /**
   * `fsync=off` for tests that want speed over realism. Off by default: a kill -9 test or a
   * benchmark must pay for the commits as production does (the figures compare with SQLite
   * at synchronous=FULL). Turning it off only risks this throwaway cluster on an OS crash.
   */
  fsync?: boolean;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
}

const DB = 'spo2';
const ROLE = 'spo2';
const PREFIX = 'spo2-pg-';
/** Start-up is ~0.5 s on an idle machine; the margin is for a loaded one. */
const READY_MS = 30_000;
const STOP_MS = 15_000;

/** The server binaries of the highest PostgreSQL installed the Debian way (`/usr/lib/postgresql/N/bin`), or null. */
export function findPgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    try {
      accessSync(join(bin, 'initdb'), constants.X_OK);
      accessSync(join(bin, 'postgres'), constants.X_OK);
      return bin;
    } catch {
      // This version's server package is only partly installed: try the next one.
    }
  }
  return null;
}

export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = findPgBin();
  if (!bin) throw new Error('no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)');
  reapOrphans();

  // initdb and postgres refuse to run as root: as root, they run as the `postgres` user
  // (spawn's uid/gid, so signals reach the postmaster itself, not a runuser in between).
  const as = process.getuid?.() === 0 ? postgresUser() : null;
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  if (as) chownSync(dir, as.uid, as.gid);
  const data = join(dir, 'data');
  const password = randomBytes(18).toString('base64url');
  const run = (file: string, args: string[]) => ({ file: join(bin, file), args, opts: { cwd: dir, env: cleanEnv(), ...(as ?? {}) } });

  let server: ChildProcess | null = null;
  let stderr = '';
  let port = 0;
  const exitHook = () => {
    // Synchronous only: the process is going away. SIGQUIT is the immediate shutdown.
    if (server?.pid && server.exitCode === null && server.signalCode === null) server.kill('SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', exitHook);

  try {
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, password + '\n', { mode: 0o600 });
    if (as) chownSync(pwfile, as.uid, as.gid);
    // --no-sync: only initdb's own final flush of the fresh files; the server's fsync is set below.
    const init = run('initdb', ['-D', data, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync']);
    try {
      execFileSync(init.file, init.args, { ...init.opts, stdio: 'pipe' });
    } catch (err) {
      const out = err as { stderr?: Buffer; message: string };
      throw new Error(`initdb failed: ${out.stderr?.toString().trim() || out.message}`);
    }
    rmSync(pwfile);

    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dir,
      fsync: options.fsync === false ? 'off' : 'on',
      logging_collector: 'off',
      ...options.settings,
    };
    const start = async (): Promise<void> => {
      const s = run('postgres', ['-D', data, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])]);
      const child = spawn(s.file, s.args, { ...s.opts, stdio: ['ignore', 'ignore', 'pipe'] });
      server = child;
      stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-16_384);
      });
      await waitReady(child, port, password, () => stderr);
    };

    // The free port may be taken between the probe and the server's bind (other tests run on
    // this machine too): then try another one, a few times.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await start();
        break;
      } catch (err) {
        if (attempt >= 5 || !/Address already in use/.test(stderr)) throw err;
      }
    }

    const adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${password}'`);
      await admin.query(`CREATE DATABASE ${DB} OWNER ${ROLE}`);
    } finally {
      await admin.end();
    }

    const shutdown = async (mode: 'fast' | 'immediate'): Promise<void> => {
      const child = server;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      // SIGINT = fast shutdown (sessions are ended, a clean checkpoint); SIGQUIT = immediate (crash-like).
      child.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
      if (!(await exited(child, STOP_MS))) {
        child.kill('SIGKILL');
        await exited(child, STOP_MS);
      }
    };
    let stopped = false;
    return {
      url: `postgres://${ROLE}:${password}@127.0.0.1:${port}/${DB}`,
      adminUrl,
      port,
      dir,
      pid: () => server?.pid ?? 0,
      log: () => stderr,
      down: (mode = 'fast') => shutdown(mode),
      up: () => start(),
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await shutdown('fast');
        } finally {
          process.off('exit', exitHook);
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    exitHook();
    process.off('exit', exitHook);
    throw err;
  }
}

/** Waits until the server answers a query on its TCP port; fails at once if it exits first. */
async function waitReady(child: ChildProcess, port: number, password: string, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_MS;
  let exit: string | null = null;
  child.once('exit', (code, signal) => { exit = `exited (${signal ?? code})`; });
  let last: unknown = null;
  while (Date.now() < deadline) {
    if (exit) break;
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres', connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (err) {
      last = err;
      await client.end().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  if (!exit) child.kill('SIGQUIT');
  const why = exit ?? `not ready after ${READY_MS} ms (${(last as Error | null)?.message ?? 'no attempt'})`;
  throw new Error(`PostgreSQL on 127.0.0.1:${port} ${why}:\n${log().trim()}`);
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as (the postgresql package creates it)');
  }
}

/** No PG* variables of the caller's shell (PGDATA, PGPORT…) may steer the private server. */
function cleanEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
}

/**
 * Removes the clusters of test processes that died without stopping theirs (SIGKILL,
 * a killed CI job): the owner's pid is gone. Only our own temp folders are looked at, and a
 * postmaster is signalled only when its command line names that folder.
 */
function reapOrphans(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(readText(join(dir, 'owner.pid')));
    if (!owner || isRunning(owner)) continue;
    const pid = Number(readText(join(dir, 'data', 'postmaster.pid'))?.split('\n')[0]);
    if (pid && isRunning(pid) && (readText(`/proc/${pid}/cmdline`) ?? '').includes(dir)) {
      process.kill(pid, 'SIGQUIT');
      // An immediate shutdown takes milliseconds; wait for it so no file appears behind the rm.
      const until = Date.now() + 5_000;
      while (isRunning(pid) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Whether a process runs: a zombie (exited, not yet reaped by its new parent) does not. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = readText(`/proc/${pid}/stat`);
  // The state follows the parenthesised command name: `123 (postgres) Z …`.
  return stat === null || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}
