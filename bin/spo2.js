#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// Old-space growth: each probe leaves a little garbage that lives long enough to be
// promoted (undici's request state, a result kept one period), and with V8's default
// growth the heap grows to 2-3 × the live data before a full collection: RSS 270-330 MB
// at 10,000 targets. Growing by 50 % at most keeps it near 200 MB for no measurable CPU
// (docs/performance.md). A value on node's command line wins (NODE_OPTIONS cannot carry it).
if (!process.execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) setFlagsFromString('--heap-growing-percent=50');

const { main } = await import('../dist/spo2.js');

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => {
    // A start-up failure may leave a listener open: exit rather than hang half-started.
    console.error(`spo2: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
