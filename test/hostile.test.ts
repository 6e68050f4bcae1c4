/**
 * Hostile input against the real server: every malformed request gets a clean 4xx (or the
 * socket is closed where HTTP has no answer), the process stays up, and nothing is stored.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { api, q, startSpo2, startTargetServer, type Spo2, type TargetServer } from './helpers.js';

interface RawAnswer {
  status: number | null;
  body: string;
  closed: boolean;
}

/** Sends bytes on a fresh socket and reads until the server closes it or `waitMs` passes. */
function raw(port: number, data: string | Buffer, waitMs = 3_000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, body: text.slice(text.indexOf('\r\n\r\n') + 4), closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('close', () => finish(true));
    socket.on('error', () => {});
    socket.write(data);
  });
}

const request = (line: string, headers = '', body: string | Buffer = '') =>
  Buffer.concat([Buffer.from(`${line}\r\nHost: spo2.test\r\n${headers}Connection: close\r\n\r\n`, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1')]);
const withBody = (line: string, body: string | Buffer, type = 'application/json') =>
  request(line, `Content-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`, body);

/**
 * Each: what is sent, and the 4xx expected: a number (with a JSON `{"error": ...}` body),
 * `bare` for Node's and ws's own refusals (a status line, a short text body or none), or
 * 'closed' where HTTP has no answer.
 */
type Expected = number | { bare: number } | 'closed';
const HOSTILE: [string, Buffer | string, Expected][] = [
  ['a 100 kB header', request('GET /all HTTP/1.1', `X-Big: ${'a'.repeat(100_000)}\r\n`), 431],
  ['3000 headers', request('GET /all HTTP/1.1', Array.from({ length: 3000 }, (_, i) => `X-${i}: 1\r\n`).join('')), 431],
  ['a 20 kB request line', request(`PUT /?url=http://a.test/${'a'.repeat(20_000)} HTTP/1.1`), 431],
  ['a 10 kB target URL', request(`PUT /?url=${encodeURIComponent('http://a.test/' + 'a'.repeat(10_000))} HTTP/1.1`), 400],
  ['percent-encoded invalid UTF-8 as the url', request('PUT /?url=%ff%fe HTTP/1.1'), 400],
  ['invalid UTF-8 in the host', request('PUT /?url=http%3A%2F%2F%ff%fe.test%2F HTTP/1.1'), 400],
  ['a lone % as the url', request('PUT /?url=% HTTP/1.1'), 400],
  ['bad percent-encoding in the path', request('GET /%ff HTTP/1.1'), 400],
  ['a truncated escape in the path', request('GET /all% HTTP/1.1'), 400],
  ['raw 8-bit bytes in the request line', Buffer.from('PUT /?url=http://a.test/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'latin1'), 400],
  ['a body that is not UTF-8', withBody('PUT /?url=http://utf8.test/ HTTP/1.1', Buffer.from([0xff, 0xfe, 0x22, 0x22])), 400],
  ['JSON nested 20000 deep', withBody('PUT /?url=http://deep.test/ HTTP/1.1', '['.repeat(20_000) + ']'.repeat(20_000)), 400],
  ['JSON objects nested 1000 deep', withBody('POST /api/v1/targets HTTP/1.1', '{"url":"http://deep2.test/","data":' + '{"a":'.repeat(1000) + '1' + '}'.repeat(1001)), 400],
  ['a body that is not JSON', withBody('PUT /?url=http://notjson.test/ HTTP/1.1', '{"a":'), 400],
  ['a body over the limit', request('PUT /?url=http://big.test/ HTTP/1.1', 'Content-Length: 1000000\r\n', 'x'.repeat(70_000)), 413],
  ['Content-Length and Transfer-Encoding (smuggling)', request('PUT /?url=http://smuggle.test/ HTTP/1.1', 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 400],
  ['a malformed chunk', request('PUT /?url=http://chunk.test/ HTTP/1.1', 'Transfer-Encoding: chunked\r\n', 'zz\r\nabc\r\n0\r\n\r\n'), 400],
  ['CR LF inside the url', request('PUT /?url=http://a.test/%0d%0aX-Injected:%20yes HTTP/1.1'), 400],
  ['a NUL inside the host', request(`PUT /?url=${encodeURIComponent('http://a\u0000b.test/')} HTTP/1.1`), 400],
  ['the url parameter twice', request('PUT /?url=http://a.test/&url=http://b.test/ HTTP/1.1'), 400],
  ['another scheme', request(`PUT /?url=${encodeURIComponent('file:///etc/passwd')} HTTP/1.1`), 400],
  ['javascript: as the url', request(`PUT /?url=${encodeURIComponent('javascript:alert(1)')} HTTP/1.1`), 400],
  ['an unclosed IPv6 literal', request(`PUT /?url=${encodeURIComponent('http://[::1')} HTTP/1.1`), 400],
  ['an IPv6 literal with a zone', request(`PUT /?url=${encodeURIComponent('http://[fe80::1%25eth0]/')} HTTP/1.1`), 400],
  ['a link-local IPv6 literal', request(`PUT /?url=${encodeURIComponent('http://[fe80::1]/')} HTTP/1.1`), 400],
  ['the cloud metadata address', request(`PUT /?url=${encodeURIComponent('http://169.254.169.254/latest/meta-data/')} HTTP/1.1`), 400],
  ['the metadata address in hex', request(`PUT /?url=${encodeURIComponent('http://0xa9fea9fe/')} HTTP/1.1`), 400],
  ['an invalid punycode host', request(`PUT /?url=${encodeURIComponent('http://xn--a.test/')} HTTP/1.1`), 400],
  ['a host with a forbidden code point', request(`PUT /?url=${encodeURIComponent('http://exa%mple.test/')} HTTP/1.1`), 400],
  ['PATCH', request('PATCH /?url=http://a.test/ HTTP/1.1'), 404],
  ['TRACE', request('TRACE / HTTP/1.1'), 404],
  ['OPTIONS', request('OPTIONS /all HTTP/1.1'), 404],
  ['PROPFIND', request('PROPFIND / HTTP/1.1'), 404],
  ['a made-up method', request('FOO / HTTP/1.1'), 400],
  ['CONNECT (no proxying here: Node closes the socket)', request('CONNECT example.com:443 HTTP/1.1'), 'closed'],
  ['garbage instead of HTTP', 'GARBAGE\r\n\r\n', 400],
  ['an HTTP/2 preface on HTTP/1', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400],
  ['no Host header', 'GET /all HTTP/1.1\r\nConnection: close\r\n\r\n', { bare: 400 }],
  ['a huge /api/v1 id', request('GET /api/v1/targets/99999999999999999999999 HTTP/1.1'), 400],
  ['a negative /api/v1 limit', request('GET /api/v1/targets?limit=-5 HTTP/1.1'), 400],
  ['a WebSocket upgrade with a bad version', request('GET /ws HTTP/1.1', 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: x\r\n'), { bare: 400 }],
];

describe('hostile requests against the real server', { timeout: 120_000 }, () => {
  let spo2: Spo2;
  let target: TargetServer;
  let port: number;
  let wsPort: number;
  let baseline: string[];

  const storedUrls = async () => ((await api<{ url: string }[]>(spo2.httpUrl, 'GET', '/all')).body).map((t) => t.url).sort();

  before(async () => {
    target = await startTargetServer();
    spo2 = await startSpo2({ wsListener: true });
    port = Number(new URL(spo2.httpUrl).port);
    wsPort = Number(new URL(spo2.wsUrl!).port);
    assert.equal((await api(spo2.httpUrl, 'PUT', q(target.url('/ok')), { team: 'a' })).status, 200);
    baseline = await storedUrls();
  });

  after(async () => {
    await spo2?.stop();
    await target?.close();
  });

  for (const [name, data, expected] of HOSTILE) {
    it(`${name} → ${typeof expected === 'object' ? expected.bare : expected}`, async () => {
      const answer = await raw(port, data);
      if (expected === 'closed') {
        assert.equal(answer.closed, true, 'the socket is closed');
        assert.equal(answer.status, null);
      } else if (typeof expected === 'object') {
        assert.equal(answer.status, expected.bare, answer.body.slice(0, 300));
      } else {
        assert.equal(answer.status, expected, answer.body.slice(0, 300));
        assert.match(answer.body, /"error":"[^"]+/, 'a JSON body saying what is wrong');
      }
    });
  }

  it('the extra WebSocket listener refuses plain HTTP and garbage cleanly', async () => {
    assert.equal((await raw(wsPort, request('GET / HTTP/1.1'))).status, 426);
    assert.equal((await raw(wsPort, 'GARBAGE\r\n\r\n')).status, 400);
    assert.equal((await raw(wsPort, request('GET / HTTP/1.1', `X-Big: ${'a'.repeat(100_000)}\r\n`))).status, 431);
  });

  it('stalled and trickling clients (slow-loris) lose their sockets while others are served', async () => {
    // Headers that never end, bodies that never arrive, and a crowd of both.
    const open = (data: string): Socket => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.resume(); // read the 408, so the server's close is seen
      s.write(data);
      return s;
    };
    const closedWithin = (s: Socket, ms: number) => new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      s.once('close', () => { clearTimeout(timer); resolve(true); });
    });
    const partialHeaders = open('GET /all HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const trickle = setInterval(() => partialHeaders.write('a'), 500);
    const stalledBody = open('PUT /?url=http://slow.test/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":');
    const crowd = Array.from({ length: 200 }, () => open('GET /all HTTP/1.1\r\nHost: x\r\n'));
    try {
      const started = Date.now();
      for (let i = 0; i < 5; i++) assert.equal((await api(spo2.httpUrl, 'GET', '/all')).status, 200);
      assert.ok(Date.now() - started < 2_000, 'others are served at once');
      const [headersCut, bodyCut] = await Promise.all([closedWithin(partialHeaders, 20_000), closedWithin(stalledBody, 40_000)]);
      assert.ok(headersCut, 'trickled headers are cut after the headers timeout');
      assert.ok(bodyCut, 'a stalled body is cut after the request timeout');
      assert.ok(crowd.every((s) => s.destroyed || s.readableEnded), 'the crowd of half-open requests is gone too');
    } finally {
      clearInterval(trickle);
      for (const s of [partialHeaders, stalledBody, ...crowd]) s.destroy();
    }
  });

  it('keeps valid IPv6 and IDN targets in their canonical form', async () => {
    for (const [url, canonical] of <Array<[string, string]>>[
      [`http://[::1]:${target.port}/v6`, `http://[::1]:${target.port}/v6`],
      ['http://bücher.test/', 'http://xn--bcher-kva.test/'],
      ['http://xn--bcher-kva.test/', 'http://xn--bcher-kva.test/'],
      ['http://ｅｘａｍｐｌｅ．test/', 'http://example.test/'],
    ]) {
      const put = await api(spo2.httpUrl, 'PUT', q(url));
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.url, canonical);
      assert.equal((await api(spo2.httpUrl, 'GET', q(url))).body.url, canonical);
      assert.equal((await api(spo2.httpUrl, 'DELETE', q(url))).status, 200);
    }
  });

  it('is still up, stored nothing, and still streams', async () => {
    assert.equal(spo2.proc.exitCode, null);
    assert.equal((await api(spo2.httpUrl, 'GET', '/healthz')).status, 200);
    assert.deepEqual(await storedUrls(), baseline);
    const first = await new Promise<{ url: string; data: unknown }>((resolve, reject) => {
      const ws = new WebSocket(spo2.wsUrl!);
      ws.once('message', (m) => { ws.close(); resolve(JSON.parse(String(m)) as { url: string; data: unknown }); });
      ws.once('error', reject);
    });
    assert.deepEqual([first.url, first.data], [target.url('/ok'), { team: 'a' }]);
    assert.ok(!spo2.logs.some((l) => l.level >= 50), `no error logged: ${JSON.stringify(spo2.logs.filter((l) => l.level >= 50))}`);
  });
});
