import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FAST_ENV, type Spo2, type TargetServer, api, backends, q, refusedUrl, startSpo2, startTargetServer, waitFor } from './helpers.ts';

// The whole API on each storage engine: same contract, same answers.
const engines = backends();
after(() => Promise.all(engines.map((b) => b.stop())));

for (const backend of engines) {
  describe(`compatible API against real targets (${backend.name})`, { skip: backend.skip }, () => {
    let spo2: Spo2;
    let targets: TargetServer;

    before(async () => {
      targets = await startTargetServer();
      targets.set('/down', { status: 503 });
      targets.set('/slow', { delayMs: Infinity });
      spo2 = await startSpo2({ backend, env: FAST_ENV });
    });
    after(async () => {
      await spo2.stop();
      await targets.close();
    });

    const status = async (url: string) => (await api(spo2.httpUrl, 'GET', q(url))).body;

    it('PUT registers a URL and answers with its value', async () => {
      const url = targets.url('/ok');
      const res = await api(spo2.httpUrl, 'PUT', q(url), { team: 'search' });
      assert.equal(res.status, 200);
      assert.equal(res.body.url, url);
      assert.equal(res.body.status, 'Healthy');
      assert.equal(res.body.reason, '');
      assert.deepEqual(res.body.data, { team: 'search' });
      assert.equal(typeof res.body.id, 'number');
    });

    it('a healthy target shows its HTTP status and latency once probed', async () => {
      const url = targets.url('/ok');
      const v = await waitFor(async () => { const b = await status(url); return b.lastCheck ? b : null; });
      assert.equal(v.status, 'Healthy');
      assert.equal(v.httpStatus, 200);
      assert.equal(typeof v.latencyMs, 'number');
    });

    it('a 5xx target turns Unhealthy with the status line as reason', async () => {
      const url = targets.url('/down');
      await api(spo2.httpUrl, 'PUT', q(url));
      const v = await waitFor(async () => { const b = await status(url); return b.status === 'Unhealthy' ? b : null; }, 5000);
      assert.equal(v.reason, '503 Service Unavailable');
      assert.equal(v.httpStatus, 503);
    });

    it('a refused target turns Unreachable with the error message', async () => {
      const url = await refusedUrl();
      await api(spo2.httpUrl, 'POST', q(url));
      const v = await waitFor(async () => { const b = await status(url); return b.status === 'Unreachable' ? b : null; }, 5000);
      assert.match(v.reason, /^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
      assert.equal(v.httpStatus, null);
    });

    it('a target slower than the timeout turns Unreachable with a timeout reason', async () => {
      const url = targets.url('/slow');
      await api(spo2.httpUrl, 'PUT', q(url));
      const v = await waitFor(async () => { const b = await status(url); return b.status === 'Unreachable' ? b : null; }, 8000);
      assert.equal(v.reason, 'timeout after 500 ms');
    });

    it('a URL cut at an unencoded "&" is refused with its encoded form; other extra parameters stay ignored', async () => {
      const cut = await api(spo2.httpUrl, 'PUT', `/?url=${targets.url('/a')}?x=1&y=2`);
      assert.equal(cut.status, 400);
      assert.match(cut.body.error, /unencoded "&" \(other parameters: y\)/);
      assert.ok(cut.body.error.endsWith(`?url=${encodeURIComponent(targets.url('/a?x=1&y=2'))}`), cut.body.error);
      assert.equal((await api(spo2.httpUrl, 'GET', `/?url=${encodeURIComponent(targets.url('/a?x=1'))}`)).status, 404, 'nothing registered');
      const extra = await api(spo2.httpUrl, 'PUT', `${q(targets.url('/plain'))}&verbose=1`);
      assert.equal(extra.status, 200, 'a URL without a query of its own keeps the old leniency');
      const encoded = await api(spo2.httpUrl, 'PUT', q(targets.url('/a?x=1&y=2')));
      assert.equal(encoded.body.url, targets.url('/a?x=1&y=2'));
      await api(spo2.httpUrl, 'DELETE', q(targets.url('/plain')));
      await api(spo2.httpUrl, 'DELETE', q(targets.url('/a?x=1&y=2')));
    });

    it('a URL without a scheme gets a suggestion', async () => {
      const res = await api(spo2.httpUrl, 'PUT', q('example.com'));
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'url has no scheme: did you mean "http://example.com"?');
    });

    it('PUT again is idempotent: same id, status kept, data replaced, no extra probing', async () => {
      const url = targets.url('/down');
      const before = await status(url);
      const hits = targets.hits('/down');
      const res = await api(spo2.httpUrl, 'PUT', q(url), [1, 2]);
      assert.equal(res.body.id, before.id);
      assert.equal(res.body.status, 'Unhealthy');
      assert.deepEqual(res.body.data, [1, 2]);
      assert.ok(targets.hits('/down') - hits <= 2, 'no burst of probes after re-registration');
      const again = await api(spo2.httpUrl, 'PUT', q(url));
      assert.deepEqual(again.body.data, [1, 2], 'a PUT without a body keeps the data');
    });

    it('GET /all lists every target', async () => {
      const res = await api(spo2.httpUrl, 'GET', '/all');
      assert.equal(res.status, 200);
      assert.ok(Array.isArray(res.body));
      for (const v of res.body) for (const k of ['url', 'status', 'reason', 'data']) assert.ok(k in v, k);
      assert.ok(res.body.some((v: { url: string }) => v.url === targets.url('/ok')));
    });

    it('DELETE removes a target and answers with it; then 404', async () => {
      const url = targets.url('/ok');
      const res = await api(spo2.httpUrl, 'DELETE', q(url));
      assert.equal(res.status, 200);
      assert.equal(res.body.url, url);
      assert.equal((await api(spo2.httpUrl, 'GET', q(url))).status, 404);
      const again = await api(spo2.httpUrl, 'DELETE', q(url));
      assert.equal(again.status, 404);
      assert.match(again.body.error, /not registered/);
      const hits = targets.hits('/ok');
      await new Promise((r) => setTimeout(r, 700));
      assert.ok(targets.hits('/ok') - hits <= 1, 'a removed target is no longer probed');
    });

    for (const [name, path, body, code, message] of [
      ['a missing url', '/', undefined, 400, /missing "url"/],
      ['another scheme', q('ftp://example.com/'), undefined, 400, /unsupported scheme "ftp"/],
      ['a URL without host', q('http://'), undefined, 400, /invalid url|no host/],
      ['an overlong URL', q('http://example.com/' + 'a'.repeat(2100)), undefined, 400, /longer than 2048/],
      ['a body that is not JSON', q('http://example.com/'), '{nope', 400, /not valid JSON/],
      ['a body over the limit', q('http://example.com/'), JSON.stringify({ x: 'a'.repeat(70 * 1024) }), 413, /larger than the limit/],
      ['a deeply nested body', q('http://example.com/'), '['.repeat(5000) + ']'.repeat(5000), 400, /nests deeper/],
      ['url given twice', '/?url=http%3A%2F%2Fa&url=http%3A%2F%2Fb', undefined, 400, /more than once/],
    ] as const) {
      it(`refuses ${name} with ${code} and a JSON error, changing nothing`, async () => {
        const before = (await api(spo2.httpUrl, 'GET', '/all')).body.length;
        const res = await api(spo2.httpUrl, 'PUT', path, body);
        assert.equal(res.status, code);
        assert.match(res.body.error, message);
        assert.equal((await api(spo2.httpUrl, 'GET', '/all')).body.length, before);
        assert.equal((await api(spo2.httpUrl, 'GET', q('http://example.com/'))).status, 404);
      });
    }

    it('accepts a JSON body whatever its content type (curl -d)', async () => {
      const url = targets.url('/form');
      const res = await api(spo2.httpUrl, 'PUT', q(url), '{"a":1}', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.data, { a: 1 });
    });

    it('GET / says it varies on Accept, for the page and for the JSON alike', async () => {
      const json = await api(spo2.httpUrl, 'GET', q(targets.url('/down')));
      assert.equal(json.headers.get('vary'), 'Accept');
      const page = await api(spo2.httpUrl, 'GET', '/', undefined, { accept: 'text/html' });
      assert.equal(page.headers.get('vary'), 'Accept');
    });

    it('survives WebSocket upgrades whose clients reset at once', async () => {
      const { port } = new URL(spo2.httpUrl);
      for (let i = 0; i < 50; i++) {
        const socket = connect(Number(port), '127.0.0.1');
        socket.on('error', () => {});
        socket.write(`GET ${i % 2 ? '/ws' : '/elsewhere'} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
        socket.resetAndDestroy();
      }
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await api(spo2.httpUrl, 'GET', '/healthz')).status, 200);
      assert.equal(spo2.proc.exitCode, null);
    });

    it('answers unknown routes with a JSON 404 and /healthz with ok', async () => {
      const nf = await api(spo2.httpUrl, 'GET', '/nope');
      assert.equal(nf.status, 404);
      assert.match(nf.body.error, /no route/);
      const h = await api(spo2.httpUrl, 'GET', '/healthz');
      assert.equal(h.status, 200);
      assert.equal(h.body.status, 'ok');
    });

    it('logs one line per transition, nothing per probe or request', async () => {
      const lines = spo2.logs.filter((l) => l.msg === 'target went bad' || l.msg === 'target recovered');
      assert.ok(lines.length >= 3, 'transitions are logged');
      assert.ok(lines.every((l) => typeof l.url === 'string' && typeof l.status === 'string'));
      assert.ok(spo2.logs.length < 20, `few log lines, got ${spo2.logs.length}`);
    });
  });

  describe(`REST API /api/v1 (${backend.name})`, { skip: backend.skip }, () => {
    let spo2: Spo2;
    before(async () => { spo2 = await startSpo2({ backend, env: { SPO2_INTERVAL: '1h', SPO2_FAST_INTERVAL: '1h' } }); });
    after(async () => { await spo2.stop(); });

    it('creates with 201 and a location, then 200 on the same URL', async () => {
      const created = await api(spo2.httpUrl, 'POST', '/api/v1/targets', { url: 'http://127.0.0.1:1/a', data: { pr: 7 } });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get('location'), `/api/v1/targets/${created.body.id}`);
      const again = await api(spo2.httpUrl, 'POST', '/api/v1/targets', { url: 'http://127.0.0.1:1/a' });
      assert.equal(again.status, 200);
      assert.equal(again.body.id, created.body.id);
    });

    it('reads, replaces data and deletes by id', async () => {
      const { body: t } = await api(spo2.httpUrl, 'POST', '/api/v1/targets', { url: 'http://127.0.0.1:1/b' });
      assert.equal((await api(spo2.httpUrl, 'GET', `/api/v1/targets/${t.id}`)).body.url, 'http://127.0.0.1:1/b');
      const replaced = await api(spo2.httpUrl, 'PUT', `/api/v1/targets/${t.id}/data`, { owner: 'x' });
      assert.deepEqual(replaced.body.data, { owner: 'x' });
      assert.equal((await api(spo2.httpUrl, 'DELETE', `/api/v1/targets/${t.id}`)).status, 200);
      assert.equal((await api(spo2.httpUrl, 'GET', `/api/v1/targets/${t.id}`)).status, 404);
      assert.equal((await api(spo2.httpUrl, 'GET', '/api/v1/targets/abc')).status, 400);
    });

    it('paginates with a cursor and filters by status and substring', async () => {
      for (let i = 0; i < 25; i++) await api(spo2.httpUrl, 'POST', '/api/v1/targets', { url: `http://127.0.0.1:1/page/${i}` });
      const seen: string[] = [];
      let after = 0;
      for (;;) {
        const page = await api(spo2.httpUrl, 'GET', `/api/v1/targets?q=/page/&limit=10&after=${after}`);
        seen.push(...page.body.items.map((t: { url: string }) => t.url));
        if (page.body.next === null) break;
        after = page.body.next;
      }
      assert.equal(seen.length, 25);
      assert.equal(new Set(seen).size, 25);
      const healthy = await api(spo2.httpUrl, 'GET', '/api/v1/targets?status=Healthy&limit=1000');
      assert.ok(healthy.body.items.length >= 25);
      assert.equal((await api(spo2.httpUrl, 'GET', '/api/v1/targets?status=Sick')).status, 400);
      assert.equal((await api(spo2.httpUrl, 'GET', '/api/v1/targets?limit=0')).status, 400);
    });

    it('refuses bad bodies with a clear error', async () => {
      const noUrl = await api(spo2.httpUrl, 'POST', '/api/v1/targets', { data: 1 });
      assert.equal(noUrl.status, 400);
      assert.match(noUrl.body.error, /missing "url"/);
      const extra = await api(spo2.httpUrl, 'POST', '/api/v1/targets', { url: 'http://a/', color: 'red' });
      assert.match(extra.body.error, /unknown field "color"/);
    });

    it('serves its OpenAPI document', async () => {
      const doc = await api(spo2.httpUrl, 'GET', '/api/v1/openapi.json');
      assert.equal(doc.status, 200);
      assert.equal(doc.body.openapi, '3.1.0');
      for (const path of ['/', '/all', '/api/v1/targets', '/api/v1/targets/{id}']) assert.ok(doc.body.paths[path], path);
    });
  });
}
