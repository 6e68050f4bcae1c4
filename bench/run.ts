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
 *   BENCH_DB / --db               sqlite (default), postgres (a throwaway cluster, DATABASE_URL), or
 *                                 both: SQLite then PostgreSQL against the same target servers and floor
 *   SPO2_*                        passed to SpO₂ as they are (SPO2_CONCURRENCY, SPO2_FLUSH_INTERVAL...)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../src/core/duration.js';
import { option } from './options.js';
import { openBenchDatabase, type BenchDatabase, type Engine } from './database.js';
import { Child, cpuMs, freePort, machineBusyMs, rssBytes, sleep, spawnSpo2, waitHealthy, type Spo2Process } from './procs.js';
import { register, type Registration } from './register.js';
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
const dbChoice = option('db', 'BENCH_DB') ?? 'sqlite';
const ENGINES: Record<string, Engine[]> = { sqlite: ['sqlite'], postgres: ['postgres'], both: ['sqlite', 'postgres'] };

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
  /** The database server's own CPU (PostgreSQL); NaN when the database runs inside SpO₂ (SQLite). */
  dbCpuMs: number;
  dbCpuPerProbeUs: number;
  dbCores: number;
  /** Cores busy with everything else on the machine (not SpO₂ or the floor, not the target servers, not the database server). */
  otherCores: number;
  rssMaxBytes: number;
}

