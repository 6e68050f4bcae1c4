import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { type TargetChange, type TargetValue, toMessage } from '../core/target.js';
import type { EventBus } from '../events.js';

export interface WsHubOptions {
  bus: EventBus;
  /** The current value of every target; called once per connecting client. */
  snapshot: () => TargetValue[];
  logger: Logger;
  /** A client whose unsent bytes pass this (beyond its snapshot) is dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** A client that does not answer a ping within this period is dropped. Default 30 s. */
  pingIntervalMs?: number;
}

interface Client {
  ws: WebSocket;
  /** Answered the last ping. */
  alive: boolean;
  /** Bytes of snapshot still queued: allowed on top of maxBufferedBytes until it drains. */
  snapshotBytes: number;
}

/** Clients only listen; what they send is ignored, so a tiny frame limit is plenty. */
const MAX_CLIENT_PAYLOAD = 4096;

/**
 * Streams target changes to WebSocket clients: on connect every target (event `snapshot`),
 * then every `change` of the bus in order. One bus listener fans out to every client, and
 * each message is serialized once and shared, so a thousand dashboards cost little more
 * than one.
 */
export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_PAYLOAD, perMessageDeflate: false, clientTracking: false });
  private readonly clients = new Set<Client>();
  private readonly bus: EventBus;
  private readonly snapshot: () => TargetValue[];
  private readonly logger: Logger;
  private readonly maxBufferedBytes: number;
  private readonly pinger: NodeJS.Timeout;
  private readonly onChange = (change: TargetChange) => this.broadcast(change);
  /** Snapshot frames shared by clients that connect in the same turn (a reconnect storm). */
  private snapshotCache: Buffer[] | null = null;
  private closed = false;

  constructor(options: WsHubOptions) {
    this.bus = options.bus;
    this.snapshot = options.snapshot;
    this.logger = options.logger;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.bus.on('change', this.onChange);
    this.pinger = setInterval(() => this.pingAll(), options.pingIntervalMs ?? 30_000);
    this.pinger.unref();
  }

  /** Accepts an HTTP upgrade from any http/https server. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket));
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Closes every client with 1001 (going away) and stops accepting new ones. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.bus.off('change', this.onChange);
    clearInterval(this.pinger);
    const closing = [...this.clients].map(
      ({ ws }) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close(1001, 'server shutting down');
          // A peer that never answers the close frame must not hold the shutdown.
          setTimeout(() => ws.terminate(), 500).unref();
        }),
    );
    await Promise.all(closing);
    this.wss.close();
  }

  private accept(ws: WebSocket, socket: Duplex): void {
    const client: Client = { ws, alive: true, snapshotBytes: 0 };
    ws.on('pong', () => (client.alive = true));
    ws.on('message', () => {}); // listen-only protocol
    ws.on('error', (err) => this.logger.debug({ err }, 'websocket client error'));
    ws.on('close', () => this.clients.delete(client));

    // Snapshot and subscription in the same synchronous turn: no change can fall between.
    const frames = this.snapshotFrames();
    socket.cork(); // one writev for the whole snapshot instead of one write per target
    frames.forEach((frame, i) => {
      // The last frame's callback fires once the whole snapshot has left user space.
      const drained = i === frames.length - 1 ? () => (client.snapshotBytes = 0) : undefined;
      ws.send(frame, { binary: false }, drained);
    });
    socket.uncork();
    if (frames.length > 0) client.snapshotBytes = ws.bufferedAmount;
    this.clients.add(client);
  }

  private snapshotFrames(): Buffer[] {
    if (this.snapshotCache) return this.snapshotCache;
    const frames = this.snapshot().map((value) => Buffer.from(JSON.stringify(toMessage({ kind: 'snapshot', value }))));
    this.snapshotCache = frames;
    // Values also change between events (latency, last check): share only within this turn.
    setImmediate(() => {
      if (this.snapshotCache === frames) this.snapshotCache = null;
    });
    return frames;
  }

  private broadcast(change: TargetChange): void {
    this.snapshotCache = null;
    if (this.clients.size === 0) return;
    const frame = Buffer.from(JSON.stringify(toMessage(change)));
    for (const client of this.clients) {
      const { ws } = client;
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (ws.bufferedAmount > this.maxBufferedBytes + client.snapshotBytes) {
        this.drop(client, 'slow');
        continue;
      }
      ws.send(frame, { binary: false });
    }
  }

  private pingAll(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        this.drop(client, 'no pong');
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }

  /** Drops a client at once: it reconnects and resyncs from a fresh snapshot. */
  private drop(client: Client, why: string): void {
    this.logger.info({ why, buffered: client.ws.bufferedAmount }, 'dropping websocket client');
    this.clients.delete(client);
    client.ws.terminate();
  }
}
