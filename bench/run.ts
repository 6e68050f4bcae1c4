/**
 * `npm run bench`: SpO₂ against local target servers on one machine. See docs/performance.md.
 *
 *   BENCH_N / --n N               targets (default 10000; quick mode 1000)
 *   BENCH_DURATION / --duration S steady window in seconds (default 60; quick mode 10)
 *   BENCH_ORIGINS / --origins K   target server ports (default min(N, 1000))
 *   BENCH_INTERVAL / --interval   SPO2_INTERVAL (default 3s)
 *   BENCH_QUICK=1 / --quick       small and short (~30-40 s)
 *   BENCH_LIMIT=1 / --limit       then add targets in steps of BENCH_LIMIT_STEP (default 5000)
 *                                 until the probe rate drops below 99 % (or BENCH_LIMIT_MAX)
 *   BENCH_PROFILE=1 / --profile   SpO₂ runs with --cpu-prof; the profile lands in bench/results/
 *   SPO2_*                        passed to SpO₂ as they are (SPO2_CONCURRENCY, SPO2_FLUSH_INTERVAL...)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../src/core/duration.js';
import { option } from './options.js';
import { Child, cpuMs, freePort, machineBusyMs, rssBytes, sleep, spawnSpo2, waitHealthy, type Spo2Process } from './procs.js';
import { register } from './register.js';
import { burstiness, check, info, mb, ms, pct, perSec, ratio, summarize, table, us, type Row } from './stats.js';
import type { Coverage, WindowStats } from './targets.js';
import { measureFailureEvents, type WsResult } from './wsprobe.js';

const RESULTS = new URL('./results/', import.meta.url).pathname;

const quick = option('quick', 'BENCH_QUICK') === '1';
const N = Number(option('n', 'BENCH_N') ?? (quick ? 1000 : 10_000));
const windowS = Number(option('duration', 'BENCH_DURATION') ?? (quick ? 10 : 60));
const origins = Number(option('origins', 'BENCH_ORIGINS') ?? Math.min(N, 1000));
const intervalText = option('interval', 'BENCH_INTERVAL') ?? '3s';
const intervalMs = parseDuration(intervalText) ?? 3000;
const limit = option('limit', 'BENCH_LIMIT') === '1';
const limitStep = Number(process.env.BENCH_LIMIT_STEP ?? 5000);
const limitMax = Number(process.env.BENCH_LIMIT_MAX ?? 60_000);
const profile = option('profile', 'BENCH_PROFILE') === '1';
const concurrency = process.env.SPO2_CONCURRENCY;

const targetUrl = (ports: number[], i: number) => `http://127.0.0.1:${ports[i % ports.length]}/t/${i}`;

interface Steady {
  n: number;
  expected: number;
  achieved: number;
  rate: number;
  gap: ReturnType<typeof summarize>;
  unprobed: number;
  connections: number;
  cpuMs: number;
  cpuPerProbeUs: number;
  /** Share of one core. */
  cpuCores: number;
  /** Cores busy with everything else on the machine (not SpO₂ or the floor, not the target servers). */
  otherCores: number;
  rssMaxBytes: number;
}

/** Measures one steady window of whatever process `pid` is, as seen by the target servers. */
async function steadyWindow(targets: Child, pid: number, n: number, seconds: number): Promise<Steady> {
  await targets.call({ cmd: 'window' });
  const cpu0 = cpuMs(pid);
  const helpers = [targets.proc.pid!, process.pid];
  const helpers0 = helpers.reduce((a, p) => a + cpuMs(p), 0);
  const busy0 = machineBusyMs();
  const t0 = performance.now();
  let rssMax = 0;
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    rssMax = Math.max(rssMax, rssBytes(pid));
    await sleep(Math.min(1000, end - performance.now()));
  }
  const cpu = cpuMs(pid) - cpu0;
  const others = machineBusyMs() - busy0 - cpu - (helpers.reduce((a, p) => a + cpuMs(p), 0) - helpers0);
  const stats = await targets.call<WindowStats>({ cmd: 'stats', n });
  rssMax = Math.max(rssMax, rssBytes(pid));
  const expected = (n * stats.windowMs) / intervalMs;
  return {
    n, expected: Math.round(expected), achieved: stats.hits, rate: stats.hits / expected, gap: summarize(stats.gaps),
    unprobed: stats.unprobed, connections: stats.connections, cpuMs: cpu, cpuPerProbeUs: (cpu * 1000) / stats.hits, cpuCores: cpu / stats.windowMs, otherCores: Math.max(0, others / stats.windowMs), rssMaxBytes: rssMax,
  };
}

