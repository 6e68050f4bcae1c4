import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { type TargetChange, type TargetValue, toMessage } from '../core/target.js';
import type { EventBus } from '../events.js';

export interface WsHubOptions {
  bus: EventBus;
  /**
   * A live view of every target, oldest registration (lowest id) first, read a slice at a
   * time while a client's snapshot streams: targets added meanwhile are read too, removed
   * ones are skipped (a Map's iterator does exactly this).
   */
  snapshot: () => Iterable<TargetValue>;
  logger: Logger;
  /** More clients than this at once are refused (503). Default 1000. */
  maxClients?: number;
  /** Unsent change bytes all clients together may hold; each gets an equal share. Default 64 MiB. */
  maxTotalBufferedBytes?: number;
  /** The most one client's share can be, however few clients there are. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** A client that does not answer a ping within this period is dropped. Default 30 s. */
  pingIntervalMs?: number;
}

/** Where a client's snapshot stands while it streams. */
interface Streaming {
  rest: Iterator<TargetValue>;
  /** The target read ahead of the slice just written: whether it exists says if that slice's last message ends the snapshot. */
  ahead: IteratorResult<TargetValue> | null;
  /** Highest id sent so far: changes of targets up to it are news to the client, later ones go out with the snapshot. */
  sentUpTo: number;
  /** Changes of already-sent targets, written right after the snapshot so the stream stays "snapshot, then changes". */
  held: Array<{ url: string; frame: Buffer }>;
  heldBytes: number;
}

interface Client {
  ws: WebSocket;
  /** The upgraded socket, corked around each slice: one writev per slice instead of one write per target. */
  socket: Duplex;
  /** Answered the last ping. */
  alive: boolean;
  /** null once the whole snapshot is written: from then on every change is sent at once. */
  streaming: Streaming | null;
}

/** Clients only listen; what they send is ignored, so a tiny frame limit is plenty. */
const MAX_CLIENT_PAYLOAD = 4096;

/**
 * How much snapshot a client is given at a time: the next slice is serialized only once
 * this one has left for the kernel, so a client that does not read holds one slice, not
 * the whole snapshot (at 10,000 targets ~4.5 MB, at 100,000 ten times that, per client).
 */
const SNAPSHOT_SLICE_BYTES = 32 * 1024;

/** Refusals over the client limit are logged at most this often (a reconnect storm would flood the log). */
const REFUSAL_LOG_EVERY_MS = 10_000;

/**
 * Streams target changes to WebSocket clients: on connect every target (event `snapshot`),
 * then every `change` of the bus in order. One bus listener fans out to every client, and
 * each change is serialized once and shared. Memory is bounded: at most `maxClients`
 * clients, each holding one snapshot slice and its share of unsent changes.
 */
