/**
 * The nginx guide, proven: Debian's nginx runs the shipped deploy/nginx/spo2.conf with only
 * its paths and ports changed, in front of a real SpO₂, with a self-signed certificate and
 * an htpasswd file. CI installs nginx, openssl and apache2-utils (.ci/run).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { q, startSpo2, startTargetServer, tempDir, waitFor, type Spo2, type TargetServer } from './helpers.js';

const ROOT = new URL('..', import.meta.url).pathname;
const USER = 'ops';
const PASSWORD = 'correct horse battery staple';
const auth = (user: string, pass: string) => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
const GOOD = auth(USER, PASSWORD);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The shipped config with only paths and ports replaced; everything else is exactly as users get it. */
function localize(conf: string, dir: string, ports: { http: number; https: number; spo2: number }): string {
  const replacements: [string, string][] = [
    ['listen 80;', `listen 127.0.0.1:${ports.http};`],
    ['listen 443 ssl;', `listen 127.0.0.1:${ports.https} ssl;`],
    ['server 127.0.0.1:8000;', `server 127.0.0.1:${ports.spo2};`],
    ['/etc/letsencrypt/live/spo2.example.com/fullchain.pem', join(dir, 'cert.pem')],
    ['/etc/letsencrypt/live/spo2.example.com/privkey.pem', join(dir, 'key.pem')],
    ['/etc/nginx/spo2.htpasswd', join(dir, 'htpasswd')],
    ['/var/www/certbot', join(dir, 'www')],
  ];
  let out = conf;
  for (const [from, to] of replacements) {
    assert.ok(out.includes(from), `deploy/nginx/spo2.conf no longer contains ${from}`);
    out = out.split(from).join(to);
  }
  return out;
}

describe('nginx in front of SpO₂ (deploy/nginx/spo2.conf)', { timeout: 60_000 }, () => {
  let dir: string;
  let spo2: Spo2;
  let target: TargetServer;
  let nginx: ChildProcess;
  let nginxLog = '';
  let httpsBase: string;
  let httpBase: string;
  const insecure = new Agent({ connect: { rejectUnauthorized: false } });

  const get = (path: string, headers: Record<string, string> = {}) =>
    request(httpsBase + path, { dispatcher: insecure, headers }).then(async (r) => ({ status: r.statusCode, headers: r.headers, text: await r.body.text() }));

  before(async () => {
    dir = tempDir('spo2-nginx-');
    // nginx's workers drop root for "nobody": they must read the password file at request time.
    chmodSync(dir, 0o755);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    execFileSync('htpasswd', ['-B', '-b', '-c', join(dir, 'htpasswd'), USER, PASSWORD], { stdio: 'ignore' });
    chmodSync(join(dir, 'htpasswd'), 0o644);

    target = await startTargetServer();
    spo2 = await startSpo2();
    const ports = { http: await freePort(), https: await freePort(), spo2: Number(new URL(spo2.httpUrl).port) };
    httpsBase = `https://127.0.0.1:${ports.https}`;
    httpBase = `http://127.0.0.1:${ports.http}`;

    const site = localize(readFileSync(join(ROOT, 'deploy/nginx/spo2.conf'), 'utf8'), dir, ports);
    writeFileSync(join(dir, 'spo2.conf'), site);
    // The wrapper stands in for Debian's /etc/nginx/nginx.conf, which includes sites in http {}.
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`).join('\n');
    writeFileSync(join(dir, 'nginx.conf'), `worker_processes 1;\nevents { worker_connections 256; }\nhttp {\n  access_log ${join(dir, 'access.log')};\n${temp}\n  include ${join(dir, 'spo2.conf')};\n}\n`);
    nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'error.log')} info;`], { stdio: ['ignore', 'ignore', 'pipe'] });
    nginx.stderr!.on('data', (chunk: Buffer) => (nginxLog += chunk.toString()));
    nginx.once('exit', (code) => (nginxLog += `\nnginx exited with ${code}`));
    await waitFor(async () => (await get('/healthz').catch(() => null))?.status === 200, 10_000, `nginx to serve (${nginxLog})`);
  });

  after(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx.once('exit', resolve));
      nginx.kill('SIGTERM');
      await exited;
    }
    await spo2?.stop();
    await target?.close();
    await insecure.close();
  });

  it('serves the dashboard over HTTPS with the right credentials', async () => {
    const res = await get('/', { authorization: GOOD, accept: 'text/html' });
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /text\/html/);
    assert.match(String(res.headers['strict-transport-security']), /max-age=\d+/);
  });

  it('serves the API over HTTPS with the right credentials', async () => {
    const url = target.url('/through-nginx');
    const put = await request(httpsBase + q(url), { method: 'PUT', dispatcher: insecure, headers: { authorization: GOOD } });
    assert.equal(put.statusCode, 200, await put.body.text());
    const all = await get('/all', { authorization: GOOD });
    assert.equal(all.status, 200);
    assert.ok((JSON.parse(all.text) as { url: string }[]).some((t) => t.url === url));
  });

  it('answers 401 to wrong or missing credentials, before SpO₂ sees the request', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: auth(USER, 'wrong') }, { authorization: auth('root', PASSWORD) }];
    for (const headers of attempts) {
      const res = await get('/all', headers);
      assert.equal(res.status, 401);
      assert.match(String(res.headers['www-authenticate']), /Basic realm="SpO2"/);
    }
    const put = await request(httpsBase + q(target.url('/sneaky')), { method: 'PUT', dispatcher: insecure });
    assert.equal(put.statusCode, 401);
    await put.body.dump();
    const all = JSON.parse((await get('/all', { authorization: GOOD })).text) as { url: string }[];
    assert.ok(!all.some((t) => t.url.endsWith('/sneaky')));
  });

  it('streams live events over wss:// with the credentials, and refuses it without', async () => {
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(httpsBase.replace('https', 'wss') + '/ws', { rejectUnauthorized: false });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    assert.equal(refused, 401);

    const ws = new WebSocket(httpsBase.replace('https', 'wss') + '/ws', { rejectUnauthorized: false, headers: { authorization: GOOD } });
    const messages: { url: string; status: string }[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as { url: string; status: string }));
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const url = target.url('/live');
    const put = await request(httpsBase + q(url), { method: 'PUT', dispatcher: insecure, headers: { authorization: GOOD } });
    assert.equal(put.statusCode, 200);
    await put.body.dump();
    await waitFor(() => messages.some((m) => m.url === url), 5_000, 'the new target on the WebSocket');
    target.set('/live', { status: 503, statusMessage: 'Service Unavailable' });
    await waitFor(() => messages.some((m) => m.url === url && m.status === 'Unhealthy'), 10_000, 'the transition on the WebSocket');
    ws.close();
  });

  it('redirects plain HTTP to HTTPS', async () => {
    const res = await request(httpBase + '/all?x=1');
    assert.equal(res.statusCode, 301);
    assert.equal(res.headers.location, 'https://127.0.0.1/all?x=1');
    await res.body.dump();
  });
});
