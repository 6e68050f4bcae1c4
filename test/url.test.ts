import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { canonicalUrl, checkLookupUrl, checkTargetUrl } from '../src/core/url.ts';
import { planCanonicalUrls } from '../src/store/canonical-urls.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import { sqliteFile, tempDir } from './helpers.ts';

/** Every spelling here names one endpoint: the canonical form on the left. */
const SPELLINGS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['http://x.test/', ['http://x.test', 'HTTP://X.TEST', 'http://x.test:80/', 'http://x.test/?', 'http://x.test/#frag', 'http://x.test/?#', 'Http://X.test:80?#top']],
  ['http://x.test/a', ['http://x.test/./a', 'http://x.test/b/../a', 'http://x.test/a#frag', 'http://x.test/a?']],
  ['https://x.test/h?v=1', ['https://x.test:443/h?v=1', 'HTTPS://x.test/h?v=1#frag']],
  ['http://127.0.0.1/', ['http://2130706433/', 'http://0x7f.1/', 'http://0177.0.0.1']],
  ['http://xn--bcher-kva.test/', ['http://bücher.test/', 'http://BÜCHER.test', 'http://xn--bcher-kva.test']],
  ['http://[::1]:8080/', ['http://[0:0::1]:8080', 'http://[0000:0000:0000:0000:0000:0000:0000:0001]:8080/#x']],
];

describe('canonical URLs', () => {
  for (const [canonical, spellings] of SPELLINGS) {
    it(`${spellings.join(', ')} are all ${canonical}`, () => {
      for (const spelling of [canonical, ...spellings]) {
        assert.deepEqual(checkTargetUrl(spelling), { ok: true, url: canonical }, spelling);
        assert.deepEqual(checkLookupUrl(spelling), { ok: true, url: canonical }, spelling);
        assert.equal(canonicalUrl(spelling), canonical, spelling);
      }
    });
  }

  it('a URL without a scheme says what was probably meant', () => {
    for (const raw of ['example.com', 'localhost:8080/health', 'x.test/a?b=1']) {
      assert.deepEqual(checkTargetUrl(raw), { ok: false, error: `url has no scheme: did you mean "http://${raw}"?` }, raw);
    }
    assert.match((checkTargetUrl('ftp:/x') as { error: string }).error, /unsupported scheme "ftp"/);
    assert.match((checkTargetUrl('javascript:alert(1)') as { error: string }).error, /unsupported scheme "javascript"/);
  });

  it('keeps what does change the request: a non-empty query, path case, a trailing slash, a non-default port', () => {
    for (const url of ['http://x.test/?a', 'http://x.test/A', 'http://x.test/a/', 'http://x.test:8080/', 'http://x.test/a?b=1&a=2', 'http://x.test/%7e']) {
      assert.equal(canonicalUrl(url), url);
    }
  });

  it('is idempotent', () => {
    for (const [, spellings] of SPELLINGS) {
      for (const s of spellings) assert.equal(canonicalUrl(canonicalUrl(s)!), canonicalUrl(s));
    }
    assert.equal(canonicalUrl('http://admin:***@x.test/'), 'http://admin:***@x.test/');
  });

  it('refuses credentials at registration, saying why and what to do instead', () => {
    for (const url of ['http://admin:s3cr3t@x.test/', 'http://admin@x.test/', 'http://:s3cr3t@x.test/', 'https://u:s3cr3t@x.test:8443/h']) {
      const r = checkTargetUrl(url);
      assert.equal(r.ok, false, url);
      const { error } = r as { error: string };
      assert.match(error, /must not carry credentials/);
      assert.match(error, /shown in every answer, message and log/);
      assert.match(error, /health path that needs no credentials/);
      assert.ok(!error.includes('s3cr3t'), 'the error does not echo the password');
    }
  });

  it('masks credentials when a URL names a target (lookups, stored URLs)', () => {
    assert.deepEqual(checkLookupUrl('HTTP://admin:pass@X.test:80/#f'), { ok: true, url: 'http://admin:***@x.test/' });
    assert.equal(canonicalUrl('http://admin:other@x.test'), 'http://admin:***@x.test/');
    assert.equal(canonicalUrl('http://token123@x.test/'), 'http://***@x.test/', 'a lone user name is often a token');
    assert.equal(canonicalUrl('http://:pass@x.test/'), 'http://:***@x.test/');
  });

  it('refuses a URL that only grows past the limit once normalised', () => {
    const raw = 'http://x.test/' + 'é'.repeat(1500); // 1514 characters, 9014 once percent-encoded
    const r = checkTargetUrl(raw);
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, /longer than 2048 characters once normalised/);
  });

  it('answers null for what does not parse', () => {
    assert.equal(canonicalUrl('not a url'), null);
  });
});

