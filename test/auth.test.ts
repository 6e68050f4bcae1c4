import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { hashPassword, parseBasicCredential, secretEquals, verifyPassword } from '../src/core/password.js';
import { Authenticator, FailureLimiter, securityNotes, type AuthConfig, type AuthRequest } from '../src/http/auth.js';

const API = 'api-token-0123456789abcdef';
const READ = 'read-token-0123456789abcdef';

function req(method: string, url: string, headers: Record<string, string> = {}, ip = '10.0.0.1'): AuthRequest {
  return { method, url, headers, ip };
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const basic = (user: string, pass: string) => ({ authorization: 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64') });

async function authenticator(config: Partial<AuthConfig>, limiter?: FailureLimiter): Promise<Authenticator> {
  return new Authenticator({ apiToken: null, readToken: null, basicAuth: null, ...config }, limiter);
}

describe('password hashes (SPO2_BASIC_AUTH)', () => {
  it('verifies the password it hashed and nothing else', async () => {
    const hash = await hashPassword('correct horse');
    assert.match(hash, /^\$scrypt\$N=16384,r=8,p=1\$/);
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('correct hors', hash), false);
    assert.equal(await verifyPassword('correct horse', 'garbage'), false);
  });

  it('parses user:hash and never repeats the value in an error', async () => {
    const hash = await hashPassword('pw');
    assert.deepEqual(parseBasicCredential(`admin:${hash}`), { user: 'admin', hash });
    assert.equal(parseBasicCredential(''), null);
    assert.throws(() => parseBasicCredential('admin:plaintext-secret'), (err: Error) => !err.message.includes('plaintext-secret'));
    assert.throws(() => parseBasicCredential(`:${hash}`), /user:hash/);
  });

  it('compares secrets of any length', () => {
    assert.equal(secretEquals('abc', 'abc'), true);
    assert.equal(secretEquals('abc', 'abcd'), false);
  });
});

describe('config of the security options', () => {
  it('reads tokens, basic auth, TLS files and the allow-list', async () => {
    const hash = await hashPassword('pw');
    const c = loadConfig({ SPO2_API_TOKEN: API, SPO2_READ_TOKEN: READ, SPO2_BASIC_AUTH: `ops:${hash}`, SPO2_TLS_CERT: 'c.pem', SPO2_TLS_KEY: 'k.pem', SPO2_ALLOW_TARGETS: '10.0.0.0/8,*.svc.cluster.local' });
    assert.equal(c.apiToken, API);
    assert.equal(c.readToken, READ);
    assert.equal(c.basicAuth?.user, 'ops');
    assert.equal(c.tlsCert, 'c.pem');
    assert.equal(c.allowTargets?.length, 2);
    const d = loadConfig({});
    assert.deepEqual([d.apiToken, d.readToken, d.basicAuth, d.tlsCert, d.tlsKey, d.allowTargets], [null, null, null, null, null, null]);
  });

  it('refuses a short token without printing it', () => {
    assert.throws(() => loadConfig({ SPO2_API_TOKEN: 'hunter2' }), (err: Error) => /SPO2_API_TOKEN=\(value hidden\)/.test(err.message) && !err.message.includes('hunter2'));
  });

  it('refuses a read token alone, which would leave writes open', () => {
    assert.throws(() => loadConfig({ SPO2_READ_TOKEN: READ }), /SPO2_READ_TOKEN needs SPO2_API_TOKEN or SPO2_BASIC_AUTH/);
  });

  it('needs the TLS certificate and key together', () => {
    assert.throws(() => loadConfig({ SPO2_TLS_CERT: 'c.pem' }), /SPO2_TLS_CERT and SPO2_TLS_KEY must be set together/);
  });

  it('names a bad allow-list entry', () => {
    assert.throws(() => loadConfig({ SPO2_ALLOW_TARGETS: '10.0.0.0/40' }), /SPO2_ALLOW_TARGETS.*10\.0\.0\.0\/40/);
  });
});

describe('who may do what', () => {
  it('lets everything through when nothing is configured', async () => {
    const auth = await authenticator({});
    assert.equal(auth.enabled, false);
    assert.deepEqual(await auth.check(req('PUT', '/?url=x')), { ok: true });
  });

  it('with only an API token: writes need it, reads stay open', async () => {
    const auth = await authenticator({ apiToken: API });
    assert.equal((await auth.check(req('GET', '/all'))).ok, true);
    const denied = await auth.check(req('PUT', '/?url=http://a/'));
    assert.equal(denied.ok || denied.status, 401);
    assert.equal(denied.ok || denied.headers['www-authenticate'], 'Bearer realm="SpO2"');
    assert.equal((await auth.check(req('PUT', '/?url=http://a/', bearer('wrong-token-000000000')))).ok, false);
    assert.equal((await auth.check(req('DELETE', '/?url=http://a/', bearer(API)))).ok, true);
    assert.equal((await auth.check(req('POST', '/api/v1/targets', { 'x-spo2-token': API }))).ok, true);
  });

  it('with a read token: reads need a token, the read token cannot write', async () => {
    const auth = await authenticator({ apiToken: API, readToken: READ });
    assert.equal((await auth.check(req('GET', '/all'))).ok, false);
    assert.equal((await auth.check(req('GET', '/all', bearer(READ)))).ok, true);
    assert.equal((await auth.check(req('GET', '/ws', bearer(API)))).ok, true);
    const write = await auth.check(req('PUT', '/?url=http://a/', bearer(READ)));
    assert.equal(write.ok || write.status, 403);
  });

  it('with basic auth: the dashboard and reads need the user, writes the token', async () => {
    const auth = await authenticator({ apiToken: API, basicAuth: { user: 'ops', hash: await hashPassword('s3cret') } });
    const anon = await auth.check(req('GET', '/', { accept: 'text/html' }));
    assert.equal(anon.ok || anon.headers['www-authenticate'], 'Basic realm="SpO2", charset="UTF-8"');
    assert.equal((await auth.check(req('GET', '/', basic('ops', 's3cret')))).ok, true);
    assert.equal((await auth.check(req('GET', '/', basic('ops', 'wrong')))).ok, false);
    assert.equal((await auth.check(req('GET', '/', basic('root', 's3cret')))).ok, false);
    const write = await auth.check(req('PUT', '/?url=http://a/', basic('ops', 's3cret')));
    assert.equal(write.ok || write.status, 403);
  });

  it('any credential guards writes: a read token alone never leaves them open', async () => {
    const auth = await authenticator({ readToken: READ });
    assert.equal((await auth.check(req('PUT', '/?url=http://a/'))).ok, false);
    assert.equal((await auth.check(req('DELETE', '/?url=http://a/', bearer(READ)))).ok, false);
  });

  it('basic auth alone also guards writes', async () => {
    const auth = await authenticator({ basicAuth: { user: 'ops', hash: await hashPassword('s3cret') } });
    assert.equal((await auth.check(req('PUT', '/?url=http://a/'))).ok, false);
    assert.equal((await auth.check(req('PUT', '/?url=http://a/', basic('ops', 's3cret')))).ok, true);
  });

  it('keeps /healthz open for orchestrator probes', async () => {
    const auth = await authenticator({ apiToken: API, readToken: READ });
    assert.equal((await auth.check(req('GET', '/healthz'))).ok, true);
    assert.equal((await auth.check(req('GET', '/healthz?verbose=1'))).ok, true);
  });

  it('rate-limits failed attempts per client, then refuses even the right token', async () => {
    let t = 0;
    const auth = await authenticator({ apiToken: API }, new FailureLimiter(3, 10_000, 100, () => t));
    for (let i = 0; i < 3; i++) assert.equal((await auth.check(req('PUT', '/', bearer('x'.repeat(20))))).ok, false);
    const limited = await auth.check(req('PUT', '/', bearer(API)));
    assert.equal(limited.ok || limited.status, 429);
    assert.equal(limited.ok || limited.headers['retry-after'], '10');
    assert.equal((await auth.check(req('PUT', '/', bearer(API), '10.0.0.2'))).ok, true, 'another client is not affected');
    assert.equal((await auth.check(req('PUT', '/', {}))).ok || 'no creds', 'no creds');
    t += 10_000;
    assert.equal((await auth.check(req('PUT', '/', bearer(API)))).ok, true);
  });

  it('forgets the oldest clients past its size', () => {
    const limiter = new FailureLimiter(1, 60_000, 2, () => 0);
    limiter.fail('a');
    limiter.fail('b');
    limiter.fail('c');
    assert.equal(limiter.retryAfter('a'), 0);
    assert.equal(limiter.retryAfter('c'), 60);
  });
});

describe('start-up security notes', () => {
  const base = { apiToken: null, readToken: null, basicAuth: null, tlsCert: null, httpListen: { host: '127.0.0.1', port: 8000 }, wsListen: { host: '127.0.0.1', port: 8001 } };

  it('says loopback-only when nothing is configured', () => {
    const notes = securityNotes(base);
    assert.equal(notes[0]?.level, 'info');
    assert.match(notes[0]!.msg, /no authentication configured: listening on loopback only/);
  });

  it('warns about a public address without authentication', () => {
    const notes = securityNotes({ ...base, httpListen: { host: '0.0.0.0', port: 8000 } });
    assert.equal(notes[0]?.level, 'warn');
    assert.match(notes[0]!.msg, /0\.0\.0\.0:8000 WITHOUT authentication/);
  });

  it('warns about credentials in clear text, and never prints them', () => {
    const notes = securityNotes({ ...base, apiToken: API, httpListen: { host: '0.0.0.0', port: 8000 } });
    assert.ok(notes.some((n) => n.level === 'warn' && /clear text/.test(n.msg)));
    assert.ok(notes.every((n) => !n.msg.includes(API)));
  });
});