export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_PAYLOAD, perMessageDeflate: false, clientTracking: false });
  private readonly clients = new Set<Client>();
  private readonly bus: EventBus;
  private readonly snapshot: () => Iterable<TargetValue>;
  private readonly logger: Logger;
  private readonly maxClients: number;
  private readonly maxTotalBufferedBytes: number;
  private readonly maxBufferedBytes: number;
  private readonly pinger: NodeJS.Timeout;
  private readonly onChange = (change: TargetChange) => this.broadcast(change);
  private refused = 0;
  private refusalLoggedAt = -Infinity;
  private closed = false;

  constructor(options: WsHubOptions) {
    this.bus = options.bus;
    this.snapshot = options.snapshot;
    this.logger = options.logger;
    this.maxClients = options.maxClients ?? 1000;
    this.maxTotalBufferedBytes = options.maxTotalBufferedBytes ?? 64 * 1024 * 1024;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.bus.on('change', this.onChange);
    this.pinger = setInterval(() => this.pingAll(), options.pingIntervalMs ?? 30_000);
    this.pinger.unref();
  }

  /** Accepts an HTTP upgrade from any http/https server. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) return refuse(socket);
    // The handshake completes (or fails) synchronously: the set's size is the true count.
    if (this.clients.size >= this.maxClients) {
      this.noteRefusal();
      return refuse(socket);
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
      (client) =>
        new Promise<void>((resolve) => {
          const { ws } = client;
          this.stopStreaming(client);
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
    const rest = this.snapshot()[Symbol.iterator]();
    const client: Client = { ws, socket, alive: true, streaming: { rest, ahead: null, sentUpTo: -Infinity, held: [], heldBytes: 0 } };
    ws.on('pong', () => (client.alive = true));
    ws.on('message', () => {}); // listen-only protocol
    ws.on('error', (err) => this.logger.debug({ err }, 'websocket client error'));
    ws.on('close', () => {
      this.stopStreaming(client);
      this.clients.delete(client);
    });
    // Subscribed and the first slice written in the same synchronous turn: no change can
    // fall between. Later slices follow as the socket drains; changes meanwhile are handled
    // in broadcast() by where the snapshot stands.
    this.clients.add(client);
    this.streamSlice(client);
  }

  /** Writes the next slice of a client's snapshot; the next one follows once it has left. */
  private streamSlice(client: Client): void {
    const { ws, socket, streaming } = client;
    if (!streaming || ws.readyState !== WebSocket.OPEN) return;
    const frames: Buffer[] = [];
    let bytes = 0;
    // One target is read ahead, so the last snapshot message can say it is the last
    // (`snapshotEnd: true`): a dashboard then draws at once instead of waiting for a pause.
    // The target read ahead counts as sent: a change of it meanwhile is held for after the
    // snapshot, like any change of a target already written.
    let next = streaming.ahead ?? this.readAhead(streaming);
    while (!next.done && bytes < SNAPSHOT_SLICE_BYTES) {
      const value = next.value;
      next = this.readAhead(streaming);
      const message = next.done ? { ...toMessage({ kind: 'snapshot', value }), snapshotEnd: true } : toMessage({ kind: 'snapshot', value });
      const frame = Buffer.from(JSON.stringify(message));
      frames.push(frame);
      bytes += frame.length;
    }
    streaming.ahead = next;
    if (next.done) {
      // The rest of the snapshot and the changes held back, in one turn: then live.
      client.streaming = null;
      socket.cork();
      for (const frame of frames) ws.send(frame, { binary: false });
      for (const { frame } of streaming.held) ws.send(frame, { binary: false });
      socket.uncork();
      return;
    }
    socket.cork();
    frames.forEach((frame, i) => {
      // Called once the slice has been handed to the kernel (with an error if the socket
      // closed); a client that does not read never calls it and so holds this slice only.
      // The next slice waits for the loop's next turn, so a fast client cannot monopolize it.
      const drained = i === frames.length - 1 ? (err?: Error) => { if (!err) setImmediate(() => this.streamSlice(client)); } : undefined;
      ws.send(frame, { binary: false }, drained);
    });
    socket.uncork();
  }

  private readAhead(streaming: Streaming): IteratorResult<TargetValue> {
    const next = streaming.rest.next();
    if (!next.done) streaming.sentUpTo = Math.max(streaming.sentUpTo, next.value.id);
    return next;
  }

  private stopStreaming(client: Client): void {
    client.streaming?.rest.return?.();
    client.streaming = null;
  }

  private broadcast(change: TargetChange): void {
    if (this.clients.size === 0) return;
    const frame = Buffer.from(JSON.stringify(toMessage(change)));
    // Shares shrink as clients come: together they never hold much more than the total.
    const share = Math.min(this.maxBufferedBytes, this.maxTotalBufferedBytes / this.clients.size);
    for (const client of this.clients) {
      const { ws, streaming } = client;
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (streaming) {
        // A target not sent yet (or added since) goes out with its current value in a
        // later slice; a removed one is no longer in the view. Only news about targets
        // the client already has is held for after the snapshot.
        if (change.value.id > streaming.sentUpTo) {
          // A URL removed after it was sent and registered again (a new id, at the end of
          // the view): the snapshot brings it back, so what was held about its earlier
          // life (its removal above all) must not follow and take it away again.
          if (change.kind === 'added') this.forgetHeld(streaming, change.value.url);
          continue;
        }
        if (streaming.heldBytes > share) {
          this.drop(client, 'slow', streaming.heldBytes);
          continue;
        }
        streaming.held.push({ url: change.value.url, frame });
        streaming.heldBytes += frame.length;
        continue;
      }
      // The check comes before the send: one change always fits, however big.
      if (ws.bufferedAmount > share) {
        this.drop(client, 'slow', ws.bufferedAmount);
        continue;
      }
      ws.send(frame, { binary: false });
    }
  }

  private forgetHeld(streaming: Streaming, url: string): void {
    if (!streaming.held.some((h) => h.url === url)) return;
    streaming.held = streaming.held.filter((h) => {
      if (h.url !== url) return true;
      streaming.heldBytes -= h.frame.length;
      return false;
    });
  }

  private pingAll(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        this.drop(client, 'no pong', client.ws.bufferedAmount);
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }

  /** Drops a client at once: it reconnects and resyncs from a fresh snapshot. */
  private drop(client: Client, why: string, buffered: number): void {
    this.logger.info({ why, buffered }, 'dropping websocket client');
    this.stopStreaming(client);
    this.clients.delete(client);
    client.ws.terminate();
  }

  private noteRefusal(): void {
    this.refused++;
    const now = Date.now();
    if (now - this.refusalLoggedAt < REFUSAL_LOG_EVERY_MS) return;
    this.refusalLoggedAt = now;
    this.logger.warn({ refused: this.refused, clients: this.clients.size, maxClients: this.maxClients }, 'refusing websocket clients over SPO2_WS_MAX_CLIENTS');
    this.refused = 0;
  }
}

/** 503 before the handshake: the client retries later, as it would after any refusal. */
function refuse(socket: Duplex): void {
  socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 10\r\nContent-Length: 0\r\n\r\n');
}
