/**
 * A/B of two builds in one session: the same target servers, builds run alternately
 * (A B B A A B …), each for one steady window, CPU per probe of each; a floor at both ends.
 *   AB_A=path/to/bin/spo2.js AB_B=bin/spo2.js AB_N=5000 AB_ORIGINS=500 AB_WINDOW=20 AB_ROUNDS=3
 * Two engines instead of two builds: AB_A_DB / AB_B_DB = sqlite (default) or postgres (a
 * fresh throwaway cluster per run), e.g. AB_A=bin/spo2.js AB_B=bin/spo2.js AB_B_DB=postgres.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBenchDatabase, type Engine } from './database.js';
import { Child, cpuMs, freePort, sleep, waitHealthy } from './procs.js';
import { register } from './register.js';
import type { WindowStats } from './targets.js';

const N = Number(process.env.AB_N ?? 5000);
const origins = Number(process.env.AB_ORIGINS ?? Math.min(N, 500));
const windowS = Number(process.env.AB_WINDOW ?? 20);
const rounds = Number(process.env.AB_ROUNDS ?? 3);
const intervalMs = 3000;
const builds: Record<string, string> = { A: process.env.AB_A!, B: process.env.AB_B! };
const engines: Record<string, Engine> = { A: (process.env.AB_A_DB ?? 'sqlite') as Engine, B: (process.env.AB_B_DB ?? 'sqlite') as Engine };
const targetUrl = (ports: number[], i: number) => `http://127.0.0.1:${ports[i % ports.length]}/t/${i}`;

async function window(targets: Child, pid: number): Promise<{ us: number; rate: number; conns: number }> {
  await targets.call({ cmd: 'window' });
  const c0 = cpuMs(pid);
  await sleep(windowS * 1000);
  const cpu = cpuMs(pid) - c0;
  const s = await targets.call<WindowStats>({ cmd: 'stats', n: N });
  return { us: (cpu * 1000) / s.hits, rate: s.hits / ((N * s.windowMs) / intervalMs), conns: s.connections / s.hits };
}

async function floor(targets: Child, ports: number[]) {
  const f = new Child('floor.ts');
  try {
    const ready = new Promise<void>((r) => f.proc.once('message', () => r()));
    f.proc.send({ cmd: 'start', args: { ports, n: N, intervalMs } });
    await ready;
    await sleep(intervalMs + 2000);
    return await window(targets, f.proc.pid!);
  } finally {
    await f.stop();
    await targets.call({ cmd: 'clear' });
  }
}

async function runBuild(targets: Child, ports: number[], bin: string, engine: Engine) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'spo2-ab-'));
  const db = await openBenchDatabase(engine, dir);
  const proc = spawn(process.execPath, [bin, 'serve'], {
    env: { PATH: process.env.PATH ?? '', HTTP_LISTEN_ADDR: `127.0.0.1:${port}`, WS_LISTEN_ADDR: 'off', SPO2_LOG_LEVEL: 'warn', ...db.env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  try {
    await waitHealthy(`http://127.0.0.1:${port}`, performance.now(), 30_000, proc);
    await register(`http://127.0.0.1:${port}`, Array.from({ length: N }, (_, i) => targetUrl(ports, i)), 64);
    await sleep(intervalMs + 2000);
    return await window(targets, proc.pid!);
  } finally {
    proc.kill('SIGTERM');
    await exited;
    await db.close();
    await targets.call({ cmd: 'clear' });
  }
}

const targets = new Child('targets.ts');
try {
  const ports = await targets.call<number[]>({ cmd: 'start', origins });
  const fmt = (r: { us: number; rate: number; conns: number }) => `${r.us.toFixed(1)} µs/probe, rate ${(r.rate * 100).toFixed(2)} %, new conns/probe ${r.conns.toFixed(4)}`;
  console.log(`N=${N} origins=${origins} window=${windowS}s A=${builds.A} (${engines.A}) B=${builds.B} (${engines.B})`);
  console.log(`floor: ${fmt(await floor(targets, ports))}`);
  const all: Record<string, number[]> = { A: [], B: [] };
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
      const res = await runBuild(targets, ports, builds[name]!, engines[name]!);
      all[name]!.push(res.us);
      console.log(`round ${r + 1} ${name}: ${fmt(res)}`);
    }
  }
  console.log(`floor: ${fmt(await floor(targets, ports))}`);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  console.log(`mean A ${mean(all.A!).toFixed(1)} µs, B ${mean(all.B!).toFixed(1)} µs, B/A ${(mean(all.B!) / mean(all.A!)).toFixed(3)}`);
} finally {
  await targets.stop();
}
