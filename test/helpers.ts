/**
 * Test harness: the real `spo2 serve` process on loopback ports with a real SQLite file
 * (or a PostgreSQL database, see `backends()`), and a local target server whose answers a
 * test controls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type Database from 'better-sqlite3';
import pg from 'pg';
import { openDatabase } from '../src/store/sqlite/open.ts';
import { findPgBin, startPgCluster, type PgCluster } from './pg-cluster.ts';

const ROOT = new URL('..', import.meta.url).pathname;
export const BIN = join(ROOT, 'bin', 'spo2.js');

/**
 * A raw connection to a SQLite database with SpO₂'s schema (made by the product's own
 * migrations), to seed rows or look at them; the store itself shows none of its SQL.
 */
export function sqliteFile(path: string): Database.Database {
  return openDatabase(path);
}

export function tempDir(prefix = 'spo2-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Spo2 {
  httpUrl: string;
  /** The extra WebSocket listener (`WS_LISTEN_ADDR`), null when off. */
  wsUrl: string | null;
  dbPath: string;
  env: Record<string, string>;
  proc: ChildProcess;
  logs: LogLine[];
  /** Everything the process wrote to stderr. */
  stderr: () => string;
  /** SIGTERM, then waits for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: nothing gets a chance to flush. */
  kill9(): Promise<void>;
  /** Stops (if running) and starts again on the same ports and database. */
  restart(extraEnv?: Record<string, string>): Promise<Spo2>;
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** The storage engine: a fresh, empty database of it (SQLite when not given). */
  backend?: Backend;
  dbPath?: string;
  /** Start the extra WebSocket listener (off by default in tests). */
  wsListener?: boolean;
  /** Every line the process writes to stdout, as it comes (start-up failures included). */
  onStdout?: (line: string) => void;
  /** Runs the server through another command (e.g. in a private mount namespace); must exec it keeping its pid. */
  wrap?: Wrap;
}

/** Turns `node bin/spo2.js serve` into the command actually spawned. */
export type Wrap = (file: string, args: string[]) => { file: string; args: string[] };

/** Fast defaults so tests see transitions in a second or two, overridable per test. */
export const FAST_ENV: Record<string, string> = {
  SPO2_INTERVAL: '300ms',
  SPO2_FAST_INTERVAL: '100ms',
  SPO2_TIMEOUT: '500ms',
  SPO2_FLUSH_INTERVAL: '200ms',
  SPO2_NOTIFY_WINDOW: '200ms',
};

export async function startSpo2(options: StartOptions = {}): Promise<Spo2> {
  const dbPath = options.dbPath ?? join(tempDir(), 'spo2.db');
  const env: Record<string, string> = {
    HTTP_LISTEN_ADDR: '127.0.0.1:0',
    WS_LISTEN_ADDR: options.wsListener ? '127.0.0.1:0' : 'off',
    DATABASE_PATH: dbPath,
    SPO2_LOG_LEVEL: 'info',
    ...(await options.backend?.fresh()),
    ...options.env,
  };
  return launch(env, dbPath, options);
}

