/**
 * deploy/systemd/spo2.service (issue 11, operations): systemd accepts it, it starts what the
 * checkout has, with variables SpO₂ knows, and it carries the hardening systemd offers —
 * except MemoryDenyWriteExecute, which V8's JIT cannot run under (checked, not assumed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_OPTIONS } from '../src/config.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const UNIT = join(ROOT, 'deploy', 'systemd', 'spo2.service');
/** Where docs/operations.md installs the checkout. */
const INSTALL_DIR = '/opt/spo2';

type Unit = Map<string, Map<string, string[]>>;

/** Sections of key=value lines; a key may repeat (Environment=, SystemCallFilter=). */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(section && eq > 0, `a key=value line inside a section: ${line}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return unit;
}

const unit = parseUnit(readFileSync(UNIT, 'utf8'));
const service = unit.get('Service')!;
const one = (key: string) => {
  const values = service.get(key);
  assert.ok(values && values.length === 1, `${key}= set once`);
  return values[0]!;
};
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('the systemd unit', () => {
  it('starts the checkout\'s bin/spo2.js serve with node', () => {
    const [node, script, command, ...rest] = one('ExecStart').split(/\s+/);
    assert.equal(node, '/usr/bin/node');
    assert.ok(script!.startsWith(INSTALL_DIR + '/'), script);
    assert.ok(existsSync(join(ROOT, posix.relative(INSTALL_DIR, script!))), `${script} is a file of the checkout`);
    assert.equal(command, 'serve');
    assert.deepEqual(rest, []);
    assert.equal(one('Type'), 'exec');
  });

  it('sets only variables SpO₂ knows, and keeps the database in its state directory', () => {
    const known = new Set(CONFIG_OPTIONS.map((o) => o.env));
    const env = new Map(service.get('Environment')!.map((e) => e.split('=', 2) as [string, string]));
    for (const name of env.keys()) assert.ok(known.has(name), `${name} is an option of src/config.ts`);
    assert.equal(one('StateDirectory'), 'spo2');
    assert.equal(env.get('DATABASE_PATH'), '/var/lib/spo2/spo2.db');
    assert.equal(one('WorkingDirectory'), '/var/lib/spo2');
    assert.equal(one('EnvironmentFile'), '-/etc/spo2/spo2.env', 'secrets from an optional file, not the unit');
    assert.equal(one('User'), 'spo2');
  });

  it('stops with SIGTERM well within TimeoutStopSec, restarts on failure but not on a configuration error (exit 2)', () => {
    assert.equal(one('KillSignal'), 'SIGTERM');
    const timeout = /^(\d+)s$/.exec(one('TimeoutStopSec'));
    assert.ok(timeout && Number(timeout[1]) >= 5, 'the server needs at most 1.5 s; room for a loaded machine');
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('RestartPreventExitStatus'), '2');
    assert.ok(Number(one('LimitNOFILE')) >= 65536, 'thousands of probe sockets');
  });

  it('carries the hardening options, and not MemoryDenyWriteExecute', () => {
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes', CapabilityBoundingSet: '', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes',
      PrivateDevices: 'yes', PrivateUsers: 'yes', ProtectKernelTunables: 'yes', ProtectKernelModules: 'yes', ProtectKernelLogs: 'yes',
      ProtectControlGroups: 'yes', ProtectClock: 'yes', ProtectHostname: 'yes', ProtectProc: 'invisible', ProcSubset: 'pid',
      RestrictNamespaces: 'yes', RestrictRealtime: 'yes', RestrictSUIDSGID: 'yes', LockPersonality: 'yes', UMask: '0077',
      SystemCallArchitectures: 'native', RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX AF_NETLINK',
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(one(key), value, key);
    assert.deepEqual(service.get('SystemCallFilter'), ['@system-service', '~@privileged @resources']);
    assert.equal(service.get('MemoryDenyWriteExecute'), undefined);
  });

  it('systemd-analyze verify accepts it, and security rates its exposure OK', { skip: hasSystemdAnalyze || process.env.CI ? false : 'systemd-analyze is not installed (CI installs it)' }, () => {
    const verify = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), '', 'no warning');
    const security = spawnSync('systemd-analyze', ['security', '--offline=yes', UNIT], { encoding: 'utf8' });
    const exposure = /Overall exposure level for spo2\.service: ([\d.]+)/.exec(security.stdout);
    assert.ok(exposure, security.stdout + security.stderr);
    assert.ok(Number(exposure[1]) <= 2, `exposure ${exposure[1]} (0 = locked down, 10 = none)`);
  });

  it('MemoryDenyWriteExecute would kill node at its first compiled function (the kernel\'s PR_SET_MDWE, as systemd applies it)', { skip: mdweAvailable() ? false : 'needs python3 and Linux 6.3+ (PR_SET_MDWE)' }, () => {
    const run = underMdwe(['-e', 'let s = 0; for (let i = 0; i < 1e7; i++) s += i; console.log(s)']);
    assert.notEqual(run.status, 0, 'node cannot run its JIT under MDWE');
    assert.match(run.stderr, /Check failed|Fatal/);
  });
});

/** Runs node with "memory deny write execute" set on the process, as systemd does. */
function underMdwe(args: string[]) {
  const script = 'import ctypes, os, sys\n' +
    'libc = ctypes.CDLL(None, use_errno=True)\n' +
    'if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(97)\n' + // PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    'os.execv(sys.argv[1], sys.argv[1:])\n';
  return spawnSync('python3', ['-c', script, process.execPath, ...args], { encoding: 'utf8', timeout: 20_000 });
}

function mdweAvailable(): boolean {
  return spawnSync('python3', ['-c', 'import ctypes, sys; sys.exit(0 if ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) == 0 else 1)']).status === 0;
}
