/** The lint rule that keeps imports flowing one way refuses what it must (eslint.config.js). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const eslint = new ESLint();

async function refused(filePath: string, from: string): Promise<boolean> {
  const [result] = await eslint.lintText(`import type * as m from '${from}';\nexport type X = typeof m;\n`, { filePath });
  return result!.messages.some((m) => m.ruleId === 'no-restricted-imports');
}

describe('imports flow one way', () => {
  const cases: Array<[file: string, from: string, refuse: boolean]> = [
    ['src/notify/notifier.ts', '../store/sqlite/store.js', true],
    ['src/notify/notifier.ts', '../monitor/monitor.js', true],
    ['src/notify/notifier.ts', '../store/ports.js', false],
    ['src/monitor/monitor.ts', '../notify/notifier.js', true],
    ['src/monitor/monitor.ts', '../store/sqlite/store.js', true],
    ['src/monitor/monitor.ts', '../store/ports.js', false],
    ['src/http/server.ts', '../store/sqlite/store.js', true],
    ['src/registry.ts', './store/sqlite/store.js', true],
    ['src/core/health.ts', '../events.js', true],
    ['src/store/ports.ts', './availability.js', true],
    ['src/store/ports.ts', '../core/health.js', false],
    ['src/store/sqlite/store.ts', '../../monitor/monitor.js', true],
    ['src/store/sqlite/store.ts', '../postgres/store.js', true],
    ['src/store/postgres/store.ts', '../ports.js', false],
    ['src/app.ts', './store/sqlite/store.js', false],
    ['src/cli.ts', './store/sqlite/store.js', false],
    ['src/migrate-command.ts', './store/postgres/import.js', false],
    ['src/store/postgres/import.ts', '../copy.js', false],
    ['src/store/copy.ts', './sqlite/export.js', true],
  ];
  for (const [file, from, refuse] of cases) {
    it(`${file} ${refuse ? 'may not' : 'may'} import ${from}`, async () => {
      assert.equal(await refused(file, from), refuse);
    });
  }
});
