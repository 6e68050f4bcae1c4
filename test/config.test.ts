import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { CONFIG_OPTIONS, ConfigError, loadConfig } from '../src/config.ts';
import { formatDuration, parseDuration } from '../src/core/duration.ts';
import { checkTargetUrl } from '../src/core/url.ts';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    assert.deepEqual(c.httpListen, { host: '127.0.0.1', port: 8000 });
    assert.deepEqual(c.wsListen, { host: '127.0.0.1', port: 8001 });
    assert.equal(c.databasePath, 'spo2.db');
    assert.equal(c.slackHookUrl, null);
    assert.equal(c.intervalMs, 3000);
    assert.equal(c.fastIntervalMs, 800);
    assert.equal(c.timeoutMs, 5000);
    assert.equal(c.windowSize, 10);
    assert.equal(c.remindAfterMs, 15 * 60_000);
    assert.equal(c.notifyBatch, 40);
    assert.equal(c.notifyWindowMs, 10_000);
    assert.equal(c.bodyLimit, 64 * 1024);
  });

  it('reads the environment, and a flag wins over its variable', () => {
    const c = loadConfig({ SPO2_INTERVAL: '5s', HTTP_LISTEN_ADDR: '0.0.0.0:9000', WS_LISTEN_ADDR: 'off' }, ['--interval', '4s', '--database-path=/tmp/x.db']);
    assert.equal(c.intervalMs, 4000);
    assert.deepEqual(c.httpListen, { host: '0.0.0.0', port: 9000 });
    assert.equal(c.wsListen, null);
    assert.equal(c.databasePath, '/tmp/x.db');
  });

  it('says what a value means when it is probably a mistake', () => {
    assert.throws(() => loadConfig({ SPO2_INTERVAL: '3' }), /SPO2_INTERVAL="3": must be at least 100ms \(a bare number is milliseconds: did you mean 3s\?\)/);
    assert.throws(() => loadConfig({ SPO2_WINDOW: '-1' }), /SPO2_WINDOW="-1": must be at least 1$/);
    assert.throws(() => loadConfig({ SPO2_WINDOW: '5000' }), /SPO2_WINDOW="5000": must be at most 1000$/);
  });

  it('accepts IPv6 listen addresses', () => {
    assert.deepEqual(loadConfig({ HTTP_LISTEN_ADDR: '[::1]:8000' }).httpListen, { host: '::1', port: 8000 });
  });

  for (const [env, value] of [
    ['SPO2_INTERVAL', 'soon'], ['SPO2_TIMEOUT', '-1s'], ['SPO2_WINDOW', '0'], ['SPO2_WINDOW', 'ten'],
    ['HTTP_LISTEN_ADDR', 'localhost'], ['HTTP_LISTEN_ADDR', '127.0.0.1:99999'], ['SLACK_HOOK_URL', 'not a url'],
    ['SPO2_NOTIFY_BATCH', '0'], ['SPO2_BODY_LIMIT', 'big'], ['DATABASE_PATH', ''],
  ] as const) {
    it(`refuses ${env}=${JSON.stringify(value)}, naming the variable and the value`, () => {
      assert.throws(() => loadConfig({ [env]: value }), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, new RegExp(env));
        assert.ok(err.message.includes(JSON.stringify(value)), err.message);
        return true;
      });
    });
  }

  it('DATABASE_URL selects PostgreSQL (postgres:// or postgresql://); unset keeps SQLite', () => {
    assert.equal(loadConfig({}).databaseUrl, null);
    assert.equal(loadConfig({ DATABASE_URL: 'postgres://spo2:pw@db:5432/spo2' }).databaseUrl, 'postgres://spo2:pw@db:5432/spo2');
    assert.equal(loadConfig({}, ['--database-url', 'postgresql://db/spo2?sslmode=require']).databaseUrl, 'postgresql://db/spo2?sslmode=require');
  });

  for (const value of ['mysql://spo2:s3cret-pass@db/spo2', 'postgres//spo2:s3cret-pass@db', 'postgres://spo2:s3cret-pass@/spo2']) {
    it(`refuses DATABASE_URL=${value.replace('s3cret-pass', '***')}, naming the variable and never the password`, () => {
      assert.throws(() => loadConfig({ DATABASE_URL: value }), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^invalid DATABASE_URL=\(value hidden\): .*postgres/);
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      });
    });
  }

  it('docs/configuration.md documents every variable with its default', () => {
    const doc = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    for (const o of CONFIG_OPTIONS) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${o.env}\` |`));
      assert.ok(row, `${o.env} is documented`);
      assert.ok(row.includes(o.default ? `\`${o.default}\`` : 'unset'), `${o.env}'s default (${o.default || 'unset'}) is documented: ${row}`);
    }
  });

  it('names the flag when the bad value came from a flag', () => {
    assert.throws(() => loadConfig({}, ['--fast-interval', 'x']), /--fast-interval="x"/);
  });

  it('refuses unknown flags and a fast interval longer than the interval', () => {
    assert.throws(() => loadConfig({}, ['--nope', '1']), /unknown option --nope/);
    assert.throws(() => loadConfig({ SPO2_INTERVAL: '1s', SPO2_FAST_INTERVAL: '2s' }), /SPO2_FAST_INTERVAL/);
  });
});

describe('durations', () => {
  it('parses ms, s, m, h and bare milliseconds', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('3s'), 3000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('800'), 800);
    assert.equal(parseDuration('3 days'), null);
    assert.equal(parseDuration(''), null);
  });

  it('formats for people', () => {
    assert.equal(formatDuration(450), '450 ms');
    assert.equal(formatDuration(12_000), '12 s');
    assert.equal(formatDuration(3200), '3.2 s');
    assert.equal(formatDuration(90_000), '1 min 30 s');
    assert.equal(formatDuration(2 * 3_600_000), '2 h');
  });
});

describe('target URLs', () => {
  it('accepts http and https URLs with a host, in their canonical form (test/url.test.ts has the rules)', () => {
    for (const [url, canonical] of [
      ['http://127.0.0.1:9/health', 'http://127.0.0.1:9/health'], ['https://example.com', 'https://example.com/'],
      ['http://[::1]:8080/x?y=1', 'http://[::1]:8080/x?y=1'], ['https://bücher.example/ä', 'https://xn--bcher-kva.example/%C3%A4'],
    ]) {
      assert.deepEqual(checkTargetUrl(url), { ok: true, url: canonical });
    }
  });

  for (const [input, message] of [
    [undefined, /missing/], ['', /missing/], ['ftp://example.com/', /unsupported scheme "ftp"/], ['javascript:alert(1)', /unsupported scheme/],
    ['not-a-url', /no scheme: did you mean "http:\/\/not-a-url"/], ['http://exa mple', /whitespace/], ['http://[::1', /invalid url/], ['not a url', /whitespace/], ['http://', /invalid url|no host/], ['http://example.com/' + 'a'.repeat(2048), /longer than 2048/],
    [' http://example.com', /whitespace/], ['http://exa\nmple.com', /whitespace|control/], [['http://a'], /missing/],
  ] as const) {
    it(`refuses ${JSON.stringify(input)?.slice(0, 40)}`, () => {
      const r = checkTargetUrl(input);
      assert.equal(r.ok, false);
      assert.match((r as { error: string }).error, message);
    });
  }
});
