/**
 * Failure → WebSocket event: some targets start answering 503; the latency is from the
 * target server's answer that tipped the state machine (the last failing answer before
 * the event) to the event's arrival at a client of `/ws`. Both sides read the machine's
 * monotonic clock (`monoMs`), so the two processes' times compare directly.
 */
import WebSocket from 'ws';
import type { Child } from './procs.js';
import { monoMs, sleep } from './procs.js';

export interface WsResult {
  wired: boolean;
  note: string;
  count: number;
  /** ms from the deciding answer to the event. */
  latencies: number[];
  /** ms from the first failing answer to the event (the damping, by design ~5 fast probes). */
  detection: number[];
}

interface Options {
  base: string;
  targets: Child;
  n: number;
  ports: number[];
  urlOf: (ports: number[], i: number) => string;
  count: number;
  timeoutMs: number;
}

export async function measureFailureEvents(o: Options): Promise<WsResult> {
  const result: WsResult = { wired: false, note: '', count: o.count, latencies: [], detection: [] };
  const ws = new WebSocket(o.base.replace(/^http/, 'ws') + '/ws');
  const opened = await new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve('no answer within 5 s'), 5000);
    ws.once('open', () => { clearTimeout(timer); resolve(null); });
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); resolve(`/ws answered HTTP ${res.statusCode} (hub not wired)`); });
    ws.once('error', (err) => { clearTimeout(timer); resolve(String(err)); });
  });
  if (opened) {
    ws.terminate();
    result.note = opened;
    return result;
  }
  result.wired = true;
  const chosen = Array.from({ length: o.count }, (_, k) => Math.floor((k * o.n) / o.count));
  const byUrl = new Map(chosen.map((i) => [o.urlOf(o.ports, i), i]));
  const arrivals = new Map<number, number>();
  /** Events whose deciding probe got no 503 (an error or timeout): their latency is not the engine's. */
  let otherCause = 0;
  let messages = 0;
  let failing = false;
  ws.on('message', (data) => {
    const at = monoMs();
    messages++;
    if (!failing) return;
    const msg = JSON.parse(String(data)) as { url: string; status: string; httpStatus: number | null };
    const i = byUrl.get(msg.url);
    if (i === undefined || msg.status !== 'Unhealthy' || arrivals.has(i)) return;
    arrivals.set(i, at);
    if (msg.httpStatus !== 503) otherCause++;
  });
  // Let the snapshot pass first.
  for (let seen = -1; seen !== messages; ) {
    seen = messages;
    await sleep(500);
  }
  failing = true;
  await o.targets.call({ cmd: 'fail', targets: chosen });
  const deadline = performance.now() + o.timeoutMs;
  while (arrivals.size < chosen.length && performance.now() < deadline) await sleep(100);
  ws.close();
  for (const [i, at] of arrivals) {
    const times = await o.targets.call<number[]>({ cmd: 'failTimes', target: i });
    const before = times.filter((t) => t <= at);
    if (before.length === 0) continue;
    result.latencies.push(at - before[before.length - 1]!);
    result.detection.push(at - before[0]!);
  }
  await o.targets.call({ cmd: 'heal', targets: chosen });
  const notes = [];
  if (arrivals.size < chosen.length) notes.push(`${chosen.length - arrivals.size} events missing`);
  if (otherCause > 0) notes.push(`${otherCause} decided by a probe without a 503 answer`);
  result.note = notes.join('; ');
  return result;
}
