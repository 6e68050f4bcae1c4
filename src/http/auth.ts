import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { secretEquals, verifyPassword, type BasicCredential } from '../core/password.js';

/** The credentials SpO₂ checks itself (all optional; see docs/security.md). */
export interface AuthConfig {
  /** Bearer token for every write; also accepted for reads. */
  apiToken: string | null;
  /** When set, reads (API, dashboard, WebSocket) need this token, the API token or the basic-auth user. */
  readToken: string | null;
  /** Dashboard and WebSocket user; also grants reads, and writes when no API token is set. */
  basicAuth: BasicCredential | null;
}

/** What a request is judged on; both Fastify requests and raw upgrade requests fit. */
export interface AuthRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  ip: string;
}

export type AuthDecision =
  | { ok: true }
  | { ok: false; status: 401 | 403 | 429; error: string; headers: Record<string, string> };

type Role = 'read' | 'write';

/** Routes that must answer without credentials: orchestrator probes. */
const PUBLIC_PATHS = new Set(['/healthz']);
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Per-client token bucket of failed attempts: a burst of `capacity`, then one more every
 * `refillMs`. Small and in memory; the oldest clients are forgotten past `maxClients`.
 */
export class FailureLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly capacity = 10,
    private readonly refillMs = 6_000,
    private readonly maxClients = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `client` may try again, 0 when it may now. */
  retryAfter(client: string): number {
    const b = this.refill(client);
    return b && b.tokens < 1 ? Math.ceil(((1 - b.tokens) * this.refillMs) / 1000) : 0;
  }

  fail(client: string): void {
    const b = this.refill(client) ?? { tokens: this.capacity, at: this.now() };
    b.tokens = Math.max(0, b.tokens - 1);
    this.buckets.delete(client);
    this.buckets.set(client, b);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
  }

  private refill(client: string): { tokens: number; at: number } | undefined {
    const b = this.buckets.get(client);
    if (!b) return undefined;
    const t = this.now();
    b.tokens = Math.min(this.capacity, b.tokens + (t - b.at) / this.refillMs);
    b.at = t;
    if (b.tokens >= this.capacity) {
      this.buckets.delete(client);
      return undefined;
    }
    return b;
  }
}

/** Decides whether a request may go on. Holds no secrets in anything it returns or logs. */
export class Authenticator {
  /** Basic-auth headers already verified (by digest), so a page load does not run scrypt per asset. */
  private readonly verified = new Map<string, number>();

  constructor(
    private readonly config: AuthConfig,
    private readonly limiter = new FailureLimiter(),
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether any credential is configured: without one, every request goes through. */
  get enabled(): boolean {
    return this.config.apiToken !== null || this.config.readToken !== null || this.config.basicAuth !== null;
  }

  async check(req: AuthRequest): Promise<AuthDecision> {
    const need = this.required(req);
    if (need === null) return { ok: true };
    const retry = this.limiter.retryAfter(req.ip);
    if (retry > 0) return this.deny(429, 'too many failed authentication attempts; try again later', { 'retry-after': String(retry) });
    const role = await this.roleOf(req.headers);
    if (role === 'invalid') {
      this.limiter.fail(req.ip);
      return this.deny(401, 'invalid credentials');
    }
    if (role === null) return this.deny(401, need === 'write' ? 'this request needs the API token (Authorization: Bearer ...)' : 'authentication required');
    if (need === 'write' && role !== 'write') return this.deny(403, 'these credentials may only read; writing needs the API token');
    return { ok: true };
  }

  /** The role a request needs, or null when it needs none. */
  private required(req: AuthRequest): Role | null {
    const path = req.url.split('?', 1)[0]!;
    if (PUBLIC_PATHS.has(path)) return null;
    const { readToken, basicAuth } = this.config;
    if (!READ_METHODS.has(req.method.toUpperCase())) return this.enabled ? 'write' : null;
    return readToken !== null || basicAuth !== null ? 'read' : null;
  }

  /** null = no credentials given; 'invalid' = credentials given and wrong. */
  private async roleOf(headers: IncomingHttpHeaders): Promise<Role | 'invalid' | null> {
    const { apiToken, readToken, basicAuth } = this.config;
    // Behind nginx basic auth the Authorization header is taken: the token may come in X-SpO2-Token.
    const extra = headers['x-spo2-token'];
    const authorization = headers.authorization;
    let token: string | null = typeof extra === 'string' ? extra : null;
    if (token === null && authorization) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (m) token = m[1]!;
    }
    if (token !== null) {
      // Both comparisons always run, so timing does not tell which token matched.
      const isApi = apiToken !== null && secretEquals(token, apiToken);
      const isRead = readToken !== null && secretEquals(token, readToken);
      return isApi ? 'write' : isRead ? 'read' : 'invalid';
    }
    if (authorization && /^Basic\s/i.test(authorization)) {
      // Without native basic auth this header is nginx's business, not a failed attempt here.
      if (!basicAuth) return null;
      return (await this.checkBasic(authorization, basicAuth)) ? (apiToken === null ? 'write' : 'read') : 'invalid';
    }
    return authorization ? 'invalid' : null;
  }

