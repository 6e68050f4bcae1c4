/**
 * The services SpO₂ watches, in a child process of their own so their CPU is not counted
 * as SpO₂'s: `origins` HTTP servers on loopback ports; target i is `GET /t/<i>` on port
 * `ports[i % origins]`. It records when each target is hit, and answers 503 for the
 * targets told to fail. Driven over IPC by bench/run.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monoMs } from './procs.js';

export type TargetsRequest =
  | { id: number; cmd: 'start'; origins: number }
  /** Forget every hit: a new phase (floor, then SpO₂) starts from nothing. */
  | { id: number; cmd: 'clear' }
  /** Start a measurement window: count hits and gaps from now on. */
  | { id: number; cmd: 'window' }
  | { id: number; cmd: 'stats'; n: number }
  /** Start watching which of targets 0..n-1 are hit from now on (after a restart). */
  | { id: number; cmd: 'mark' }
  | { id: number; cmd: 'coverage'; n: number }
  | { id: number; cmd: 'fail'; targets: number[] }
  | { id: number; cmd: 'heal'; targets: number[] }
  | { id: number; cmd: 'failTimes'; target: number };

export interface WindowStats {
  hits: number;
  windowMs: number;
  /** Gaps between two hits of one target inside the window, ms. */
  gaps: number[];
  /** Targets among 0..n-1 with no hit at all in the window. */
  unprobed: number;
  /** TCP connections accepted in the window: keep-alive at work when far below `hits`. */
  connections: number;
}

export interface Coverage {
  covered: number;
  /** ms after the mark when the last of the n targets was first hit; null until all are. */
  allAfterMs: number | null;
  /** First-hit times after the mark, ms, for the spread. */
  firstHits: number[];
}

let lastHit = new Float64Array(1024); // performance.now() of the latest hit, 0 = never
let hitsInWindow = new Uint32Array(1024);
let firstAfterMark = new Float64Array(1024);
let gaps = new Float64Array(1 << 16);
let gapCount = 0;
let windowStart = -1;
let windowHits = 0;
let windowConnections = 0;
let markAt = -1;
const failing = new Set<number>();
/** Wall-clock times (epoch ms, sub-ms) of the failing answers, per failing target. */
const failTimes = new Map<number, number[]>();
const servers: Server[] = [];

function grow(i: number): void {
  if (i < lastHit.length) return;
  let size = lastHit.length;
  while (size <= i) size *= 2;
  const g = <T extends Float64Array | Uint32Array>(a: T, make: (n: number) => T): T => {
    const b = make(size);
    b.set(a);
    return b;
  };
  lastHit = g(lastHit, (n) => new Float64Array(n));
  hitsInWindow = g(hitsInWindow, (n) => new Uint32Array(n));
  firstAfterMark = g(firstAfterMark, (n) => new Float64Array(n));
}

function hit(i: number): void {
  grow(i);
  const now = performance.now();
  if (windowStart >= 0) {
    windowHits++;
    hitsInWindow[i]!++;
    const prev = lastHit[i]!;
    if (prev >= windowStart) {
      if (gapCount === gaps.length) {
        const bigger = new Float64Array(gaps.length * 2);
        bigger.set(gaps);
        gaps = bigger;
      }
      gaps[gapCount++] = now - prev;
    }
  }
  if (markAt >= 0 && firstAfterMark[i] === 0) firstAfterMark[i] = now;
  lastHit[i] = now;
}

function onRequest(url: string): number {
  const i = url.startsWith('/t/') ? Number.parseInt(url.slice(3), 10) : NaN;
  if (!Number.isInteger(i) || i < 0) return 404;
  hit(i);
  if (failing.has(i)) {
    failTimes.get(i)!.push(monoMs());
    return 503;
  }
  return 200;
}

async function start(origins: number): Promise<number[]> {
  const ports: number[] = [];
  for (let k = 0; k < origins; k++) {
    const server = createServer((req, res) => {
      res.statusCode = onRequest(req.url ?? '/');
      res.end('ok');
    });
    server.on('connection', () => {
      if (windowStart >= 0) windowConnections++;
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    servers.push(server);
    ports.push((server.address() as AddressInfo).port);
  }
  return ports;
}

function handle(msg: TargetsRequest): unknown {
  switch (msg.cmd) {
    case 'clear':
      lastHit.fill(0);
      windowStart = -1;
      markAt = -1;
      return null;
    case 'window':
      windowStart = performance.now();
      windowHits = 0;
      windowConnections = 0;
      gapCount = 0;
      hitsInWindow.fill(0);
      return null;
    case 'stats': {
      let unprobed = 0;
      for (let i = 0; i < msg.n; i++) if (i >= hitsInWindow.length || hitsInWindow[i] === 0) unprobed++;
      const stats: WindowStats = { hits: windowHits, windowMs: performance.now() - windowStart, gaps: Array.from(gaps.subarray(0, gapCount)), unprobed, connections: windowConnections };
      windowStart = -1;
      return stats;
    }
    case 'mark':
      markAt = performance.now();
      firstAfterMark.fill(0);
      return null;
    case 'coverage': {
      grow(msg.n);
      let covered = 0;
      let last = 0;
      const firstHits: number[] = [];
      for (let i = 0; i < msg.n; i++) {
        const t = firstAfterMark[i]!;
        if (t === 0) continue;
        covered++;
        firstHits.push(t - markAt);
        last = Math.max(last, t - markAt);
      }
      const c: Coverage = { covered, allAfterMs: covered === msg.n ? last : null, firstHits: covered === msg.n ? firstHits : [] };
      return c;
    }
    case 'fail':
      for (const i of msg.targets) {
        failing.add(i);
        failTimes.set(i, []);
      }
      return null;
    case 'heal':
      for (const i of msg.targets) failing.delete(i);
      return null;
    case 'failTimes':
      return failTimes.get(msg.target) ?? [];
    default:
      return null;
  }
}

process.on('message', (msg: TargetsRequest) => {
  if (msg.cmd === 'start') {
    start(msg.origins).then(
      (ports) => process.send!({ id: msg.id, result: ports }),
      (err: unknown) => process.send!({ id: msg.id, error: String(err) }),
    );
    return;
  }
  process.send!({ id: msg.id, result: handle(msg) });
});
process.on('disconnect', () => process.exit(0));
