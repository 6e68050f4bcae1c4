/**
 * The misbehaving services of the hostile soak (bench/hostile.ts), in a child process of
 * their own. One "shared" origin serves, side by side, healthy companions (`/ok/<i>`),
 * a slow but healthy population (`/slow/<i>`, 200 after `slowMs`) and bodies that never
 * end (`/sse/<i>`); other origins hang without a word, send huge bodies, or answer 503.
 * A stand-in for a revoked Slack hook answers 410 to everything. Hits of the healthy
 * paths are counted so the soak can tell their probe rate. Driven over IPC.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export type HostileRequest =
  | { id: number; cmd: 'start'; slowMs: number }
  | { id: number; cmd: 'window' }
  | { id: number; cmd: 'stats' };

export interface HostilePorts {
  shared: number;
  silent: number;
  huge: number;
  failing: number;
  revokedHook: number;
}

export interface HostileStats {
  /** Hits of the healthy paths (`/ok`, `/slow`) since the window started. */
  healthyHits: number;
  windowMs: number;
  /** Requests the revoked hook refused. */
  hookCalls: number;
  /** Endless bodies still streaming now. */
  streams: number;
}

let windowStart = performance.now();
let healthyHits = 0;
let hookCalls = 0;
const streams = new Set<ServerResponse>();
const servers: Array<Server | ReturnType<typeof createTcpServer>> = [];

function trickle(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  streams.add(res);
  const timer = setInterval(() => res.write('data: tick\n\n'), 200);
  res.on('close', () => {
    clearInterval(timer);
    streams.delete(res);
  });
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

async function start(slowMs: number): Promise<HostilePorts> {
  const shared = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path.startsWith('/sse/')) return trickle(res);
    if (path.startsWith('/ok/')) {
      healthyHits++;
      return res.end('ok');
    }
    if (path.startsWith('/slow/')) {
      healthyHits++;
      setTimeout(() => res.end('ok'), slowMs);
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  shared.keepAliveTimeout = 10_000;
  const open = new Set<Socket>();
  const silent = createTcpServer((s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => s.destroy());
  });
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const huge = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(512 * chunk.length) });
    let sent = 0;
    const pump = () => {
      while (sent < 512 && res.write(chunk)) sent++;
      if (sent >= 512) res.end();
    };
    res.on('drain', pump);
    res.on('error', () => {});
    pump();
  });
  const failing = createServer((_req, res) => {
    res.statusCode = 503;
    res.end('down');
  });
  const revokedHook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hookCalls++;
      res.statusCode = 410;
      res.end('no_service');
    });
  });
  return {
    shared: await listen(shared), silent: await listen(silent), huge: await listen(huge),
    failing: await listen(failing), revokedHook: await listen(revokedHook),
  };
}

process.on('message', (msg: HostileRequest) => {
  const reply = (result: unknown) => process.send!({ id: msg.id, result });
  switch (msg.cmd) {
    case 'start':
      start(msg.slowMs).then(reply, (err: unknown) => process.send!({ id: msg.id, error: String(err) }));
      return;
    case 'window':
      windowStart = performance.now();
      healthyHits = 0;
      return reply(null);
    case 'stats': {
      const stats: HostileStats = { healthyHits, windowMs: performance.now() - windowStart, hookCalls, streams: streams.size };
      return reply(stats);
    }
  }
});
process.on('disconnect', () => process.exit(0));