  private async checkBasic(authorization: string, cred: BasicCredential): Promise<boolean> {
    const digest = createHash('sha256').update(authorization).digest('base64');
    const until = this.verified.get(digest);
    if (until !== undefined && until > this.now()) return true;
    const decoded = Buffer.from(authorization.replace(/^Basic\s+/i, '').trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const userOk = secretEquals(decoded.slice(0, colon), cred.user);
    const passOk = await verifyPassword(decoded.slice(colon + 1), cred.hash);
    if (!(userOk && passOk)) return false;
    if (this.verified.size >= 100) this.verified.clear();
    this.verified.set(digest, this.now() + 5 * 60_000);
    return true;
  }

  private deny(status: 401 | 403 | 429, error: string, headers: Record<string, string> = {}): AuthDecision {
    if (status === 401) {
      // Browsers prompt for a password only when Basic is offered.
      headers['www-authenticate'] = this.config.basicAuth ? 'Basic realm="SpO2", charset="UTF-8"' : 'Bearer realm="SpO2"';
    }
    return { ok: false, status, error, headers };
  }
}

/** Checks every request before routing; `/healthz` stays open for orchestrator probes. */
export function installAuth(app: FastifyInstance, auth: Authenticator): void {
  if (!auth.enabled) return;
  app.addHook('onRequest', async (request, reply) => {
    const decision = await auth.check({ method: request.method, url: request.url, headers: request.headers, ip: request.ip });
    if (!decision.ok) return reply.code(decision.status).headers(decision.headers).send({ error: decision.error });
  });
}

/**
 * For a WebSocket upgrade (which bypasses Fastify's hooks): resolves true when it may go
 * on; otherwise writes the HTTP refusal to the socket, closes it and resolves false.
 */
export async function authorizeUpgrade(
  auth: Authenticator,
  req: { method?: string; url?: string; headers: IncomingHttpHeaders; socket: { remoteAddress?: string } },
  socket: Duplex,
): Promise<boolean> {
  if (!auth.enabled) return true;
  // Always judged as a read of the stream: WS_LISTEN_ADDR serves any path, /healthz included.
  const decision = await auth.check({ method: 'GET', url: '/ws', headers: req.headers, ip: req.socket.remoteAddress ?? '' });
  if (decision.ok) return true;
  const body = JSON.stringify({ error: decision.error });
  const reason = { 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests' }[decision.status];
  const head = [`HTTP/1.1 ${decision.status} ${reason}`, 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
  for (const [k, v] of Object.entries(decision.headers)) head.push(`${k}: ${v}`);
  socket.end(head.join('\r\n') + '\r\n\r\n' + body);
  return false;
}

export interface SecurityNote {
  level: 'info' | 'warn';
  msg: string;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** What the start-up log says about exposure: a reader sees at once whether this is safe. */
export function securityNotes(config: AuthConfig & { tlsCert: string | null; httpListen: { host: string; port: number }; wsListen: { host: string; port: number } | null }): SecurityNote[] {
  const notes: SecurityNote[] = [];
  const listeners = [config.httpListen, ...(config.wsListen ? [config.wsListen] : [])];
  const exposed = listeners.filter((l) => !isLoopback(l.host)).map((l) => `${l.host}:${l.port}`);
  const auth = new Authenticator(config).enabled;
  const tls = config.tlsCert !== null;
  if (!auth && exposed.length === 0) {
    notes.push({ level: 'info', msg: 'no authentication configured: listening on loopback only; set SPO2_API_TOKEN / SPO2_BASIC_AUTH or use the nginx setup (docs/tls.md) before exposing SpO₂' });
  } else if (!auth) {
    notes.push({ level: 'warn', msg: `listening on ${exposed.join(', ')} WITHOUT authentication: anyone who reaches it can register URLs for SpO₂ to request; set SPO2_API_TOKEN / SPO2_BASIC_AUTH, or bind to 127.0.0.1 behind nginx (docs/security.md)` });
  } else {
    const parts = [
      config.apiToken ? 'API token for writes' : 'basic auth for writes',
      config.readToken || config.basicAuth ? 'credentials for reads' : 'open reads',
      config.basicAuth ? 'basic auth for the dashboard' : null,
    ].filter((p) => p !== null);
    notes.push({ level: 'info', msg: `authentication: ${parts.join(', ')}` });
    if (!tls && exposed.length > 0) {
      notes.push({ level: 'warn', msg: `credentials travel in clear text on ${exposed.join(', ')}: set SPO2_TLS_CERT / SPO2_TLS_KEY or terminate TLS in nginx` });
    }
  }
  if (tls) notes.push({ level: 'info', msg: 'TLS on: HTTPS and WSS on every listener; SIGHUP reloads the certificate' });
  return notes;
}
