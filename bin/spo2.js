#!/usr/bin/env node
import { main } from '../dist/spo2.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => {
    // A start-up failure may leave a listener open: exit rather than hang half-started.
    console.error(`spo2: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
