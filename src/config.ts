import { parseAllowRules, type AllowRule } from './core/allow.js';
import { parseDuration } from './core/duration.js';
import { parseBasicCredential, type BasicCredential } from './core/password.js';

/** One listen address, `host:port` (IPv6 as `[::1]:8000`). */
export interface ListenAddr {
  host: string;
  port: number;
}

/** The one typed configuration, built and validated at start-up. */
export interface Config {
  httpListen: ListenAddr;
  /** null when `WS_LISTEN_ADDR=off`. */
  wsListen: ListenAddr | null;
  databasePath: string;
  /** PostgreSQL instead of the SQLite file (`postgres://user:password@host:port/db`); null = SQLite at databasePath. */
  databaseUrl: string | null;
  slackHookUrl: string | null;
  slackMention: string;
  webhookUrl: string | null;
  webhookSecret: string | null;
  /** A dead-man's switch pinged every `heartbeatIntervalMs` while SpO₂ is well; null = none. */
  heartbeatUrl: string | null;
  heartbeatIntervalMs: number;
  intervalMs: number;
  fastIntervalMs: number;
  timeoutMs: number;
  windowSize: number;
  remindAfterMs: number;
  notifyBatch: number;
  notifyWindowMs: number;
  /** Most undelivered events kept per destination; the oldest are dropped beyond it. */
  outboxLimit: number;
  /** Most probes in flight at once. */
  concurrency: number;
  /** Most connections (and probes in flight) to one origin; more wait their turn. */
  originConnections: number;
  /** How often the latest raw results are written to the database. */
  flushIntervalMs: number;
  bodyLimit: number;
  /** Most WebSocket clients at once. */
  wsMaxClients: number;
  /** Most unsent WebSocket bytes held for all clients together. */
  wsMaxBuffer: number;
  logLevel: string;
  /** TLS certificate and key files (PEM); both or neither. */
  tlsCert: string | null;
  tlsKey: string | null;
  /** Bearer token for writes (and reads); see src/http/auth.ts. */
  apiToken: string | null;
  readToken: string | null;
  basicAuth: BasicCredential | null;
  /** null = any target except link-local addresses. */
  allowTargets: AllowRule[] | null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A parser returns the value or throws an Error whose message explains what was expected. */
type Parser<T> = (raw: string) => T;

function invalid(explanation: string): never {
  throw new Error(explanation);
}

interface Option<K extends keyof Config = keyof Config> {
  key: K;
  env: string;
  flag: string;
  default: string;
  parse: Parser<Config[K]>;
  help: string;
  /** Never echoed back: not in errors, not in help, not in logs. */
  secret?: boolean;
}

const duration = (min: number): Parser<number> => (raw) => {
  const ms = parseDuration(raw);
  if (ms === null) return invalid('expected a duration such as 250ms, 3s, 15m or 1h');
  if (ms < min) {
    // `SPO2_INTERVAL=3` is 3 ms: say so, people who write it mean seconds.
    const bare = /^\s*\d+\s*$/.test(raw) ? ` (a bare number is milliseconds: did you mean ${raw.trim()}s?)` : '';
    return invalid(`must be at least ${min}ms${bare}`);
  }
  return ms;
};

const integer = (min: number, max: number): Parser<number> => (raw) => {
  if (!/^\s*-?\d+\s*$/.test(raw)) return invalid('expected a whole number');
  const n = Number(raw);
  if (n < min) return invalid(`must be at least ${min}`);
  if (n > max) return invalid(`must be at most ${max}`);
  return n;
};

const byteSize: Parser<number> = (raw) => {
  const m = /^\s*(\d+)\s*(b|kb|kib|k|mb|mib|m)?\s*$/i.exec(raw);
  if (!m) return invalid('expected a size such as 65536, 64kb or 1mb');
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1;
  const n = Number(m[1]) * factor;
  if (n < 1024) return invalid('must be at least 1kb');
  return n;
};

export const parseListenAddr: Parser<ListenAddr> = (raw) => {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(raw.trim());
  if (!m) return invalid('expected host:port, e.g. 127.0.0.1:8000 or [::1]:8000');
  const port = Number(m[3]);
  if (port > 65535) return invalid('port must be between 0 and 65535');
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
};

const optionalUrl: Parser<string | null> = (raw) => {
  if (raw === '') return null;
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return invalid('expected an http(s) URL');
    return raw;
  } catch {
    return invalid('expected an http(s) URL');
  }
};

