/**
 * The floor: the least work that makes the same requests at the same rate — a bare undici
 * loop over N targets on the same origins, keep-alive, phases spread evenly over the
 * interval, one timer. No state machine, no store, no API. CPU per probe of SpO₂ is
 * reported as a ratio to this process's.
 */
import { Agent, type Dispatcher } from 'undici';

export interface FloorStart {
  ports: number[];
  n: number;
  intervalMs: number;
}

let dispatched = 0;
let done = 0;
let errors = 0;

function run({ ports, n, intervalMs }: FloorStart): void {
  // The same pool settings as SpO₂'s probe agent (src/probe/probe.ts).
  const agent = new Agent({ keepAliveTimeout: 4_000, keepAliveMaxTimeout: 30_000, keepAliveTimeoutThreshold: 1_000, connections: 256, pipelining: 1 });
  const origins = ports.map((p) => `http://127.0.0.1:${p}`);
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {},
    onResponseStart() {},
    onResponseData() {},
    onResponseEnd() {
      done++;
    },
    onResponseError() {
      errors++;
    },
  };
  const started = performance.now();
  let next = 0; // targets fire in index order, target i at started + i * intervalMs / n (+ k intervals)
  const tick = () => {
    const now = performance.now();
    for (;;) {
      const round = Math.floor(next / n);
      const i = next % n;
      if (started + round * intervalMs + (i * intervalMs) / n > now) break;
      agent.dispatch({ origin: origins[i % origins.length]!, path: `/t/${i}`, method: 'GET', headers: { 'user-agent': 'floor', accept: '*/*', host: `127.0.0.1:${ports[i % ports.length]}` } }, handler);
      next++;
      dispatched++;
    }
  };
  setInterval(tick, 5);
}

process.on('message', (msg: { cmd: 'start'; args: FloorStart } | { cmd: 'count' }) => {
  if (msg.cmd === 'start') {
    run(msg.args);
    process.send!({ ok: true });
  } else {
    process.send!({ dispatched, done, errors });
  }
});
process.on('disconnect', () => process.exit(0));