/** Measures one steady window of whatever process `pid` is (and of its database server), as seen by the target servers. */
async function steadyWindow(targets: Child, pid: number, n: number, seconds: number, dbCpu: (() => number) | null = null): Promise<Steady> {
  await targets.call({ cmd: 'window' });
  const cpu0 = cpuMs(pid);
  const db0 = dbCpu?.() ?? NaN;
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
  const db = (dbCpu?.() ?? NaN) - db0;
  const others = machineBusyMs() - busy0 - cpu - (Number.isNaN(db) ? 0 : db) - (helpers.reduce((a, p) => a + cpuMs(p), 0) - helpers0);
  const stats = await targets.call<WindowStats>({ cmd: 'stats', n });
  rssMax = Math.max(rssMax, rssBytes(pid));
  const expected = (n * stats.windowMs) / intervalMs;
  return {
    n, expected: Math.round(expected), achieved: stats.hits, rate: stats.hits / expected, gap: summarize(stats.gaps),
    unprobed: stats.unprobed, connections: stats.connections, cpuMs: cpu, cpuPerProbeUs: (cpu * 1000) / stats.hits, cpuCores: cpu / stats.windowMs,
    dbCpuMs: db, dbCpuPerProbeUs: (db * 1000) / stats.hits, dbCores: db / stats.windowMs, otherCores: Math.max(0, others / stats.windowMs), rssMaxBytes: rssMax,
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

type Restart = Awaited<ReturnType<typeof restartPhase>>;

/** One engine's run: SpO₂ on a fresh database, from registration to restart (and the limit sweep). */
interface EngineRun {
  db: BenchDatabase;
  coldApiMs: number;
  reg: Registration;
  steady: Steady;
  ws: WsResult;
  restart: Restart;
  steps: Steady[];
}

type Log = (s: string) => void;

async function engineRun(db: BenchDatabase, targets: Child, ports: number[], log: Log): Promise<EngineRun> {
  const port = await freePort();
  const env: Record<string, string> = { ...db.env, SPO2_INTERVAL: intervalText };
  // Any SPO2_* setting of the bench's environment goes to SpO₂ (e.g. SPO2_CONCURRENCY).
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('SPO2_') && k !== 'SPO2_INTERVAL' && v !== undefined) env[k] = v;
  const t0 = performance.now();
  let spo2 = spawnSpo2(env, port, profile ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS}`] : []);
  try {
    const coldApiMs = await waitHealthy(spo2.base, t0, 30_000, spo2.proc);

    log(`${db.engine}: registering`);
    const reg = await register(spo2.base, Array.from({ length: N }, (_, i) => targetUrl(ports, i)), 64);
    log(`${db.engine}: registered ${reg.ok}/${N} at ${perSec(reg.perSecond)} (${reg.failed} failed)`);
    await db.expectTargets(reg.ok);
    await sleep(intervalMs + 2000);

    log(`${db.engine}: steady window`);
    const steady = await steadyWindow(targets, spo2.pid, N, windowS, db.serverCpuMs);
    log(`${db.engine}: ${steady.achieved}/${steady.expected} probes, ${us(steady.cpuPerProbeUs)}/probe${db.serverCpuMs ? `, database server ${us(steady.dbCpuPerProbeUs)}/probe` : ''}`);

    log(`${db.engine}: failure → WebSocket event`);
    const ws = await measureFailureEvents({ base: spo2.base, targets, n: N, ports, urlOf: targetUrl, count: 50, timeoutMs: 15 * 1000 + 10 * intervalMs });
    log(ws.wired ? `${ws.latencies.length} events` : `WebSocket not measured: ${ws.note}`);

    log(`${db.engine}: restart`);
    const restart = await restartPhase(targets, spo2, env, port);
    spo2 = restart.spo2;
    log(`${db.engine}: API after ${ms(restart.apiMs)}, all probed after ${restart.allProbedMs === null ? 'never' : ms(restart.allProbedMs)}`);

    const steps: Steady[] = [];
    if (limit) {
      await sleep(intervalMs + 2000);
      for (let n = N + limitStep; n <= limitMax; n += limitStep) {
        const more = await register(spo2.base, Array.from({ length: limitStep }, (_, k) => targetUrl(ports, n - limitStep + k)), 64);
        await sleep(intervalMs + 3000);
        const s = await steadyWindow(targets, spo2.pid, n, Math.max(15, (5 * intervalMs) / 1000), db.serverCpuMs);
        steps.push(s);
        log(`limit: N=${n} (${more.ok} added) rate ${pct(s.rate)}, p99 period ${ms(s.gap.p99)}, ${us(s.cpuPerProbeUs)}/probe, ${(s.cpuCores * 100).toFixed(0)} % of a core, RSS ${mb(s.rssMaxBytes)}`);
        if (s.rate < 0.99) break;
      }
    }
    return { db, coldApiMs, reg, steady, ws, restart, steps };
  } finally {
    await spo2.stop();
    await targets.call({ cmd: 'clear' });
  }
}

/** The rows of one engine's run against the floor (the mean of the floors before and after). */
function runRows(r: EngineRun, floor: Steady, floorAfter: Steady): Row[] {
  const { steady, reg, restart, ws } = r;
  const floorUs = (floor.cpuPerProbeUs + floorAfter.cpuPerProbeUs) / 2;
  const wsSummary = summarize(ws.latencies);
  const server = r.db.serverCpuMs !== null;
  return [
    info('database', r.db.label),
    check('probes achieved / expected', steady.rate, pct, '>=', 0.99),
    info('probes in window', `${steady.achieved} of ${steady.expected} (${steady.unprobed} targets never probed)`),
    check('period p50', steady.gap.p50, ms, '<=', intervalMs * 1.1),
    check('period p99', steady.gap.p99, ms, '<=', intervalMs * 1.1),
    info('period max', ms(steady.gap.max)),
    check('CPU per probe ÷ floor', steady.cpuPerProbeUs / floorUs, ratio, '<=', 1.3),
    info('CPU per probe: spo2 / floor', `${us(steady.cpuPerProbeUs)} / ${us(floorUs)} (before ${us(floor.cpuPerProbeUs)}, after ${us(floorAfter.cpuPerProbeUs)})`),
    info('CPU: spo2 / floor', `${(steady.cpuCores * 100).toFixed(0)} % / ${(floor.cpuCores * 100).toFixed(0)} % of a core`),
    ...(server ? [
      info('database server CPU per probe', `${us(steady.dbCpuPerProbeUs)} (${(steady.dbCores * 100).toFixed(1)} % of a core)`),
      info('CPU per probe: spo2 + database server', us(steady.cpuPerProbeUs + steady.dbCpuPerProbeUs)),
    ] : []),
    info('floor probes achieved', pct(floor.rate)),
    info('other load on the machine (cores)', `${steady.otherCores.toFixed(2)} during SpO₂, ${floor.otherCores.toFixed(2)} / ${floorAfter.otherCores.toFixed(2)} during the floors`),
    info('new connections per probe: spo2 / floor', `${(steady.connections / steady.achieved).toFixed(3)} / ${(floor.connections / floor.achieved).toFixed(3)}`),
    check('resident memory (max)', steady.rssMaxBytes, mb, '<=', 300 * 1024 * 1024),
    check('registrations (64 clients)', reg.perSecond, perSec, '>=', 2000),
    info('registration latency p50 / p99', `${ms(reg.latency.p50)} / ${ms(reg.latency.p99)}`),
    info('cold start: API answers', ms(r.coldApiMs)),
    check('restart: API answers', restart.apiMs, ms, '<=', 1000),
    info('restart: targets restored', `${restart.restored} of ${N}`),
    check('restart: all probed after spawn', restart.allProbedMs ?? Infinity, ms, '<=', restart.apiMs + intervalMs, `API + ${intervalMs} ms`),
    info('restart: first → last probe', restart.firstToLastMs === null ? 'not all' : ms(restart.firstToLastMs)),
    info('restart: busiest 100 ms ÷ mean', restart.burst.toFixed(2)),
    check('failure → WS event p99', ws.wired ? wsSummary.p99 : NaN, ms, '<=', 50),
    info('failure → WS event p50 / max', ws.wired ? `${ms(wsSummary.p50)} / ${ms(wsSummary.max)} (${ws.latencies.length} of ${ws.count})${ws.note ? `; ${ws.note}` : ''}` : ws.note),
    ...r.steps.map((s) => info(`limit N=${s.n}`, `${pct(s.rate)}, p99 ${ms(s.gap.p99)}, ${us(s.cpuPerProbeUs)}/probe, ${(s.cpuCores * 100).toFixed(0)} % core, ${mb(s.rssMaxBytes)}`)),
  ];
}

/** Issue 12's checks of PostgreSQL against SQLite, from one run of each on the same targets and floor. */
function comparisonRows(sqlite: EngineRun, postgres: EngineRun): Row[] {
  return [
    check('CPU per probe of spo2: PostgreSQL ÷ SQLite', postgres.steady.cpuPerProbeUs / sqlite.steady.cpuPerProbeUs, ratio, '<=', 1.1),
    info('CPU per probe of spo2: PostgreSQL / SQLite', `${us(postgres.steady.cpuPerProbeUs)} / ${us(sqlite.steady.cpuPerProbeUs)}`),
    info('CPU per probe with the database server', `${us(postgres.steady.cpuPerProbeUs + postgres.steady.dbCpuPerProbeUs)} / ${us(sqlite.steady.cpuPerProbeUs)}`),
    check('registrations on PostgreSQL (64 clients)', postgres.reg.perSecond, perSec, '>=', 2000),
    info('registrations: PostgreSQL / SQLite', `${perSec(postgres.reg.perSecond)} / ${perSec(sqlite.reg.perSecond)}`),
    check('restart on PostgreSQL: API answers', postgres.restart.apiMs, ms, '<=', 1000),
    info('restart, API answers: PostgreSQL / SQLite', `${ms(postgres.restart.apiMs)} / ${ms(sqlite.restart.apiMs)}`),
    info('resident memory: PostgreSQL / SQLite', `${mb(postgres.steady.rssMaxBytes)} / ${mb(sqlite.steady.rssMaxBytes)}`),
  ];
}

async function main(): Promise<void> {
  const engines = ENGINES[dbChoice];
  if (!engines) throw new Error(`BENCH_DB must be sqlite, postgres or both, not ${JSON.stringify(dbChoice)}`);
  mkdirSync(RESULTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'spo2-bench-'));
  const started = new Date();
  const targets = new Child('targets.ts');
  let db: BenchDatabase | null = null;
  const log: Log = (s) => process.stderr.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${s}\n`);
  try {
    const ports = await targets.call<number[]>({ cmd: 'start', origins });
    log(`${origins} target origins up; N=${N}, interval ${intervalMs} ms, window ${windowS} s, database ${engines.join(' then ')}`);

    log('floor: bare undici loop');
    const floor = await floorPhase(targets, ports);
    log(`floor: ${floor.achieved} probes, ${us(floor.cpuPerProbeUs)}/probe`);

    const runs: EngineRun[] = [];
    for (const engine of engines) {
      mkdirSync(join(dir, engine));
      db = await openBenchDatabase(engine, join(dir, engine));
      log(`${engine}: ${db.label}`);
      runs.push(await engineRun(db, targets, ports, log));
      await db.close();
      db = null;
    }

    // The floor again, after SpO₂: the machine's load drifts (other work shares it), so
    // SpO₂'s window is compared with the mean of a floor before and a floor after.
    log('floor again');
    const floorAfter = await floorPhase(targets, ports);
    log(`floor: ${floorAfter.achieved} probes, ${us(floorAfter.cpuPerProbeUs)}/probe`);

    const head: Row[] = [
      info('machine', `${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, node ${process.version}`),
      info('targets / origins / interval', `${N} / ${origins} / ${intervalMs} ms`),
    ];
    for (const r of runs) console.log(`\n${runs.length > 1 ? `${r.db.engine}:\n` : ''}${table([...head, ...runRows(r, floor, floorAfter)])}`);
    const [sqlite, postgres] = [runs.find((r) => r.db.engine === 'sqlite'), runs.find((r) => r.db.engine === 'postgres')];
    if (sqlite && postgres) console.log(`\nPostgreSQL against SQLite (same run):\n${table(comparisonRows(sqlite, postgres))}`);
    console.log('');

    const floorUs = (floor.cpuPerProbeUs + floorAfter.cpuPerProbeUs) / 2;
    const file = join(RESULTS, `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify({
      started: started.toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model.trim(), node: process.version },
      config: { n: N, origins, intervalMs, windowS, quick, concurrency: concurrency ?? 'default', db: dbChoice },
      floor: noGaps(floor), floorAfter: noGaps(floorAfter),
      runs: Object.fromEntries(runs.map((r) => [r.db.engine, {
        database: r.db.label, steady: noGaps(r.steady), cpuRatio: r.steady.cpuPerProbeUs / floorUs,
        registration: { ...r.reg }, coldApiMs: r.coldApiMs, restart: { ...r.restart, spo2: undefined },
        ws: { ...r.ws, summary: summarize(r.ws.latencies) }, limit: r.steps.map(noGaps),
      }])),
    }, null, 2));
    log(`wrote ${file}`);
  } finally {
    await db?.close();
    await targets.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