async function launch(env: Record<string, string>, dbPath: string, { wrap, onStdout }: Pick<StartOptions, 'wrap' | 'onStdout'> = {}): Promise<Spo2> {
  const command = wrap ? wrap(process.execPath, [BIN, 'serve']) : { file: process.execPath, args: [BIN, 'serve'] };
  const proc = spawn(command.file, command.args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters = new Set<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    onStdout?.(text);
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { level: 30, msg: text };
    }
    logs.push(line);
    for (const w of waiters) {
      if (w.predicate(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  const waitForLog = (predicate: (l: LogLine) => boolean, timeoutMs = 10_000) => {
    const found = logs.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<LogLine>((resolve, reject) => {
      const w = { predicate, resolve: (l: LogLine) => { clearTimeout(timer); resolve(l); } };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`timed out waiting for a log line; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      waiters.add(w);
    });
  };

  const started = await Promise.race([
    waitForLog((l) => l.msg === 'SpO₂ started', 15_000),
    exited.then((code) => { throw new Error(`spo2 exited with ${code} before starting: ${stderr}`); }),
  ]);
  // A suite parametrized by engine must fail, not silently pass on SQLite, where DATABASE_URL is not read.
  if (env.DATABASE_URL && !String(started.database).startsWith('postgres')) {
    proc.kill('SIGKILL');
    throw new Error(`DATABASE_URL is set but the server started on ${String(started.database)}`);
  }
  const httpUrl = String(started.http);
  const wsUrl = started.ws ? String(started.ws) : null;

  const self: Spo2 = {
    httpUrl, wsUrl, dbPath, env, proc, logs, waitForLog,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
    async restart(extraEnv = {}) {
      await self.stop();
      const again: Record<string, string> = { ...env, ...extraEnv, HTTP_LISTEN_ADDR: hostPort(httpUrl) };
      if (wsUrl) again.WS_LISTEN_ADDR = hostPort(wsUrl);
      return launch(again, dbPath, { wrap, onStdout });
    },
  };
  return self;
}

function hostPort(url: string): string {
  return new URL(url).host;
}

export interface Behaviour {
  status?: number;
  statusMessage?: string;
  /** Delay before answering; `Infinity` never answers. */
  delayMs?: number;
  body?: string;
}

export interface TargetServer {
  port: number;
  url(path: string): string;
  /** How every request to `path` is answered from now on (default: 200). */
  set(path: string, behaviour: Behaviour): void;
  hits(path: string): number;
  close(): Promise<void>;
}

/** A local HTTP server standing in for the services SpO₂ watches. */
export async function startTargetServer(): Promise<TargetServer> {
  const behaviours = new Map<string, Behaviour>();
  const hits = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const b = behaviours.get(path) ?? {};
    const answer = () => {
      res.statusCode = b.status ?? 200;
      if (b.statusMessage) res.statusMessage = b.statusMessage;
      res.end(b.body ?? 'ok');
    };
    if (b.delayMs === Infinity) return;
    if (b.delayMs) setTimeout(answer, b.delayMs);
    else answer();
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    set: (path, behaviour) => behaviours.set(path, behaviour),
    hits: (path) => hits.get(path) ?? 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A loopback URL on which nothing listens: probes of it are refused. */
export async function refusedUrl(path = '/health'): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}${path}`;
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** One request to the API; the body is parsed as JSON when it is JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read fields of any response
export async function api<T = any>(base: string, method: string, path: string, body?: string | object, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** `/?url=` with the URL encoded, as scripts call the compatible API. */
export const q = (url: string) => `/?url=${encodeURIComponent(url)}`;

/** Polls until `check` returns a truthy value. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last as NonNullable<T>;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)?.slice(0, 500)}`);
}

/**
 * A storage engine the integration suites run on. `fresh()` gives the environment of a new,
 * empty database: nothing (a temp SQLite file is the default), or `DATABASE_URL` of a new
 * database in the file's PostgreSQL cluster — started at the first call, one per test
 * file, fsync on; `stop()` it in an `after()` hook.
 */
export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Why this backend's tests are skipped here (false: they run). */
  skip: string | false;
  fresh(): Promise<Record<string, string>>;
  /** The URL of a new, empty PostgreSQL database (postgres only). */
  freshUrl(): Promise<string>;
  /** The cluster itself (postgres only; started by the first fresh()). */
  cluster(): PgCluster;
  stop(): Promise<void>;
}

/** Without the server binaries PostgreSQL's half is skipped on a workstation, never in CI (.ci/run installs them). */
export const PG_SKIP: string | false = findPgBin() || process.env.CI ? false : 'needs the PostgreSQL server binaries (apt-get install postgresql)';

/** Both engines, for `for (const backend of backends()) describe(...)`. */
export function backends(): Backend[] {
  return [sqliteBackend(), postgresBackend()];
}

function sqliteBackend(): Backend {
  const none = () => { throw new Error('not a PostgreSQL backend'); };
  return { name: 'sqlite', skip: false, fresh: async () => ({}), freshUrl: none, cluster: none, stop: async () => undefined };
}

export function postgresBackend(): Backend {
  let started: Promise<PgCluster> | null = null;
  let databases = 0;
  let current: PgCluster | null = null;
  const freshUrl = async () => {
    const cluster = current = await (started ??= startPgCluster());
    const name = `spo2_${++databases}`;
    const admin = new pg.Client({ connectionString: cluster.adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name} OWNER spo2`);
    } finally {
      await admin.end();
    }
    return cluster.url.replace(/\/spo2$/, `/${name}`);
  };
  return {
    name: 'postgres',
    skip: PG_SKIP,
    freshUrl,
    fresh: async () => ({ DATABASE_URL: await freshUrl() }),
    cluster: () => {
      if (!current) throw new Error('the cluster starts with the first fresh()');
      return current;
    },
    stop: async () => {
      if (started) await (await started.catch(() => null))?.stop();
    },
  };
}
