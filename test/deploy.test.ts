/**
 * What can be checked of the container and Kubernetes files without a Docker engine or a
 * cluster: they parse, and their ports, paths, variable names and commands match the app.
 * The lifecycle hooks and the controller example run for real against SpO₂.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { CONFIG_OPTIONS, loadConfig } from '../src/config.js';
import { reconcile } from '../deploy/controller/reconcile.js';
import { api, q, refusedUrl, startSpo2, startTargetServer, waitFor, type Spo2, type TargetServer } from './helpers.js';

const ROOT = new URL('..', import.meta.url).pathname;
const K8S = join(ROOT, 'deploy/kubernetes');
const CONFIG_ENV = new Set(CONFIG_OPTIONS.map((o) => o.env));
const TOKEN = 'deploy-test-token-0123456789abcdef';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are walked as plain data
type Doc = any;

function manifests(dir: string): Map<string, Doc[]> {
  const out = new Map<string, Doc[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
    for (const d of docs) assert.deepEqual(d.errors, [], `${file} parses as YAML`);
    out.set(file, docs.map((d) => d.toJS() as Doc));
  }
  return out;
}

/** Dockerfile instructions (continuations joined), per stage. */
function dockerfile(): { stages: { from: string; instructions: [string, string][] }[] } {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages: { from: string; instructions: [string, string][] }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'FROM') stages.push({ from: m[2]!, instructions: [] });
    else stages.at(-1)!.instructions.push([m[1]!, m[2]!]);
  }
  return { stages };
}

function envOf(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Z_0-9]+)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return env;
}

/** Async, since the target server the hooks talk to runs in this process. */
const sh = promisify(execFile);

const portOf = (addr: string) => Number(addr.split(':').pop());

describe('Dockerfile', () => {
  const { stages } = dockerfile();
  const [build, runtime] = stages;
  const get = (stage: typeof build, name: string) => stage!.instructions.filter(([n]) => n === name).map(([, a]) => a);
  const env = envOf(get(runtime, 'ENV').join(' '));

  it('builds on node:20-bookworm-slim in two stages, with a toolchain for better-sqlite3', () => {
    assert.equal(stages.length, 2);
    assert.equal(build!.from, 'node:20-bookworm-slim AS build');
    assert.equal(runtime!.from, 'node:20-bookworm-slim');
    assert.ok(get(build, 'RUN').some((r) => /g\+\+/.test(r) && /make/.test(r) && /python3/.test(r)));
    assert.ok(get(build, 'RUN').some((r) => /npm ci/.test(r)));
    assert.ok(get(build, 'RUN').some((r) => /npm run build/.test(r) && /npm prune --omit=dev/.test(r)));
  });

  it('copies into the build only files that exist and that .dockerignore lets through', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const copy of get(build, 'COPY')) {
      const sources = copy.split(/\s+/).slice(0, -1);
      for (const src of sources) {
        assert.ok(existsSync(join(ROOT, src)), `${src} exists`);
        assert.ok(!ignored.includes(src), `${src} is not in .dockerignore`);
      }
    }
  });

  it('runs as a non-root user with the database on the /data volume', () => {
    assert.deepEqual(get(runtime, 'USER'), ['node']);
    assert.deepEqual(get(runtime, 'VOLUME'), ['/data']);
    assert.equal(env.DATABASE_PATH, '/data/spo2.db');
    assert.equal(posix.dirname(env.DATABASE_PATH!), '/data');
    assert.ok(get(runtime, 'RUN').some((r) => /chown node:node \/data/.test(r)));
  });

  it('sets only variables the app knows, with values it accepts, and exposes that port', () => {
    for (const name of Object.keys(env)) if (name !== 'NODE_ENV') assert.ok(CONFIG_ENV.has(name), `${name} is a config variable`);
    const config = loadConfig(env);
    assert.deepEqual(config.httpListen, { host: '0.0.0.0', port: 8000 });
    assert.deepEqual(get(runtime, 'EXPOSE'), [String(config.httpListen.port)]);
  });

  it('starts a file the build produces, with a command the CLI knows', () => {
    const entrypoint = JSON.parse(get(runtime, 'ENTRYPOINT')[0]!) as string[];
    const cmd = JSON.parse(get(runtime, 'CMD')[0]!) as string[];
    assert.deepEqual(entrypoint, ['node', 'bin/spo2.js']);
    assert.deepEqual(cmd, ['serve']);
    const copied = get(runtime, 'COPY').map((c) => c.split(/\s+/));
    for (const dir of ['bin', 'dist', 'node_modules', 'package.json']) {
      assert.ok(copied.some((c) => c[0] === '--from=build' && c[1] === `/app/${dir}`), `${dir} is copied from the build stage`);
    }
    const bin = readFileSync(join(ROOT, entrypoint[1]!), 'utf8');
    const imported = /'(\.\.\/dist\/[^']+)'/.exec(bin)?.[1];
    assert.ok(imported, `${entrypoint[1]} loads a module from dist/`);
    assert.ok(existsSync(join(ROOT, 'bin', imported)), `${imported} exists after npm run build`);
    const help = spawnSync(process.execPath, [join(ROOT, entrypoint[1]!), ...cmd, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
  });

  describe('HEALTHCHECK', () => {
    let spo2: Spo2;
    before(async () => (spo2 = await startSpo2()));
    after(async () => spo2?.stop());

    it('passes against a running SpO₂ and fails against nothing', async () => {
      const check = get(runtime, 'HEALTHCHECK')[0]!;
      const command = JSON.parse(check.slice(check.indexOf('CMD') + 3).trim()) as string[];
      assert.equal(command[0], 'node');
      const run = (addr: string) => spawnSync(process.execPath, command.slice(1), { env: { PATH: process.env.PATH, HTTP_LISTEN_ADDR: addr }, encoding: 'utf8' }).status;
      assert.equal(run(`0.0.0.0:${new URL(spo2.httpUrl).port}`), 0);
      assert.equal(run(`0.0.0.0:${new URL(await refusedUrl()).port}`), 1);
      assert.match(check, /\/healthz/);
    });
  });
});

