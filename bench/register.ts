/** Registers URLs through the compatible API (`PUT /?url=`) with a fixed number of clients. */
import { Pool } from 'undici';
import { summarize } from './stats.js';

export interface Registration {
  ok: number;
  failed: number;
  seconds: number;
  perSecond: number;
  /** Per-request latency, ms. */
  latency: ReturnType<typeof summarize>;
  firstError: string | null;
}

export async function register(base: string, urls: string[], clients: number): Promise<Registration> {
  const pool = new Pool(base, { connections: clients, pipelining: 1 });
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstError: string | null = null;
  const latencies = new Float64Array(urls.length);
  const t0 = performance.now();
  const worker = async () => {
    for (let i = next++; i < urls.length; i = next++) {
      const start = performance.now();
      try {
        const res = await pool.request({ path: `/?url=${encodeURIComponent(urls[i]!)}`, method: 'PUT' });
        const body = await res.body.text();
        if (res.statusCode === 200) ok++;
        else {
          failed++;
          firstError ??= `${res.statusCode} ${body.slice(0, 200)}`;
        }
      } catch (err) {
        failed++;
        firstError ??= String(err);
      }
      latencies[i] = performance.now() - start;
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  return { ok, failed, seconds, perSecond: ok / seconds, latency: summarize(latencies), firstError };
}
