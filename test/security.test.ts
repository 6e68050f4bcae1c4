/** Native security against the real process: TLS on both listeners, tokens, basic auth, allow-list. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { hashPassword } from '../src/core/password.js';
import { api, q, startSpo2, startTargetServer, tempDir, type Spo2, type TargetServer } from './helpers.js';

const API = 'api-' + 'a1b2c3d4'.repeat(4);
const READ = 'read-' + 'e5f6a7b8'.repeat(4);
const PASSWORD = 'dashboard password';
const basic = (user: string, pass: string) => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');

function makeCert(dir: string, name: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { stdio: 'ignore' });
}

function servedCertName(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject.CN;
      socket.end();
      resolve(String(cn));
    });
    socket.on('error', reject);
  });
}

function wsOpen(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { rejectUnauthorized: false, headers });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => resolve(-1));
  });
}

describe('native TLS, tokens and basic auth', { timeout: 60_000 }, () => {
  let dir: string;
  let spo2: Spo2;
  let target: TargetServer;
  const insecure = new Agent({ connect: { rejectUnauthorized: false } });
  const call = async (method: string, path: string, headers: Record<string, string> = {}) => {
    const res = await request(spo2.httpUrl + path, { method: method as 'GET', dispatcher: insecure, headers });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  };

  before(async () => {
    dir = tempDir('spo2-tls-');
    makeCert(dir, 'first');
    makeCert(dir, 'second');
    copyFileSync(join(dir, 'first.crt'), join(dir, 'live.crt'));
    copyFileSync(join(dir, 'first.key'), join(dir, 'live.key'));
    target = await startTargetServer();
    spo2 = await startSpo2({
      wsListener: true,
      env: {
        SPO2_TLS_CERT: join(dir, 'live.crt'),
        SPO2_TLS_KEY: join(dir, 'live.key'),
        SPO2_API_TOKEN: API,
        SPO2_READ_TOKEN: READ,
        SPO2_BASIC_AUTH: `ops:${await hashPassword(PASSWORD)}`,
        SPO2_ALLOW_TARGETS: '127.0.0.0/8, *.svc.cluster.local',
      },
    });
  });

  after(async () => {
    await spo2?.stop();
    await target?.close();
    await insecure.close();
  });

  it('serves HTTPS and WSS on both listeners', async () => {
    assert.match(spo2.httpUrl, /^https:\/\//);
    assert.match(spo2.wsUrl!, /^wss:\/\//);
    assert.equal((await call('GET', '/healthz')).status, 200);
    assert.equal(await wsOpen(spo2.httpUrl.replace('https', 'wss') + '/ws', { authorization: basic('ops', PASSWORD) }), 101);
    assert.equal(await wsOpen(spo2.wsUrl!, { authorization: `Bearer ${READ}` }), 101);
  });

  it('needs credentials on both WebSocket listeners', async () => {
    assert.equal(await wsOpen(spo2.httpUrl.replace('https', 'wss') + '/ws', {}), 401);
    assert.equal(await wsOpen(spo2.wsUrl!, {}), 401);
    assert.equal(await wsOpen(spo2.wsUrl!, { authorization: basic('ops', 'nope') }), 401);
    assert.equal(await wsOpen(spo2.wsUrl! + '/healthz', {}), 401, 'no path of the extra listener is public');
  });

  it('writes need the API token; reads take the read token or the dashboard user', async () => {
    const url = target.url('/native');
    assert.equal((await call('PUT', q(url))).status, 401);
    assert.equal((await call('PUT', q(url), { authorization: `Bearer ${READ}` })).status, 403);
    assert.equal((await call('PUT', q(url), { authorization: basic('ops', PASSWORD) })).status, 403);
    assert.equal((await call('PUT', q(url), { authorization: `Bearer ${API}` })).status, 200);
    assert.equal((await call('GET', '/all')).status, 401);
    for (const authorization of [`Bearer ${READ}`, `Bearer ${API}`, basic('ops', PASSWORD)]) {
      const all = await call('GET', '/all', { authorization });
      assert.equal(all.status, 200);
      assert.ok((JSON.parse(all.text) as { url: string }[]).some((t) => t.url === url));
    }
    const page = await call('GET', '/', { accept: 'text/html' });
    assert.equal(page.status, 401);
    assert.match(String(page.headers['www-authenticate']), /^Basic realm="SpO2"/);
  });

  it('refuses link-local and unlisted targets', async () => {
    const auth = { authorization: `Bearer ${API}` };
    const metadata = await call('PUT', q('http://169.254.169.254/latest/meta-data/'), auth);
    assert.equal(metadata.status, 400);
    assert.match(metadata.text, /link-local/);
    const outside = await call('PUT', q('https://example.com/'), auth);
    assert.equal(outside.status, 400);
    assert.match(outside.text, /not in SPO2_ALLOW_TARGETS/);
    assert.equal((await call('PUT', q('http://api.default.svc.cluster.local:8080/healthz'), auth)).status, 200);
    assert.equal((await call('DELETE', q('http://api.default.svc.cluster.local:8080/healthz'), auth)).status, 200);
  });

  it('reloads the certificate on SIGHUP', async () => {
    assert.equal(await servedCertName(spo2.httpUrl), 'first');
    copyFileSync(join(dir, 'second.crt'), join(dir, 'live.crt'));
    copyFileSync(join(dir, 'second.key'), join(dir, 'live.key'));
    spo2.proc.kill('SIGHUP');
    await spo2.waitForLog((l) => /reloaded TLS certificate/.test(l.msg));
    assert.equal(await servedCertName(spo2.httpUrl), 'second');
    assert.equal(await servedCertName(spo2.wsUrl!), 'second');
  });

  it('rate-limits failed attempts with 429', async () => {
    let status = 0;
    for (let i = 0; i < 15 && status !== 429; i++) status = (await call('DELETE', q(target.url('/x')), { authorization: 'Bearer wrong-token-wrong-token' })).status;
    assert.equal(status, 429);
    const limited = await call('GET', '/all', { authorization: `Bearer ${READ}` });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
  });

  it('never writes a secret to its output', async () => {
    const out = JSON.stringify(spo2.logs) + spo2.stderr();
    for (const secret of [API, READ, PASSWORD]) assert.ok(!out.includes(secret));
    assert.ok(spo2.logs.some((l) => /^authentication: API token for writes/.test(l.msg)));
  });
});

describe('start-up without authentication', { timeout: 30_000 }, () => {
  it('says it listens on loopback only', async () => {
    const spo2 = await startSpo2();
    try {
      await spo2.waitForLog((l) => /no authentication configured: listening on loopback only/.test(l.msg));
    } finally {
      await spo2.stop();
    }
  });

  it('warns when bound to a public address', async () => {
    const spo2 = await startSpo2({ env: { HTTP_LISTEN_ADDR: '0.0.0.0:0' } });
    try {
      const line = await spo2.waitForLog((l) => /WITHOUT authentication/.test(l.msg));
      assert.equal(line.level, 40);
    } finally {
      await spo2.stop();
    }
  });

  it('a narrower allow-list still lets earlier targets be read and removed', async () => {
    let spo2 = await startSpo2({ env: { SPO2_ALLOW_TARGETS: '*' } });
    try {
      const url = 'http://10.9.9.9:7700/health';
      assert.equal((await api(spo2.httpUrl, 'PUT', q(url))).status, 200);
      spo2 = await spo2.restart({ SPO2_ALLOW_TARGETS: '*.svc.cluster.local' });
      assert.equal((await api(spo2.httpUrl, 'GET', q(url))).status, 200);
      assert.equal((await api(spo2.httpUrl, 'PUT', q(url))).status, 400);
      assert.equal((await api(spo2.httpUrl, 'DELETE', q(url))).status, 200);
    } finally {
      await spo2.stop();
    }
  });

  it('refuses to start with an unreadable certificate, naming the file', async () => {
    await assert.rejects(startSpo2({ env: { SPO2_TLS_CERT: '/nonexistent/cert.pem', SPO2_TLS_KEY: '/nonexistent/key.pem' } }), /cannot read SPO2_TLS_CERT \/nonexistent\/cert\.pem/);
  });
});
