import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config, ListenAddr } from './config.js';
import { checkAllowed } from './core/allow.js';
import { EventBus } from './events.js';
import { Authenticator, authorizeUpgrade, installAuth, securityNotes } from './http/auth.js';
import { registerDashboard, sendDashboard, wantsDashboard } from './http/dashboard.js';
import { createHttpApp, SLOW_CLIENT } from './http/server.js';
import { WsHub } from './http/ws.js';
import { readTlsFiles, reloadTlsOnSighup } from './http/tls.js';
import { Monitor } from './monitor/monitor.js';
import { Notifier } from './notify/notifier.js';
import { ProbeResolver } from './probe/dns.js';
import { OriginGates } from './probe/origin-gate.js';
import { createProbeAgent, httpProber, type ProbeRequest } from './probe/probe.js';
import { Registry } from './registry.js';
import { Heartbeat } from './self/heartbeat.js';
import { healthReport, wellLimits } from './self/health-report.js';
import { logUrlCleanup } from './store/canonical-urls.js';
import type { Store } from './store/ports.js';
import { redactedUrl } from './store/postgres/connect.js';
import { openPostgresStore } from './store/postgres/open.js';
import { SqliteStore } from './store/sqlite/store.js';

export interface App {
  config: Config;
  /** `http://host:port` of the API/dashboard listener, with the port actually bound. */
  httpUrl: string;
  /** `ws://host:port` of the extra WebSocket listener, null when off. */
  wsUrl: string | null;
  bus: EventBus;
  monitor: Monitor<ProbeRequest | null>;
  registry: Registry;
  stop(): Promise<void>;
}

/** The built dashboard: dist/web beside this file's dist/app.js. */
const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));

/** Starts everything in dependency order; `stop()` undoes it in reverse. */
export async function startApp(config: Config, logger: Logger): Promise<App> {
  const tls = readTlsFiles(config); // first: a bad certificate stops start-up before anything opens
  const store = await openStore(config, logger); // checks the database first: nothing is open yet
  const bus = new EventBus();
  const resolver = new ProbeResolver({ probeTimeoutMs: config.timeoutMs, warn: (msg) => logger.warn(msg) });
  const agent = createProbeAgent({ timeoutMs: config.timeoutMs, originConnections: config.originConnections, lookup: resolver.lookup });
  const probeOptions = { timeoutMs: config.timeoutMs, dispatcher: agent, gates: new OriginGates(config.originConnections) };
  // Before the monitor: it writes each transition's outbox rows for the notifier's destinations.
  const notifier = new Notifier({ config, bus, outbox: store.outbox, logger });
  const monitor = new Monitor({
    health: config,
    concurrency: config.concurrency,
    flushIntervalMs: config.flushIntervalMs,
    probe: httpProber(probeOptions),
    bus,
    store,
    destinations: notifier.destinations,
    logger,
  });
  logUrlCleanup(await store.canonicaliseUrls(), logger);
  const stored = await store.loadTargets();
  monitor.restore(stored);
  const registry = new Registry(store, monitor);
  // Before the monitor starts: no transition may be emitted with nobody listening.
  await notifier.start();

  const report = () => healthReport({
    probesInFlight: () => monitor.probesInFlight,
    probeLag: () => monitor.probeLag(),
    storeTrouble: () => store.trouble(),
    backlog: () => store.outbox.backlog(),
    destinations: notifier.destinations,
    limits: wellLimits(config),
  });

  const auth = new Authenticator(config);
  const http = createHttpApp({
    registry,
    logger,
    bodyLimit: config.bodyLimit,
    checkUrl: (url) => checkAllowed(url, config.allowTargets),
    dashboard: (req, reply) => wantsDashboard(req) && (sendDashboard(reply), true),
    health: async () => ({ ...(await report()) }),
    storeTrouble: () => store.trouble(),
    https: tls,
  });
  installAuth(http, auth);
  registerDashboard(http, { webDir: WEB_DIR });
  const hub = new WsHub({ bus, snapshot: () => monitor.values(), logger, maxClients: config.wsMaxClients, maxTotalBufferedBytes: config.wsMaxBuffer });
  onUpgrade(http.server, (req) => (req.url ?? '').split('?')[0] === '/ws', (req, socket, head) => hub.handleUpgrade(req, socket, head), auth);
  await named('HTTP_LISTEN_ADDR', config.httpListen, http.listen({ host: config.httpListen.host, port: config.httpListen.port }));
  const httpUrl = urlOf(tls ? 'https' : 'http', http.server);

  let wsServer: Server | HttpsServer | null = null;
  if (config.wsListen) {
    const upgradeOnly = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(426, { 'content-type': 'application/json', upgrade: 'websocket' });
      res.end(JSON.stringify({ error: 'this listener only serves WebSocket upgrades' }));
    };
    wsServer = tls ? createHttpsServer({ ...tls, ...SLOW_CLIENT }, upgradeOnly) : createServer(SLOW_CLIENT, upgradeOnly);
    onUpgrade(wsServer, () => true, (req, socket, head) => hub.handleUpgrade(req, socket, head), auth); // any path, as SpO₂ did
    await named('WS_LISTEN_ADDR', config.wsListen, listen(wsServer, config.wsListen));
  }
  const wsUrl = wsServer ? urlOf(tls ? 'wss' : 'ws', wsServer) : null;
  const stopTlsReload = reloadTlsOnSighup([http.server as unknown as HttpsServer, ...(wsServer ? [wsServer as HttpsServer] : [])], config, {
    info: (msg) => logger.info(msg),
    error: (msg) => logger.error(msg),
  });

  monitor.start();
  const heartbeat = config.heartbeatUrl
    ? new Heartbeat({ url: config.heartbeatUrl, intervalMs: config.heartbeatIntervalMs, problems: async () => (await report()).problems, logger })
    : null;
  heartbeat?.start();
  logger.info({ http: httpUrl, ws: wsUrl, database: config.databaseUrl ? redactedUrl(config.databaseUrl) : config.databasePath, targets: stored.length }, 'SpO₂ started');
  for (const note of securityNotes(config)) logger[note.level](note.msg);

  let stopping: Promise<void> | null = null;
  return {
    config, httpUrl, wsUrl, bus, monitor, registry,
    stop: () => (stopping ??= (async () => {
      // First: a stopping SpO₂ is not well, the dead-man's switch must not hear otherwise.
      const heartbeatStopped = heartbeat?.stop();
      stopTlsReload();
      resolver.cancel(); // lookups in flight end now rather than at their deadline
      // Side by side, not one after another: the whole stop must fit in the CLI's deadline.
      // The monitor stops first (synchronously), so the probes aborted below are dropped.
      await Promise.all([
        monitor.stop(),
        hub.close(),
        http.close(),
        wsServer && new Promise<void>((resolve) => { wsServer!.closeAllConnections(); wsServer!.close(() => resolve()); }),
        notifier.stop(),
        agent.destroy(), // probes still in flight end now
        heartbeatStopped,
      ]);
      await store.close();
      logger.info('SpO₂ stopped');
    })()),
  };
}

