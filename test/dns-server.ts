/**
 * A tiny DNS server for tests and benchmarks, speaking the real wire format (RFC 1035) over
 * UDP on a loopback address: names under `good.test` get an A record, names under `bad.test`
 * are never answered (a black hole, like a firewalled or dead DNS server), anything else is
 * NXDOMAIN. Point a resolv.conf at it inside a private mount namespace (see dns.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';

export interface DnsServerOptions {
  /** Loopback address to bind on port 53; default: a random one in 127.53.0.0/16. */
  host?: string;
  port?: number;
  /** The address every good name resolves to. */
  address?: string;
  /** TTL of the answers, in seconds. */
  ttl?: number;
  /** Suffixes answered with `address` (default `good.test`). */
  good?: string[];
  /** Suffixes never answered (default `bad.test`). */
  bad?: string[];
}

export interface DnsServer {
  host: string;
  port: number;
  /** Every question received, as `NAME TYPE` (`a.good.test A`), in order. */
  queries: string[];
  close(): Promise<void>;
}

const TYPE_NAMES: Record<number, string> = { 1: 'A', 28: 'AAAA' };

/** Starts the responder; binds port 53 (needs root) unless `port` says otherwise. */
export async function startDnsServer(options: DnsServerOptions = {}): Promise<DnsServer> {
  const port = options.port ?? 53;
  const good = (options.good ?? ['good.test']).map((s) => s.toLowerCase());
  const bad = (options.bad ?? ['bad.test']).map((s) => s.toLowerCase());
  const address = (options.address ?? '127.0.0.1').split('.').map(Number);
  const ttl = options.ttl ?? 30;
  const queries: string[] = [];
  const under = (name: string, suffixes: string[]) => suffixes.some((s) => name === s || name.endsWith('.' + s));

  const socket = await bindLoopback(options.host, port);
  socket.on('message', (msg, rinfo) => {
    const question = parseQuestion(msg);
    if (question === null) return; // not a query we understand: a real server would send FORMERR
    const { name, type, end } = question;
    queries.push(`${name} ${TYPE_NAMES[type] ?? type}`);
    if (under(name, bad)) return; // the black hole
    let answer: Buffer | null = null;
    let rcode = 0;
    if (!under(name, good)) rcode = 3; // NXDOMAIN
    else if (type === 1) answer = aRecord(address, ttl);
    // AAAA (or any other type) of a good name: NOERROR with no answer (NODATA)
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8180 | rcode, 2); // QR, RD, RA + rcode
    header.writeUInt16BE(1, 4); // one question, echoed back
    header.writeUInt16BE(answer ? 1 : 0, 6);
    socket.send(Buffer.concat([header, msg.subarray(12, end), ...(answer ? [answer] : [])]), rinfo.port, rinfo.address);
  });
  const bound = socket.address();
  return {
    host: bound.address,
    port: bound.port,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** Binds `host`, or a random 127.53.x.y (so parallel test runs do not collide), on `port`. */
async function bindLoopback(host: string | undefined, port: number): Promise<Socket> {
  for (let attempt = 0; ; attempt++) {
    const candidate = host ?? `127.53.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`;
    const socket = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, candidate, () => { socket.off('error', reject); resolve(); });
      });
      return socket;
    } catch (err) {
      socket.close();
      if (host !== undefined || attempt >= 10 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

/** The first question of a query: its name (lower case), type and where it ends. */
function parseQuestion(msg: Buffer): { name: string; type: number; end: number } | null {
  if (msg.length < 12 || (msg[2]! & 0x80) !== 0 || msg.readUInt16BE(4) < 1) return null;
  const labels: string[] = [];
  let at = 12;
  while (at < msg.length) {
    const len = msg[at]!;
    if (len === 0) break;
    if (len > 63) return null; // compression in a question: not sent by resolvers
    labels.push(msg.toString('latin1', at + 1, at + 1 + len));
    at += 1 + len;
  }
  if (at + 5 > msg.length) return null;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(at + 1), end: at + 5 };
}

/** One A record for the question's name (a pointer to offset 12). */
function aRecord(address: number[], ttl: number): Buffer {
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
  rr.writeUInt16BE(1, 2); // type A
  rr.writeUInt16BE(1, 4); // class IN
  rr.writeUInt32BE(ttl, 6);
  rr.writeUInt16BE(4, 10);
  for (let i = 0; i < 4; i++) rr[12 + i] = address[i]!;
  return rr;
}

/** Can this process give a child a private mount namespace (root and `unshare`), for a resolv.conf of its own? */
export function canUnshare(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('unshare', ['-m', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
