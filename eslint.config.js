import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Imports flow one way (DESIGN.md): core ← store ports ← engines; monitor and notify use
 * ports, never an engine; only the wiring (app.ts, cli.ts, and the commands that work on a database itself: backup-command.ts,
 * migrate-command.ts) names an engine. A file's
 * imports are checked by the block of its folder (the blocks do not overlap: for one file,
 * a later block would replace an earlier one's list instead of adding to it).
 */
const only = (files, patterns, ignores = []) => ({ files, ignores, rules: { 'no-restricted-imports': ['error', { patterns }] } });
const ENGINE = 'a storage engine is wired in app.ts, cli.ts and the commands that work on a database file only: depend on store/ports.ts';
const WIRING = { regex: '^(\\.\\./)+(app|cli)\\.js$', message: 'nothing imports the wiring' };
const layers = [
  only(['src/core/**'], [{ regex: '^\\.\\./', message: 'core imports only core' }]),
  only(['src/store/ports.ts'], [{ regex: '^\\./|^\\.\\./(?!core/)', message: 'the ports import only core' }]),
  only(['src/store/*.ts'], [
    { regex: '^\\./(sqlite|postgres)/', message: 'engine-neutral store code does not import an engine' },
    { regex: '^\\.\\./(?!core/)', message: 'the store imports only core' },
  ], ['src/store/ports.ts']),
  only(['src/store/*/**'], [
    { regex: '^\\.\\./(sqlite|postgres)/', message: 'an engine does not import another engine' },
    { regex: '^\\.\\./\\.\\./(?!core/)', message: 'an engine imports only the ports, the store\'s shared code and core' },
  ]),
  only(['src/monitor/**'], [{ regex: '^\\.\\./(store/(sqlite|postgres)|http|notify)/', message: 'the monitor uses the store ports; the API and the notifier listen to it, not the other way' }, WIRING]),
  only(['src/notify/**'], [{ regex: '^\\.\\./(store/(sqlite|postgres)|monitor|http)/', message: 'the notifier hears the bus and uses the outbox port only' }, WIRING]),
  only(['src/probe/**'], [{ regex: '^\\.\\./(store|monitor|notify|http)/', message: 'a probe knows only its request and core' }, WIRING]),
  only(['src/http/**'], [{ regex: '^\\.\\./store/(sqlite|postgres)/', message: ENGINE }, WIRING]),
  only(['src/*.ts'], [{ regex: '^\\./store/(sqlite|postgres)/', message: ENGINE }, WIRING], ['src/app.ts', 'src/cli.ts', 'src/backup-command.ts', 'src/migrate-command.ts']),
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly', process: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly',
        Buffer: 'readonly', performance: 'readonly', AbortController: 'readonly', fetch: 'readonly',
        document: 'readonly', window: 'readonly', WebSocket: 'readonly', location: 'readonly',
        requestAnimationFrame: 'readonly', queueMicrotask: 'readonly', structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layers,
);
