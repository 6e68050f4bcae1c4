import { request } from 'undici';
import { startApp } from './app.js';
import { ConfigError, configHelp, loadConfig } from './config.js';
import { isStatus } from './core/status.js';
import type { TargetValue } from './core/target.js';
import { hashPasswordCommand } from './hash-password.js';
import { createLogger } from './logger.js';
import { StoreUnavailableError } from './store/store.js';

const USAGE = `spo2 — health-checks URLs that come and go

usage:
  spo2 serve [options]              run the service (options below, or their environment variables)
  spo2 add URL [--data JSON]        register URL (or replace its data)
  spo2 rm URL                       unregister URL
  spo2 ls [--status S]              list targets (S: Healthy, Unhealthy, Unreachable)
  spo2 get URL                      show one target
  spo2 hash-password                read a password on stdin, print its hash for SPO2_BASIC_AUTH

client options: --server URL (env SPO2_SERVER, default http://127.0.0.1:8000), --token T (env SPO2_API_TOKEN), --json

serve options:
`;

/** The `spo2` command; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'hash-password':
      return hashPasswordCommand();
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
      return 2;
    }
    throw err;
  }
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'stopping');
      app.stop().then(() => resolve(0), (err: unknown) => {
        logger.error({ err }, 'unclean stop');
        resolve(1);
      });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
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
    if (flags.status !== undefined && !isStatus(flags.status)) throw new ConfigError('--status must be Healthy, Unhealthy or Unreachable');
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
    process.stdout.write(`removed ${target}\n`);
  } else {
    process.stdout.write(formatTable(values));
  }
  return 0;
}

/** A fixed-width table for people: status, since, latency, URL, reason. */
export function formatTable(values: TargetValue[]): string {
  if (values.length === 0) return 'no targets\n';
  const rows = values.map((v) => [
    v.status,
    v.latencyMs === null ? '-' : `${Math.round(v.latencyMs)} ms`,
    v.since.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    v.url,
    v.reason,
  ]);
  const header = ['STATUS', 'LATENCY', 'SINCE', 'URL', 'REASON'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}