describe('canonicalising stored URLs', () => {
  it('rewrites each URL to its canonical form and keeps the oldest of those that become one', () => {
    const plan = planCanonicalUrls([
      { id: 1, url: 'http://a.test/' },
      { id: 2, url: 'HTTP://B.test' },
      { id: 3, url: 'http://b.test:80/#x' },
      { id: 4, url: 'http://b.test/' },
      { id: 5, url: 'http://admin:pass@c.test/' },
      { id: 6, url: 'http://admin:other@c.test' },
      { id: 7, url: 'nonsense' },
    ]);
    assert.deepEqual(plan.rewritten, [
      { id: 2, from: 'HTTP://B.test', to: 'http://b.test/' },
      { id: 5, from: 'http://admin:pass@c.test/', to: 'http://admin:***@c.test/' },
    ]);
    assert.deepEqual(plan.removed, [
      { id: 3, url: 'http://b.test/', keptId: 2 },
      { id: 4, url: 'http://b.test/', keptId: 2 },
      { id: 6, url: 'http://admin:***@c.test/', keptId: 5 },
    ]);
    assert.deepEqual(plan.unparsable, [7]);
  });

  it('the SQLite store applies it in one go, pending notifications included, and a second start changes nothing', async () => {
    const path = join(tempDir(), 'spo2.db');
    const seed = sqliteFile(path);
    const insert = seed.prepare('INSERT INTO targets (url, data, created_at, updated_at) VALUES (?, ?, 1, 1)');
    for (const [i, url] of ['http://b.test/', 'HTTP://A.test', 'http://a.test:80/', 'http://u:secret@c.test/'].entries()) insert.run(url, JSON.stringify({ i }));
    const event = (url: string) => JSON.stringify({ url, kind: 'bad', status: 'Unreachable', reason: 'x' });
    const outbox = seed.prepare("INSERT INTO outbox (destination, url, event, created_at) VALUES ('slack', ?, ?, 1)");
    for (const url of ['http://a.test:80/', 'http://u:secret@c.test/', 'http://b.test/']) outbox.run(url, event(url));
    seed.close();

    const store = new SqliteStore(path);
    const look = sqliteFile(path);
    after(() => look.close());
    const cleanup = await store.canonicaliseUrls();
    assert.equal(cleanup.rewritten.length, 2);
    assert.deepEqual(cleanup.removed, [{ id: 3, url: 'http://a.test/', keptId: 2, data: { i: 2 } }]);
    assert.deepEqual((await store.loadTargets()).map((t) => [t.id, t.url]), [[1, 'http://b.test/'], [2, 'http://a.test/'], [4, 'http://u:***@c.test/']]);
    const rows = look.prepare('SELECT url, event FROM outbox ORDER BY id').all() as Array<{ url: string; event: string }>;
    assert.deepEqual(rows.map((r) => [r.url, (JSON.parse(r.event) as { url: string }).url]), [
      ['http://a.test/', 'http://a.test/'], ['http://u:***@c.test/', 'http://u:***@c.test/'], ['http://b.test/', 'http://b.test/'],
    ]);
    assert.ok(!JSON.stringify(look.prepare('SELECT * FROM targets, outbox').all()).includes('secret'), 'no stored row holds the password any more');
    assert.deepEqual(await store.canonicaliseUrls(), { rewritten: [], removed: [], unparsable: [] });
    await store.close();
  });
});
