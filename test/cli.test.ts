import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BIN, type Spo2, startSpo2 } from './helpers.ts';

const run = promisify(execFile);

async function spo2cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('spo2 command line', () => {
  let server: Spo2;
  before(async () => { server = await startSpo2({ env: { SPO2_INTERVAL: '1h', SPO2_FAST_INTERVAL: '1h' } }); });
  after(async () => { await server.stop(); });

  it('add, get, ls, rm against --server, readable and --json', async () => {
    const add = await spo2cli(['add', 'http://127.0.0.1:1/a', '--data', '{"team":"x"}', '--server', server.httpUrl]);
    assert.equal(add.code, 0, add.stderr);
    // Never probed yet (the interval is an hour): not shown as a green Healthy.
    assert.match(add.stdout, /^not checked yet\s+-\s+\S+ \S+\s+http:\/\/127\.0\.0\.1:1\/a\s+\{"team":"x"\}/m);

    const get = await spo2cli(['get', 'http://127.0.0.1:1/a', '--json'], { SPO2_SERVER: server.httpUrl });
    assert.equal(get.code, 0);
    assert.deepEqual(JSON.parse(get.stdout).data, { team: 'x' });

    const ls = await spo2cli(['ls', '--server', server.httpUrl]);
    assert.match(ls.stdout, /^STATUS\s+LATENCY\s+SINCE\s+URL\s+DATA\s+REASON\n/);
    assert.match(ls.stdout, /\{"team":"x"\}/);
    const record = await spo2cli(['get', 'http://127.0.0.1:1/a', '--server', server.httpUrl]);
    assert.match(record.stdout, /^status: +not checked yet$/m);
    assert.match(record.stdout, /^data: +\{\n +"team": "x"\n +\}$/m);
    const lower = await spo2cli(['ls', '--status', 'healthy', '--json', '--server', server.httpUrl]);
    assert.equal(lower.code, 0, lower.stderr);
    assert.equal(JSON.parse(lower.stdout).length, 1);
    const wrong = await spo2cli(['ls', '--status', 'down', '--server', server.httpUrl]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--status must be one of Healthy, Unhealthy, Unreachable \(any case\)/);
    assert.match(ls.stdout, /http:\/\/127\.0\.0\.1:1\/a/);
    const none = await spo2cli(['ls', '--status', 'UNREACHABLE', '--json', '--server', server.httpUrl]);
    assert.deepEqual(JSON.parse(none.stdout), []);

    const rm = await spo2cli(['rm', 'http://127.0.0.1:1/a', '--server', server.httpUrl]);
    assert.equal(rm.code, 0);
    assert.match(rm.stdout, /removed http:\/\/127\.0\.0\.1:1\/a/);
  });

  it('reports API errors and bad arguments on stderr with a non-zero exit', async () => {
    const missing = await spo2cli(['get', 'http://127.0.0.1:1/none', '--server', server.httpUrl]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not registered/);
    const scheme = await spo2cli(['add', 'ftp://x', '--server', server.httpUrl]);
    assert.match(scheme.stderr, /unsupported scheme/);
    const badData = await spo2cli(['add', 'http://x/', '--data', '{', '--server', server.httpUrl]);
    assert.equal(badData.code, 2);
    assert.match(badData.stderr, /--data is not valid JSON/);
    const down = await spo2cli(['ls', '--server', 'http://127.0.0.1:1']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach/);
  });

  it("the README's command-line path runs this checkout's spo2, offline", async () => {
    const root = new URL('..', import.meta.url).pathname;
    const { stdout } = await run('npm', ['exec', '--offline', '--', 'spo2', 'help'], { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' } });
    assert.match(stdout, /^spo2 — health-checks URLs/);
    const readme = readFileSync(new URL('README.md', new URL('..', import.meta.url)), 'utf8');
    assert.doesNotMatch(readme.replace(/`npx spo2` elsewhere/, ''), /npx spo2/, 'the README must not send people to the registry');
  });

  it('serve refuses a bad value, naming the variable', async () => {
    const bad = await spo2cli(['serve'], { SPO2_WINDOW: 'wide' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /SPO2_WINDOW="wide"/);
  });
});