describe('Kubernetes manifests', () => {
  const docs = manifests(K8S);
  const all = [...docs.values()].flat();
  const byKind = (kind: string) => all.filter((d) => d.kind === kind);
  const deployment = byKind('Deployment')[0];
  const container = deployment.spec.template.spec.containers[0];
  const env = Object.fromEntries(container.env.map((e: Doc) => [e.name, e]));

  it('are listed in kustomization.yaml, one object per kind', () => {
    const kustomization = docs.get('kustomization.yaml')![0];
    assert.deepEqual([...kustomization.resources].sort(), [...docs.keys()].filter((f) => f !== 'kustomization.yaml').sort());
    assert.deepEqual(all.map((d) => d.kind).sort(), ['Deployment', 'Kustomization', 'PersistentVolumeClaim', 'Secret', 'Service']);
  });

  it('run one replica, replaced with Recreate (SQLite has one writer)', () => {
    assert.equal(deployment.spec.replicas, 1);
    assert.equal(deployment.spec.strategy.type, 'Recreate');
    assert.deepEqual(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels);
  });

  it('set only variables the app knows', () => {
    for (const name of Object.keys(env)) assert.ok(CONFIG_ENV.has(name), `${name} is a config variable`);
  });

  it('keep the database on the claimed volume', () => {
    const mount = container.volumeMounts.find((m: Doc) => posix.dirname(env.DATABASE_PATH.value) === m.mountPath);
    assert.ok(mount, 'DATABASE_PATH is on a mounted volume');
    const volume = deployment.spec.template.spec.volumes.find((v: Doc) => v.name === mount.name);
    assert.equal(volume.persistentVolumeClaim.claimName, byKind('PersistentVolumeClaim')[0].metadata.name);
    assert.deepEqual(byKind('PersistentVolumeClaim')[0].spec.accessModes, ['ReadWriteOnce']);
  });

  it('probe the port the app listens on (not /healthz, whose 503 on storage trouble must not restart the pod), and the Service targets it', () => {
    const port = container.ports.find((p: Doc) => p.name === 'http');
    assert.equal(port.containerPort, portOf(env.HTTP_LISTEN_ADDR.value));
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      assert.equal(probe.httpGet, undefined);
      assert.equal(probe.tcpSocket.port, 'http');
    }
    const service = byKind('Service')[0];
    assert.equal(service.spec.ports[0].targetPort, 'http');
    assert.deepEqual(service.spec.selector, deployment.spec.template.metadata.labels);
  });

  it('run as the image user, without privileges', () => {
    const pod = deployment.spec.template.spec.securityContext;
    assert.equal(pod.runAsNonRoot, true);
    assert.equal(pod.runAsUser, 1000);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  });

  it('take the token from the Secret, whose placeholder SpO₂ refuses (fail closed)', () => {
    const secret = byKind('Secret')[0];
    const ref = env.SPO2_API_TOKEN.valueFrom.secretKeyRef;
    assert.equal(ref.name, secret.metadata.name);
    const placeholder = secret.stringData[ref.key];
    assert.equal(typeof placeholder, 'string');
    const plain = Object.fromEntries(Object.entries(env).filter(([, e]) => 'value' in (e as Doc)).map(([k, e]) => [k, (e as Doc).value]));
    assert.throws(() => loadConfig({ ...plain, SPO2_API_TOKEN: placeholder }), /SPO2_API_TOKEN=\(value hidden\)/);
    const config = loadConfig({ ...plain, SPO2_API_TOKEN: TOKEN });
    assert.equal(config.wsListen, null);
    assert.ok(config.allowTargets && config.allowTargets.length > 0);
  });
});