/** The engine: PostgreSQL when DATABASE_URL is set, else the SQLite file at DATABASE_PATH. */
function openStore(config: Config, logger: Logger): Promise<Store> {
  const options = { logger, outboxLimit: config.outboxLimit };
  if (config.databaseUrl) return openPostgresStore(config.databaseUrl, options);
  return Promise.resolve(new SqliteStore(config.databasePath, options));
}

/**
 * Wires WebSocket upgrades of a server to a handler; other upgrade requests are refused.
 * Upgrades bypass Fastify's hooks, so `auth` (the same credentials as the API) is checked here.
 */
export function onUpgrade(server: Server | HttpsServer, accept: (req: IncomingMessage) => boolean, handle: (req: IncomingMessage, socket: Duplex, head: Buffer) => void, auth: Authenticator): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node takes its own error listener off an upgraded socket: a reset during the auth
    // check (or after a refusal) must not become an uncaught exception.
    socket.on('error', () => socket.destroy());
    if (!accept(req)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    authorizeUpgrade(auth, req, socket).then((ok) => { if (ok) handle(req, socket, head); }, () => socket.destroy());
  });
}

/** A listen error that says which setting to change (`EADDRINUSE` alone names no variable). */
async function named(variable: string, addr: ListenAddr, listening: Promise<unknown>): Promise<void> {
  try {
    await listening;
  } catch (err) {
    throw new Error(`cannot listen on ${variable}=${addr.host}:${addr.port}: ${(err as Error).message}`);
  }
}

function listen(server: Server | HttpsServer, addr: ListenAddr): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function urlOf(scheme: string, server: Server | HttpsServer): string {
  const address = server.address();
  if (address === null || typeof address === 'string') return `${scheme}://${address}`;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}