async function floorPhase(targets: Child, ports: number[]): Promise<Steady> {
  const floor = new Child('floor.ts');
  try {
    const ready = new Promise<void>((resolve) => floor.proc.once('message', () => resolve()));
    floor.proc.send({ cmd: 'start', args: { ports, n: N, intervalMs } });
    await ready;
    await sleep(intervalMs + 2000); // every target probed once, connections open
    return await steadyWindow(targets, floor.proc.pid!, N, windowS);
  } finally {
    await floor.stop();
    await targets.call({ cmd: 'clear' });
  }
}

/** After a restart with N stored targets: when the API answers and when every target was probed. */
async function restartPhase(targets: Child, spo2: Spo2Process, env: Record<string, string>, port: number): Promise<{ spo2: Spo2Process; apiMs: number; allProbedMs: number | null; firstToLastMs: number | null; burst: number; restored: number }> {
  await spo2.stop();
  await targets.call({ cmd: 'mark' });
  const t0 = performance.now();
  const again = spawnSpo2(env, port);
  const apiMs = await waitHealthy(again.base, t0, 30_000, again.proc);
  const restored = ((await (await fetch(`${again.base}/healthz`)).json()) as { targets: number }).targets;
  let cov: Coverage = { covered: 0, allAfterMs: null, firstHits: [] };
  const deadline = performance.now() + 3 * intervalMs + 5000;
  while (performance.now() < deadline) {
    cov = await targets.call<Coverage>({ cmd: 'coverage', n: N });
    if (cov.allAfterMs !== null) break;
    await sleep(100);
  }
  const first = cov.firstHits.length ? Math.min(...cov.firstHits) : NaN;
  return {
    spo2: again, apiMs, restored, allProbedMs: cov.allAfterMs,
    firstToLastMs: cov.allAfterMs === null ? null : cov.allAfterMs - first,
    burst: burstiness(cov.firstHits, first, intervalMs, 30),
  };
}