describe('registration examples (docs/deploy.md) against a real SpO₂', { timeout: 60_000 }, () => {
  let spo2: Spo2;
  let target: TargetServer;
  before(async () => {
    target = await startTargetServer();
    spo2 = await startSpo2({ env: { SPO2_API_TOKEN: TOKEN } });
  });
  after(async () => {
    await spo2?.stop();
    await target?.close();
  });

  it('the pod lifecycle hooks register the pod once it answers, and unregister it', async () => {
    const app = manifests(join(K8S, 'examples')).get('app-with-hooks.yaml')![0];
    const c = app.spec.template.spec.containers[0];
    const hookEnv = {
      PATH: process.env.PATH ?? '',
      APP_PORT: String(target.port),
      SPO2_URL: spo2.httpUrl,
      SPO2_API_TOKEN: TOKEN,
      POD_IP: '127.0.0.1',
      POD_NAME: 'search-7d9f-abcde',
      POD_NAMESPACE: 'prod',
    };
    for (const name of Object.keys(hookEnv)) if (name !== 'PATH') assert.ok(c.env.some((e: Doc) => e.name === name), `${name} is set in the example`);
    const [cmd, ...args] = c.lifecycle.postStart.exec.command as string[];
    await sh(cmd!, args, { env: hookEnv });
    const url = `http://127.0.0.1:${target.port}/healthz`;
    const got = await api(spo2.httpUrl, 'GET', q(url));
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.data, { pod: 'search-7d9f-abcde', namespace: 'prod', app: 'search' });
    const [stopCmd, ...stopArgs] = c.lifecycle.preStop.exec.command as string[];
    await sh(stopCmd!, stopArgs, { env: hookEnv });
    assert.equal((await api(spo2.httpUrl, 'GET', q(url))).status, 404);
    // SpO₂ unreachable: the hooks still succeed, so the app is never killed for it.
    const down = { ...hookEnv, SPO2_URL: await refusedUrl('') };
    await sh(cmd!, args, { env: down, timeout: 40_000 });
    await sh(stopCmd!, stopArgs, { env: down });
  });

  it('the controller reconcile adds what runs and removes what is gone, touching only its own', async () => {
    const client = { baseUrl: spo2.httpUrl, token: TOKEN };
    const foreign = target.url('/other-team');
    assert.equal((await api(spo2.httpUrl, 'PUT', q(foreign), undefined, { authorization: `Bearer ${TOKEN}` })).status, 200);
    const a = target.url('/pod-a');
    const b = target.url('/pod-b');
    assert.deepEqual(await reconcile(client, 'platform', [{ url: a, data: { pod: 'a' } }, { url: b }]), { added: [a, b], removed: [] });
    assert.deepEqual(await reconcile(client, 'platform', [{ url: b }]), { added: [], removed: [a] });
    const urls = (await api<{ url: string; data: unknown }[]>(spo2.httpUrl, 'GET', '/all')).body;
    assert.deepEqual(urls.map((t) => t.url).sort(), [b, foreign].sort());
    await waitFor(() => target.hits('/pod-b') > 0, 5_000, 'the registered pod to be probed');
    await assert.rejects(reconcile({ baseUrl: spo2.httpUrl }, 'platform', [{ url: a }]), /401/);
  });
});