/** Secret (it holds the password): a bad value is explained, never echoed. */
const databaseUrl: Parser<string | null> = (raw) => {
  if (raw.trim() === '') return null;
  const expected = 'expected postgres://user:password@host:port/database';
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return invalid(`not a URL: ${expected}`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') return invalid(`the scheme must be postgres:// or postgresql://, not ${u.protocol}// (unset DATABASE_URL to use the SQLite file at DATABASE_PATH)`);
  if (u.hostname === '') return invalid(`no host: ${expected}`);
  return raw.trim();
};

const text: Parser<string> = (raw) => raw;
const token: Parser<string | null> = (raw) => {
  if (raw === '') return null;
  // Long enough that guessing is hopeless even without the rate limit.
  if (raw.length < 16 || /\s/.test(raw)) return invalid('must be at least 16 characters without spaces (e.g. openssl rand -hex 32)');
  return raw;
};
const optionalText: Parser<string | null> = (raw) => (raw === '' ? null : raw);

const OPTIONS: Option[] = [
  opt('httpListen', 'HTTP_LISTEN_ADDR', '127.0.0.1:8000', parseListenAddr, 'API, dashboard and WebSocket (/ws)'),
  opt('wsListen', 'WS_LISTEN_ADDR', '127.0.0.1:8001', (raw) => (raw.trim().toLowerCase() === 'off' ? null : parseListenAddr(raw)), 'extra WebSocket listener (SpO₂ compatibility); "off" disables it'),
  opt('databasePath', 'DATABASE_PATH', 'spo2.db', (raw) => (raw === '' ? invalid('must not be empty') : raw), 'embedded database file (created if missing)'),
  opt('databaseUrl', 'DATABASE_URL', '', databaseUrl, 'PostgreSQL instead of SQLite: postgres://user:password@host:port/database (DATABASE_PATH is then ignored)', true),
  opt('slackHookUrl', 'SLACK_HOOK_URL', '', optionalUrl, 'Slack incoming-webhook URL; unset = no Slack'),
  opt('slackMention', 'SPO2_SLACK_MENTION', '<!channel>', text, 'first line of a message that holds a newly bad target; empty = no mention'),
  opt('webhookUrl', 'SPO2_WEBHOOK_URL', '', optionalUrl, 'generic webhook: the same batches as JSON'),
  opt('webhookSecret', 'SPO2_WEBHOOK_SECRET', '', optionalText, 'HMAC-SHA256 key signing webhook bodies'),
  opt('heartbeatUrl', 'SPO2_HEARTBEAT_URL', '', optionalUrl, "GET this URL every SPO2_HEARTBEAT_INTERVAL while SpO₂ is well (an external dead-man's switch)", true),
  opt('heartbeatIntervalMs', 'SPO2_HEARTBEAT_INTERVAL', '1m', duration(100), 'how often the heartbeat is sent'),
  opt('intervalMs', 'SPO2_INTERVAL', '3s', duration(100), 'probe period of a target that looks healthy'),
  opt('fastIntervalMs', 'SPO2_FAST_INTERVAL', '800ms', duration(50), 'probe period of a target that looks bad'),
  opt('timeoutMs', 'SPO2_TIMEOUT', '5s', duration(50), "one probe's timeout (connect + response headers)"),
  opt('windowSize', 'SPO2_WINDOW', '10', integer(1, 1000), 'how many recent results the state machine looks at'),
  opt('remindAfterMs', 'SPO2_REMIND_AFTER', '15m', duration(0), 're-notify a target still bad after this long; 0 = never'),
  opt('notifyBatch', 'SPO2_NOTIFY_BATCH', '40', integer(1, 1000), 'most events in one notification message'),
  opt('notifyWindowMs', 'SPO2_NOTIFY_WINDOW', '10s', duration(0), 'how long the notifier gathers events before sending'),
  opt('outboxLimit', 'SPO2_OUTBOX_LIMIT', '10000', integer(1, 10_000_000), 'most undelivered notification events kept per destination; beyond it the oldest are dropped'),
  opt('concurrency', 'SPO2_CONCURRENCY', '2048', integer(1, 100_000), 'most probes in flight at once'),
  opt('originConnections', 'SPO2_ORIGIN_CONNECTIONS', '256', integer(1, 100_000), 'most connections to one origin (scheme, host, port); probes beyond it wait, with no timeout or latency counted'),
  opt('flushIntervalMs', 'SPO2_FLUSH_INTERVAL', '5s', duration(100), 'how often the latest raw results are written to the database'),
  opt('bodyLimit', 'SPO2_BODY_LIMIT', '64kb', byteSize, 'largest accepted request body'),
  opt('wsMaxClients', 'SPO2_WS_MAX_CLIENTS', '1000', integer(1, 1_000_000), 'most WebSocket clients at once; more are refused with 503'),
  opt('wsMaxBuffer', 'SPO2_WS_MAX_BUFFER', '64mb', byteSize, 'unsent WebSocket changes held for all clients together; a client over its share is dropped'),
  opt('tlsCert', 'SPO2_TLS_CERT', '', optionalText, 'TLS certificate file (PEM, full chain): HTTPS and WSS on both listeners; reloaded on SIGHUP'),
  opt('tlsKey', 'SPO2_TLS_KEY', '', optionalText, 'TLS private key file (PEM)'),
  opt('apiToken', 'SPO2_API_TOKEN', '', token, 'bearer token required for every write (and accepted for reads)', true),
  opt('readToken', 'SPO2_READ_TOKEN', '', token, 'when set, reads (API, dashboard, WebSocket) need a token or the basic-auth user too', true),
  opt('basicAuth', 'SPO2_BASIC_AUTH', '', parseBasicCredential, 'user:scrypt-hash for the dashboard and WebSocket (spo2 hash-password)', true),
  opt('allowTargets', 'SPO2_ALLOW_TARGETS', '', (raw) => (raw.trim() === '' ? null : parseAllowRules(raw)), 'what may be registered: CIDRs and host patterns (*.svc.cluster.local), comma-separated; unset = any but link-local'),
  opt('logLevel', 'SPO2_LOG_LEVEL', 'info', (raw) => (['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(raw) ? raw : invalid('expected one of fatal, error, warn, info, debug, trace, silent')), 'log level'),
];

function opt<K extends keyof Config>(key: K, env: string, def: string, parse: Parser<Config[K]>, help: string, secret = false): Option {
  const flag = '--' + env.replace(/^SPO2_/, '').toLowerCase().replace(/_/g, '-');
  return { key, env, flag, default: def, parse, help, secret } as unknown as Option;
}

export const CONFIG_OPTIONS: readonly Readonly<Option>[] = OPTIONS;

/**
 * Builds the Config from flags (win) and environment, then defaults.
 * Throws ConfigError naming the variable and the value on the first bad one.
 */
export function loadConfig(env: Record<string, string | undefined>, args: string[] = []): Config {
  const flags = parseFlags(args);
  const config: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const fromFlag = flags.get(o.flag);
    const raw = fromFlag ?? env[o.env] ?? o.default;
    const source = fromFlag !== undefined ? o.flag : o.env;
    try {
      config[o.key] = o.parse(raw);
    } catch (err) {
      const shown = o.secret ? '(value hidden)' : JSON.stringify(raw);
      throw new ConfigError(`invalid ${source}=${shown}: ${(err as Error).message}`);
    }
    flags.delete(o.flag);
  }
  const unknown = [...flags.keys()];
  if (unknown.length > 0) throw new ConfigError(`unknown option ${unknown[0]} (see spo2 serve --help)`);
  const c = config as unknown as Config;
  if (c.fastIntervalMs > c.intervalMs) {
    throw new ConfigError(`invalid SPO2_FAST_INTERVAL=${c.fastIntervalMs}ms: must not be longer than SPO2_INTERVAL (${c.intervalMs}ms)`);
  }
  if (c.readToken !== null && c.apiToken === null && c.basicAuth === null) {
    // Reads would need a token while writes, which matter more, had none to check against.
    throw new ConfigError('SPO2_READ_TOKEN needs SPO2_API_TOKEN or SPO2_BASIC_AUTH too: without them no one could be allowed to write');
  }
  if ((c.tlsCert === null) !== (c.tlsKey === null)) {
    throw new ConfigError('SPO2_TLS_CERT and SPO2_TLS_KEY must be set together');
  }
  return c;
}

function parseFlags(args: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags.set(arg.slice(0, eq), arg.slice(eq + 1));
    } else {
      const value = args[i + 1];
      if (value === undefined) throw new ConfigError(`option ${arg} needs a value`);
      flags.set(arg, value);
      i++;
    }
  }
  return flags;
}

export function configHelp(): string {
  return OPTIONS.map((o) => `  ${(o.flag + ' <value>').padEnd(30)} ${o.env.padEnd(22)} ${o.help} (default: ${o.default || 'unset'})`).join('\n');
}
