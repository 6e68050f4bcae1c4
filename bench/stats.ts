/** Pure helpers of the benchmark: percentiles, /proc parsing, the printed table. */

/** The q-quantile (0..1) of `values` by nearest rank; NaN when empty. Sorts a copy. */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const rank = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(values: ArrayLike<number>): Summary {
  if (values.length === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

/** utime + stime in clock ticks from the text of /proc/<pid>/stat. */
export function cpuTicksFromStat(stat: string): number {
  // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return Number(rest[11]) + Number(rest[12]);
}

/** What /proc/<pid>/stat says of a process's family: its parent, and the CPU ticks of the children it reaped. */
export interface StatFamily {
  ppid: number;
  /** cutime + cstime: CPU of children that exited and were waited for (a postgres backend after its connection closed). */
  reapedTicks: number;
}

export function familyFromStat(stat: string): StatFamily {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[1] is field 4 (ppid); cutime and cstime are fields 16 and 17.
  return { ppid: Number(rest[1]), reapedTicks: Number(rest[13]) + Number(rest[14]) };
}

/** VmRSS in bytes from the text of /proc/<pid>/status; NaN when absent. */
export function rssFromStatus(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * How evenly events spread over a period: the busiest bucket divided by the mean bucket.
 * 1 is perfectly even; a burst where everything fires at once gives `buckets`.
 */
export function burstiness(times: ArrayLike<number>, start: number, periodMs: number, buckets: number): number {
  if (times.length === 0) return NaN;
  const counts = new Array<number>(buckets).fill(0);
  let inside = 0;
  for (let i = 0; i < times.length; i++) {
    const b = Math.floor(((times[i]! - start) / periodMs) * buckets);
    if (b < 0 || b >= buckets) continue;
    counts[b]!++;
    inside++;
  }
  if (inside === 0) return NaN;
  return Math.max(...counts) / (inside / buckets);
}

export type Verdict = 'pass' | 'FAIL' | 'n/a';

export interface Row {
  metric: string;
  value: string;
  target: string;
  verdict: Verdict;
}

/** Checks `value` against a limit; NaN (not measured) gives n/a. */
export function check(metric: string, value: number, fmt: (v: number) => string, op: '<=' | '>=', limit: number, limitText?: string): Row {
  const verdict: Verdict = Number.isNaN(value) ? 'n/a' : (op === '<=' ? value <= limit : value >= limit) ? 'pass' : 'FAIL';
  return { metric, value: Number.isNaN(value) ? 'not measured' : fmt(value), target: `${op === '<=' ? '≤' : '≥'} ${limitText ?? fmt(limit)}`, verdict };
}

export function info(metric: string, value: string): Row {
  return { metric, value, target: '', verdict: 'n/a' };
}

export function table(rows: Row[]): string {
  const w = [6, 5, 6].map((min, i) => Math.max(min, ...rows.map((r) => [r.metric, r.value, r.target][i]!.length)));
  const line = (a: string, b: string, c: string, d: string) => `${a.padEnd(w[0]!)}  ${b.padStart(w[1]!)}  ${c.padEnd(w[2]!)}  ${d}`;
  return [line('metric', 'value', 'target', ''), line('-'.repeat(w[0]!), '-'.repeat(w[1]!), '-'.repeat(w[2]!), '')]
    .concat(rows.map((r) => line(r.metric, r.value, r.target, r.verdict === 'n/a' ? '' : r.verdict))).join('\n');
}

export const ms = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;
export const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
export const mb = (v: number) => `${(v / 1024 / 1024).toFixed(0)} MB`;
export const perSec = (v: number) => `${v.toFixed(0)}/s`;
export const us = (v: number) => `${v.toFixed(1)} µs`;
export const ratio = (v: number) => `${v.toFixed(2)} ×`;
