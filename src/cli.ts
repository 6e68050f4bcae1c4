import { request } from 'undici';
import { startApp } from './app.js';
import { backupCommand } from './backup-command.js';
import { ConfigError, configHelp, loadConfig } from './config.js';
import { STATUSES, type Status } from './core/status.js';
import type { TargetValue } from './core/target.js';
import { hashPasswordCommand } from './hash-password.js';
import { createLogger } from './logger.js';
import { migrateCommand } from './migrate-command.js';
import { StoreUnavailableError } from './store/ports.js';

const USAGE = `spo2 — health-checks URLs that come and go

usage:
  spo2 serve [options]              run the service (options below, or their environment variables)
  spo2 add URL [--data JSON]        register URL (or replace its data)
  spo2 rm URL                       unregister URL
  spo2 ls [--status S]              list targets (S: Healthy, Unhealthy, Unreachable)
  spo2 get URL                      show one target
  spo2 hash-password                read a password on stdin, print its hash for SPO2_BASIC_AUTH
  spo2 backup FILE                  copy the database (DATABASE_PATH) to FILE, safely while serving
  spo2 migrate --to postgres://…    copy the SQLite database (DATABASE_PATH) into an empty PostgreSQL database

client options: --server URL (env SPO2_SERVER, default http://127.0.0.1:8000), --token T (env SPO2_API_TOKEN), --json

serve options:
`;

/** SIGTERM to exit, at most: well inside the 2 s an operator may expect, with room for the exit itself. */
const STOP_DEADLINE_MS = 1500;

/** The `spo2` command; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'hash-password':
      return hashPasswordCommand();
    case 'backup':
      return backupCommand(rest);
    case 'migrate':
      return migrateCommand(rest);
    case 'add':
    case 'rm':
    case 'ls':
    case 'get':
      return client(command, rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + configHelp() + '\n');
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`spo2: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function serve(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE + configHelp() + '\n');
    return 0;
  }
  let config;
  try {
    config = loadConfig(process.env, args);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`spo2: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  let app;
  try {
    app = await startApp(config, logger);
  } catch (err) {
    // A database that cannot be used is a configuration problem: the message names DATABASE_PATH.
    if (err instanceof StoreUnavailableError) {
      process.stderr.write(`spo2: cannot use the database: ${err.message}\n`);
      // What start-up opened before it failed (a pool's connections, sockets) must not keep
      // a failed process alive.
      process.exit(2);
    }
    throw err;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      // An orchestrator waits a few seconds before SIGKILL, and a restart waits for the
      // ports: whatever the targets do (a lookup that hangs, a socket that never closes),
      // the process is gone within STOP_DEADLINE_MS. Everything acknowledged is already
      // committed; only the last raw results and a message in flight can be cut short.
      const deadline = setTimeout(() => {
        logger.warn({ afterMs: STOP_DEADLINE_MS }, 'stop is taking too long; exiting now');
        process.exit(1);
      }, STOP_DEADLINE_MS);
      app.stop().then(() => 0, (err: unknown) => {
        logger.error({ err }, 'unclean stop');
        return 1;
      }).then((code) => {
        clearTimeout(deadline);
        resolve(code);
        // Nothing of ours is left running; what still holds the loop (a lookup in the
        // thread pool, a half-closed socket) must not keep the process alive.
        setImmediate(() => process.exit(code));
      });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    watchLauncher(() => shutdown('launcher exited'));
  });
}

/**
 * Under `npm start`, the service lives and dies with npm: a launcher killed with SIGKILL
 * cannot forward anything, and an orphaned server would keep its ports. Reparenting is
 * the sign (Linux has no portable parent-death signal for Node).
 */
function watchLauncher(onExit: () => void): void {
  if (process.env.npm_lifecycle_event !== 'start') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onExit();
  }, 1000);
  timer.unref();
}

interface ClientFlags {
  positional: string[];
  server: string;
  token: string | undefined;
  json: boolean;
  data: string | undefined;
  status: string | undefined;
}

