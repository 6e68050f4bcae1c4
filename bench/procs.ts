/** The processes of a benchmark run: SpO₂ as a user starts it, and the helper children. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { cpuTicksFromStat, familyFromStat, rssFromStatus } from './stats.js';

const ROOT = new URL('..', import.meta.url).pathname;
const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU time (user + system) of a process so far, ms. */
export function cpuMs(pid: number): number {
  return cpuTicksFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8')) * TICK_MS;
}

/**
 * CPU time so far of a server that works in child processes (PostgreSQL: the postmaster,
 * one backend per connection, the checkpointer, the WAL writer, autovacuum…), ms: its own,
 * its live children's, and what its children that exited had used (cutime/cstime). Read at
 * both ends of a window, the difference holds the work of children that came and went inside it.
 */
export function serverCpuMs(pid: number): number {
  const root = readFileSync(`/proc/${pid}/stat`, 'utf8');
  let ticks = cpuTicksFromStat(root) + familyFromStat(root).reapedTicks;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited since the listing: its CPU is in the parent's cutime now
    }
    if (familyFromStat(stat).ppid === pid) ticks += cpuTicksFromStat(stat);
  }
  return ticks * TICK_MS;
}

/** CPU time all processes of the machine spent busy so far, ms (from /proc/stat). */
export function machineBusyMs(): number {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const v = f.map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - v[3]! - v[4]!) * TICK_MS; // minus idle and iowait
}

export function rssBytes(pid: number): number {
  return rssFromStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/**
 * Milliseconds on CLOCK_MONOTONIC, which every process of this machine shares: times taken
 * in two processes compare directly. (`performance.timeOrigin + now()` does not: each
 * process fixes its own origin at start, and two origins can differ by milliseconds.)
 */
export const monoMs = () => Number(process.hrtime.bigint()) / 1e6;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A free loopback port, so a restarted SpO₂ comes back on the same address. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A helper child (bench/*.ts) answering `{id, ...}` requests over IPC. */
export class Child {
  readonly proc: ChildProcess;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(file: string) {
    this.proc = fork(join(ROOT, 'bench', file), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error));
      else p.resolve(msg.result);
    });
    this.proc.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error(`${file} exited`));
      this.pending.clear();
    });
  }

  call<T>(msg: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${String(msg.cmd)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.proc.send({ ...msg, id });
    });
  }

  stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGTERM');
    return exited;
  }
}

export interface Spo2Process {
  proc: ChildProcess;
  pid: number;
  base: string;
  stderr: () => string;
  /** SIGTERM and wait for the exit (bounded). */
  stop(): Promise<void>;
}

/**
 * `node bin/spo2.js serve` with env, as a user runs it; resolves once spawned. `prefix` runs
 * it through another command (`unshare … sh -c '…; exec "$0" "$@"'`), which must exec node.
 */
export function spawnSpo2(env: Record<string, string>, port: number, nodeArgs: string[] = [], prefix: string[] = []): Spo2Process {
  const command = [...prefix, process.execPath, ...nodeArgs, join(ROOT, 'bin', 'spo2.js'), 'serve'];
  const proc = spawn(command[0]!, command.slice(1), {
    env: { PATH: process.env.PATH ?? '', HTTP_LISTEN_ADDR: `127.0.0.1:${port}`, WS_LISTEN_ADDR: 'off', SPO2_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc, pid: proc.pid!, base: `http://127.0.0.1:${port}`, stderr: () => stderr,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `GET /healthz` until it answers 200; returns ms since `since` (performance.now()). */
export async function waitHealthy(base: string, since: number, timeoutMs: number, proc?: ChildProcess): Promise<number> {
  const deadline = since + timeoutMs;
  while (performance.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`spo2 exited with ${proc.exitCode}`);
    try {
      const res = await fetch(`${base}/healthz`);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - since;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  throw new Error(`spo2 did not answer /healthz within ${timeoutMs} ms`);
}