const noGaps = ({ gap, ...rest }: Steady) => ({ ...rest, period: gap });

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'spo2-bench-'));
  const started = new Date();
  const targets = new Child('targets.ts');
  let spo2: Spo2Process | null = null;
  const log = (s: string) => process.stderr.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${s}\n`);
  try {
    const ports = await targets.call<number[]>({ cmd: 'start', origins });
    log(`${origins} target origins up; N=${N}, interval ${intervalMs} ms, window ${windowS} s`);

    log('floor: bare undici loop');
    const floor = await floorPhase(targets, ports);
    log(`floor: ${floor.achieved} probes, ${us(floor.cpuPerProbeUs)}/probe`);

    const port = await freePort();
    const env: Record<string, string> = { DATABASE_PATH: join(dir, 'spo2.db'), SPO2_INTERVAL: intervalText };
    // Any SPO2_* setting of the bench's environment goes to SpO₂ (e.g. SPO2_CONCURRENCY).
    for (const [k, v] of Object.entries(process.env)) if (k.startsWith('SPO2_') && k !== 'SPO2_INTERVAL' && v !== undefined) env[k] = v;
    const t0 = performance.now();
    spo2 = spawnSpo2(env, port, profile ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS}`] : []);
    const coldApiMs = await waitHealthy(spo2.base, t0, 30_000, spo2.proc);

    log('registering');
    const reg = await register(spo2.base, Array.from({ length: N }, (_, i) => targetUrl(ports, i)), 64);
    log(`registered ${reg.ok}/${N} at ${perSec(reg.perSecond)} (${reg.failed} failed)`);
    await sleep(intervalMs + 2000);

    log('steady window');
    const steady = await steadyWindow(targets, spo2.pid, N, windowS);
    log(`spo2: ${steady.achieved}/${steady.expected} probes, ${us(steady.cpuPerProbeUs)}/probe`);

    log('failure → WebSocket event');
    const ws: WsResult = await measureFailureEvents({ base: spo2.base, targets, n: N, ports, urlOf: targetUrl, count: 50, timeoutMs: 15 * 1000 + 10 * intervalMs });
    log(ws.wired ? `${ws.latencies.length} events` : `WebSocket not measured: ${ws.note}`);

    log('restart');
    const restart = await restartPhase(targets, spo2, env, port);
    spo2 = restart.spo2;
    log(`API after ${ms(restart.apiMs)}, all probed after ${restart.allProbedMs === null ? 'never' : ms(restart.allProbedMs)}`);

    const steps: Steady[] = [];
    if (limit) {
      await sleep(intervalMs + 2000);
      for (let n = N + limitStep; n <= limitMax; n += limitStep) {
        const more = await register(spo2.base, Array.from({ length: limitStep }, (_, k) => targetUrl(ports, n - limitStep + k)), 64);
        await sleep(intervalMs + 3000);
        const s = await steadyWindow(targets, spo2.pid, n, Math.max(15, (5 * intervalMs) / 1000));
        steps.push(s);
        log(`limit: N=${n} (${more.ok} added) rate ${pct(s.rate)}, p99 period ${ms(s.gap.p99)}, ${us(s.cpuPerProbeUs)}/probe, ${(s.cpuCores * 100).toFixed(0)} % of a core, RSS ${mb(s.rssMaxBytes)}`);
        if (s.rate < 0.99) break;
      }
    }

    // The floor again, after SpO₂: the machine's load drifts (other work shares it), so
    // SpO₂'s window is compared with the mean of a floor before and a floor after.
    await spo2.stop();
    log('floor again');
    await targets.call({ cmd: 'clear' });
    const floorAfter = await floorPhase(targets, ports);
    const floorUs = (floor.cpuPerProbeUs + floorAfter.cpuPerProbeUs) / 2;
    log(`floor: ${floorAfter.achieved} probes, ${us(floorAfter.cpuPerProbeUs)}/probe`);

    const wsSummary = summarize(ws.latencies);
    const cpuRatio = steady.cpuPerProbeUs / floorUs;
    const rows: Row[] = [
      info('machine', `${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, node ${process.version}`),
      info('targets / origins / interval', `${N} / ${origins} / ${intervalMs} ms`),
      check('probes achieved / expected', steady.rate, pct, '>=', 0.99),
      info('probes in window', `${steady.achieved} of ${steady.expected} (${steady.unprobed} targets never probed)`),
      check('period p50', steady.gap.p50, ms, '<=', intervalMs * 1.1),
      check('period p99', steady.gap.p99, ms, '<=', intervalMs * 1.1),
      info('period max', ms(steady.gap.max)),
      check('CPU per probe ÷ floor', cpuRatio, ratio, '<=', 1.3),
      info('CPU per probe: spo2 / floor', `${us(steady.cpuPerProbeUs)} / ${us(floorUs)} (before ${us(floor.cpuPerProbeUs)}, after ${us(floorAfter.cpuPerProbeUs)})`),
      info('CPU: spo2 / floor', `${(steady.cpuCores * 100).toFixed(0)} % / ${(floor.cpuCores * 100).toFixed(0)} % of a core`),
      info('floor probes achieved', pct(floor.rate)),
      info('other load on the machine (cores)', `${steady.otherCores.toFixed(2)} during SpO₂, ${floor.otherCores.toFixed(2)} / ${floorAfter.otherCores.toFixed(2)} during the floors`),
      info('new connections per probe: spo2 / floor', `${(steady.connections / steady.achieved).toFixed(3)} / ${(floor.connections / floor.achieved).toFixed(3)}`),
      check('resident memory (max)', steady.rssMaxBytes, mb, '<=', 300 * 1024 * 1024),
      check('registrations (64 clients)', reg.perSecond, perSec, '>=', 2000),
      info('registration latency p50 / p99', `${ms(reg.latency.p50)} / ${ms(reg.latency.p99)}`),
      info('cold start: API answers', ms(coldApiMs)),
      check('restart: API answers', restart.apiMs, ms, '<=', 1000),
      info('restart: targets restored', `${restart.restored} of ${N}`),
      check('restart: all probed after spawn', restart.allProbedMs ?? Infinity, ms, '<=', restart.apiMs + intervalMs, `API + ${intervalMs} ms`),
      info('restart: first → last probe', restart.firstToLastMs === null ? 'not all' : ms(restart.firstToLastMs)),
      info('restart: busiest 100 ms ÷ mean', restart.burst.toFixed(2)),
      check('failure → WS event p99', ws.wired ? wsSummary.p99 : NaN, ms, '<=', 50),
      info('failure → WS event p50 / max', ws.wired ? `${ms(wsSummary.p50)} / ${ms(wsSummary.max)} (${ws.latencies.length} of ${ws.count})${ws.note ? `; ${ws.note}` : ''}` : ws.note),
      ...steps.map((s) => info(`limit N=${s.n}`, `${pct(s.rate)}, p99 ${ms(s.gap.p99)}, ${us(s.cpuPerProbeUs)}/probe, ${(s.cpuCores * 100).toFixed(0)} % core, ${mb(s.rssMaxBytes)}`)),
    ];
    console.log('\n' + table(rows) + '\n');

    const file = join(RESULTS, `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify({
      started: started.toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model.trim(), node: process.version },
      config: { n: N, origins, intervalMs, windowS, quick, concurrency: concurrency ?? 'default' },
      floor: noGaps(floor), floorAfter: noGaps(floorAfter), steady: noGaps(steady), cpuRatio,
      registration: { ...reg }, coldApiMs, restart: { ...restart, spo2: undefined },
      ws: { ...ws, summary: wsSummary }, limit: steps.map(noGaps),
    }, null, 2));
    log(`wrote ${file}`);
  } finally {
    await spo2?.stop();
    await targets.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