function parseClientFlags(args: string[]): ClientFlags {
  const flags: ClientFlags = {
    positional: [], server: process.env.SPO2_SERVER || 'http://127.0.0.1:8000', token: process.env.SPO2_API_TOKEN || undefined,
    json: false, data: undefined, status: undefined,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new ConfigError(`option ${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--json': flags.json = true; break;
      case '--server': flags.server = value(); break;
      case '--token': flags.token = value(); break;
      case '--data': flags.data = value(); break;
      case '--status': flags.status = value(); break;
      default:
        if (name.startsWith('--')) throw new ConfigError(`unknown option ${name}`);
        flags.positional.push(arg);
    }
  }
  return flags;
}

async function client(command: 'add' | 'rm' | 'ls' | 'get', args: string[]): Promise<number> {
  let flags: ClientFlags;
  try {
    flags = parseClientFlags(args);
    if (command !== 'ls' && flags.positional.length !== 1) throw new ConfigError(`usage: spo2 ${command} URL`);
    if (flags.status !== undefined) flags.status = statusNamed(flags.status);
    if (flags.data !== undefined) JSON.parse(flags.data);
  } catch (err) {
    process.stderr.write(`spo2: ${err instanceof SyntaxError ? `--data is not valid JSON: ${err.message}` : (err as Error).message}\n`);
    return 2;
  }
  const target = flags.positional[0] ?? '';
  const path = command === 'ls' ? '/all' : `/?url=${encodeURIComponent(target)}`;
  const method = command === 'add' ? 'PUT' : command === 'rm' ? 'DELETE' : 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (flags.token) headers.authorization = `Bearer ${flags.token}`;
  if (flags.data !== undefined) headers['content-type'] = 'application/json';

  let status: number;
  let body: unknown;
  try {
    const res = await request(new URL(path, flags.server), { method, headers, body: flags.data });
    status = res.statusCode;
    const text = await res.body.text();
    body = text ? JSON.parse(text) : null;
  } catch (err) {
    process.stderr.write(`spo2: cannot reach ${flags.server}: ${(err as Error).message}\n`);
    return 1;
  }
  if (status >= 400) {
    const message = (body as { error?: string } | null)?.error ?? `HTTP ${status}`;
    process.stderr.write(`spo2: ${message}\n`);
    return 1;
  }
  let values = Array.isArray(body) ? (body as TargetValue[]) : [body as TargetValue];
  if (flags.status) values = values.filter((v) => v.status === flags.status);
  if (flags.json) {
    process.stdout.write(JSON.stringify(command === 'ls' ? values : values[0], null, 2) + '\n');
  } else if (command === 'rm') {
    process.stdout.write(`removed ${values[0]?.url ?? target}\n`);
  } else if (command === 'get') {
    process.stdout.write(formatRecord(values[0]!));
  } else {
    process.stdout.write(formatTable(values));
  }
  return 0;
}

/** `--status unreachable` as well as `Unreachable`: people type statuses in any case. */
function statusNamed(raw: string): Status {
  const found = STATUSES.find((s) => s.toLowerCase() === raw.trim().toLowerCase());
  if (!found) throw new ConfigError(`--status must be one of ${STATUSES.join(', ')} (any case), not ${JSON.stringify(raw)}`);
  return found;
}

/** The status a person should read: a target not probed yet is not known to be Healthy. */
function shownStatus(v: TargetValue): string {
  return v.lastCheck === null && v.status === 'Healthy' ? 'not checked yet' : v.status;
}

/** Custom data on one line, cut so a table stays a table. */
function dataCell(data: unknown, max = 60): string {
  if (data === null || data === undefined) return '';
  const text = JSON.stringify(data);
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

/** One target in full, for `spo2 get`. */
export function formatRecord(v: TargetValue): string {
  const rows: Array<[string, string]> = [
    ['url', v.url],
    ['status', shownStatus(v)],
    ['reason', v.reason || '-'],
    ['since', v.since],
    ['last check', v.lastCheck ?? 'not checked yet'],
    ['last result', v.lastStatus === null ? '-' : [v.lastStatus, v.httpStatus ?? '', v.lastReason ?? ''].filter((x) => x !== '').join(' ')],
    ['latency', v.latencyMs === null ? '-' : `${Math.round(v.latencyMs)} ms`],
    ['data', v.data === null ? '-' : JSON.stringify(v.data, null, 2).replace(/\n/g, '\n            ')],
  ];
  return rows.map(([k, val]) => `${(k + ':').padEnd(12)}${val}`).join('\n') + '\n';
}

/** A fixed-width table for people: status, since, latency, URL, reason. */
export function formatTable(values: TargetValue[]): string {
  if (values.length === 0) return 'no targets\n';
  const withData = values.some((v) => v.data !== null && v.data !== undefined);
  const rows = values.map((v) => [
    shownStatus(v),
    v.latencyMs === null ? '-' : `${Math.round(v.latencyMs)} ms`,
    v.since.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    v.url,
    ...(withData ? [dataCell(v.data)] : []),
    v.reason,
  ]);
  const header = ['STATUS', 'LATENCY', 'SINCE', 'URL', ...(withData ? ['DATA'] : []), 'REASON'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}
