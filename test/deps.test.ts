/**
 * A clean install on the oldest Node.js we claim: no package in the lock file may ask for a
 * newer one (npm prints EBADENGINE for each, and some then fail at run time).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import semver from 'semver';

const root = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

describe('dependencies', () => {
  it('every locked package runs on the oldest Node.js that package.json claims, and on this one', () => {
    const oldest = semver.minVersion(pkg.engines.node)!.version;
    const refused: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
      if (!path || !range) continue;
      for (const version of [oldest, process.version]) {
        if (!semver.satisfies(version, range)) refused.push(`${path}@${entry.version} wants node ${range}, not ${version}`);
      }
    }
    assert.deepEqual(refused, []);
  });
});
