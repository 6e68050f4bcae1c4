import assert from 'node:assert/strict';
import { test } from 'node:test';
import { burstiness, check, cpuTicksFromStat, familyFromStat, percentile, rssFromStatus, summarize, table } from '../bench/stats.js';

test('percentiles use the nearest rank', () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
  assert.equal(percentile(values, 0.5), 50);
  assert.equal(percentile(values, 0.99), 99);
  assert.equal(percentile(values, 1), 100);
  assert.ok(Number.isNaN(percentile([], 0.5)));
  assert.deepEqual(summarize([3, 1, 2]), { count: 3, p50: 2, p99: 3, max: 3 });
});

test('CPU ticks are read after the command name, even one with spaces and parentheses', () => {
  const stat = '4242 (node (spo2) x) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 1 0 100 2000 300';
  assert.equal(cpuTicksFromStat(stat), 175);
});

test('the parent and the reaped children\'s CPU ticks are read after the command name too', () => {
  const stat = '4242 (postgres: spo2 spo2 127.0.0.1(5432) idle) S 4200 2 3 4 5 6 7 8 9 10 150 25 30 12 20 0 1 0 100 2000 300';
  assert.deepEqual(familyFromStat(stat), { ppid: 4200, reapedTicks: 42 });
});

test('resident memory comes from VmRSS in kB', () => {
  assert.equal(rssFromStatus('Name:\tnode\nVmRSS:\t  204800 kB\nThreads:\t7\n'), 200 * 1024 * 1024);
  assert.ok(Number.isNaN(rssFromStatus('Name:\tnode\n')));
});

test('burstiness is 1 for an even spread and the bucket count for one burst', () => {
  const even = Array.from({ length: 300 }, (_, i) => i * 10);
  assert.equal(burstiness(even, 0, 3000, 30), 1);
  assert.equal(burstiness(new Array(300).fill(5), 0, 3000, 30), 30);
});

test('a check passes, fails, or says it was not measured', () => {
  const fmt = (v: number) => `${v} ms`;
  assert.equal(check('p99', 40, fmt, '<=', 50).verdict, 'pass');
  assert.equal(check('p99', 60, fmt, '<=', 50).verdict, 'FAIL');
  assert.equal(check('rate', NaN, fmt, '>=', 1).verdict, 'n/a');
  assert.match(table([check('p99', 40, fmt, '<=', 50)]), /p99\s+40 ms\s+≤ 50 ms\s+pass/);
});
