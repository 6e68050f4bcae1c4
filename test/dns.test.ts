/**
 * The probe resolver: lookups that never use libuv's thread pool, a TTL cache, one query per
 * name in flight, a deadline inside the probe timeout, /etc/hosts first — and, end to end,
 * black-holed DNS names that cannot make healthy targets on other names look down.
 */
import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import type { LookupAddress } from 'node:dns';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { HostsFile, parseHosts, parseResolvConf, searchNames } from '../src/probe/dns-files.ts';
import { ProbeResolver, type DnsQuery } from '../src/probe/dns.ts';
import { canUnshare, startDnsServer, type DnsServer } from './dns-server.ts';
import { api, FAST_ENV, q, startSpo2, startTargetServer, tempDir, type Spo2, type TargetServer } from './helpers.ts';

/** A DNS stand-in: `records[name]` answers (TTL in seconds), `hang` never answers, anything else is NXDOMAIN. */
function fakeDns(zone: Record<string, { v4?: string[]; v6?: string[]; ttl?: number; hang?: boolean }>) {
  const asked: string[] = [];
  const late: (() => void)[] = [];
  const query: DnsQuery = (name, family, done) => {
    asked.push(`${name} ${family === 4 ? 'A' : 'AAAA'}`);
    const entry = zone[name];
    const answer = () => {
      if (!entry) return done(Object.assign(new Error(`query ENOTFOUND ${name}`), { code: 'ENOTFOUND' }), []);
      const addresses = (family === 4 ? entry.v4 : entry.v6) ?? [];
      if (addresses.length === 0) return done(Object.assign(new Error(`query ENODATA ${name}`), { code: 'ENODATA' }), []);
      done(null, addresses.map((address) => ({ address, ttl: entry.ttl ?? 30 })));
    };
    if (entry?.hang) late.push(answer);
    else queueMicrotask(answer);
  };
  return { query, asked, answerLate: () => late.splice(0).forEach((f) => f()) };
}

function resolverWith(t: TestContext, zone: Parameters<typeof fakeDns>[0], extra: { search?: string[]; ndots?: number; hosts?: HostsFile; query?: (real: DnsQuery) => DnsQuery } = {}) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const clock = { now: 0 };
  const dns = fakeDns(zone);
  const resolver = new ProbeResolver({
    probeTimeoutMs: 5_000,
    query: extra.query ? extra.query(dns.query) : dns.query,
    hosts: extra.hosts ?? null,
    search: { search: extra.search ?? [], ndots: extra.ndots ?? 1 },
    now: () => clock.now,
  });
  /** Moves the cache's clock and the timers together. */
  const advance = (ms: number) => {
    clock.now += ms;
    t.mock.timers.tick(ms);
  };
  return { resolver, dns, clock, advance };
}

type Lookup = { err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number };
function lookup(resolver: ProbeResolver, host: string, options: { all?: boolean; family?: number } = { all: true }): Promise<Lookup> {
  return new Promise((resolve) => resolver.lookup(host, options, (err, address, family) => resolve({ err, address, family })));
}
const addressesOf = (r: Lookup) => (r.err ? r.err.message : (r.address as LookupAddress[]).map((a) => a.address));
/** Lets queued microtasks and next ticks run (the fake DNS answers on a microtask). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('probe resolver', () => {
  it('answers from the cache until the TTL runs out, then asks again', async (t) => {
    const { resolver, dns, advance } = resolverWith(t, { 'a.test': { v4: ['10.0.0.1'], ttl: 30 } });
    assert.deepEqual(addressesOf(await lookup(resolver, 'a.test', { all: true, family: 4 })), ['10.0.0.1']);
    advance(29_000);
    assert.deepEqual(addressesOf(await lookup(resolver, 'A.test', { all: true, family: 4 })), ['10.0.0.1']);
    assert.deepEqual(dns.asked, ['a.test A'], 'a cached name is not asked again, whatever its case');
    advance(1_000);
    await lookup(resolver, 'a.test', { all: true, family: 4 });
    assert.deepEqual(dns.asked, ['a.test A', 'a.test A']);
  });

  it('keeps a TTL of 0 for one second and a TTL of a day for five minutes', async (t) => {
    const { resolver, dns, advance } = resolverWith(t, { 'zero.test': { v4: ['10.0.0.1'], ttl: 0 }, 'day.test': { v4: ['10.0.0.2'], ttl: 86_400 } });
    await lookup(resolver, 'zero.test', { family: 4 });
    await lookup(resolver, 'day.test', { family: 4 });
    advance(999);
    await lookup(resolver, 'zero.test', { family: 4 });
    assert.equal(dns.asked.length, 2);
    advance(1);
    await lookup(resolver, 'zero.test', { family: 4 });
    assert.equal(dns.asked.length, 3);
    advance(298_999); // 299,999 ms after it was asked
    await lookup(resolver, 'day.test', { family: 4 });
    assert.equal(dns.asked.length, 3);
    advance(1);
    await lookup(resolver, 'day.test', { family: 4 });
    assert.deepEqual(dns.asked.slice(3), ['day.test A']);
  });

  it('remembers a failure for one second only', async (t) => {
    const { resolver, dns, advance } = resolverWith(t, {});
    const first = await lookup(resolver, 'gone.test', { family: 4 });
    assert.equal(first.err?.code, 'ENOTFOUND');
    assert.equal(first.err?.message, 'DNS lookup of gone.test: no such host (ENOTFOUND)');
    await lookup(resolver, 'gone.test', { family: 4 });
    assert.equal(dns.asked.length, 1);
    advance(1_000);
    await lookup(resolver, 'gone.test', { family: 4 });
    assert.equal(dns.asked.length, 2);
  });

  it('shares one query among concurrent lookups of a name', async (t) => {
    const { resolver, dns } = resolverWith(t, { 'a.test': { v4: ['10.0.0.1'] } });
    const answers = await Promise.all(Array.from({ length: 50 }, () => lookup(resolver, 'a.test', { all: true, family: 4 })));
    assert.ok(answers.every((a) => addressesOf(a)[0] === '10.0.0.1'));
    assert.deepEqual(dns.asked, ['a.test A']);
  });

  it('fails a name that never answers at its deadline, with a DNS timeout, without holding up other names', async (t) => {
    const { resolver, dns, advance } = resolverWith(t, { 'black.test': { hang: true }, 'a.test': { v4: ['10.0.0.1'] } });
    const hanging = Array.from({ length: 20 }, () => lookup(resolver, 'black.test', { all: true }));
    assert.deepEqual(addressesOf(await lookup(resolver, 'a.test', { all: true })), ['10.0.0.1'], 'another name answers while black.test hangs');
    let done = false;
    void hanging[0]!.then(() => (done = true));
    advance(3_999);
    await settle();
    assert.equal(done, false);
    advance(1);
    const results = await Promise.all(hanging);
    assert.equal(resolver.timeoutMs, 4_000, '80 % of the 5 s probe timeout');
    for (const r of results) {
      assert.equal(r.err?.code, 'ETIMEOUT');
      assert.equal(r.err?.message, 'DNS lookup of black.test timed out after 4000 ms');
    }
    assert.deepEqual(dns.asked.filter((a) => a.startsWith('black')), ['black.test A', 'black.test AAAA'], 'twenty lookups, one query per family');
  });

  it('fills the cache with an answer that came after the deadline', async (t) => {
    const { resolver, dns, advance } = resolverWith(t, { 'slow.test': { v4: ['10.0.0.9'], hang: true } });
    const first = lookup(resolver, 'slow.test', { family: 4 });
    advance(4_000);
    assert.equal((await first).err?.code, 'ETIMEOUT');
    dns.answerLate();
    const second = await lookup(resolver, 'slow.test', { family: 4 });
    assert.equal(second.address, '10.0.0.9');
    assert.equal(dns.asked.length, 1);
  });

  it('answers both families IPv4 first, or the one family a name has', async (t) => {
    const { resolver } = resolverWith(t, { 'dual.test': { v4: ['10.0.0.1'], v6: ['fd00::1'] }, 'v6.test': { v6: ['fd00::2'] } });
    assert.deepEqual((await lookup(resolver, 'dual.test', { all: true })).address, [{ address: '10.0.0.1', family: 4 }, { address: 'fd00::1', family: 6 }]);
    assert.deepEqual(await lookup(resolver, 'dual.test', { all: false }), { err: null, address: '10.0.0.1', family: 4 });
    assert.deepEqual(await lookup(resolver, 'dual.test', { all: false, family: 6 }), { err: null, address: 'fd00::1', family: 6 });
    assert.deepEqual((await lookup(resolver, 'v6.test', { all: true })).address, [{ address: 'fd00::2', family: 6 }], 'NODATA for A is no failure');

  });

  it('gives the second family 50 ms once the first has addresses (a server that never answers AAAA)', async (t) => {
    const { resolver, dns, advance } = resolverWith(t, { 'half.test': { v4: ['10.0.0.3'] } }, { query: (real) => (name, family, done) => (family === 6 ? undefined : real(name, family, done)) });
    let answered: Lookup | null = null;
    resolver.lookup('half.test', { all: true }, (err, address) => (answered = { err, address }));
    await settle();
    advance(49);
    await settle();
    assert.equal(answered, null);
    advance(1);
    await settle();
    assert.deepEqual(answered, { err: null, address: [{ address: '10.0.0.3', family: 4 }] });
    assert.deepEqual(dns.asked, ['half.test A']);
  });

  it('tries resolv.conf search domains in glibc order, and stops at a name that exists', async (t) => {
    const search = ['prod.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];
    const { resolver, dns } = resolverWith(t, { 'api.prod.svc.cluster.local': { v4: ['10.1.0.1'] }, 'example.com': { v4: ['10.2.0.1'] } }, { search, ndots: 5 });
    assert.equal((await lookup(resolver, 'api.prod.svc', { family: 4 })).address, '10.1.0.1');
    assert.deepEqual(dns.asked, ['api.prod.svc.prod.svc.cluster.local A', 'api.prod.svc.svc.cluster.local A', 'api.prod.svc.cluster.local A']);
    dns.asked.length = 0;
    assert.equal((await lookup(resolver, 'example.com.', { family: 4 })).address, '10.2.0.1');
    assert.deepEqual(dns.asked, ['example.com A'], 'a trailing dot is absolute');
    assert.deepEqual(searchNames('a.b.c', { search: ['x'], ndots: 2 }), ['a.b.c', 'a.b.c.x']);
    assert.deepEqual(searchNames('a', { search: ['x', 'y'], ndots: 1 }), ['a.x', 'a.y', 'a']);
  });

  it('a search domain whose server fails, or that has the name without records, does not end the search', async (t) => {
    const search = ['broken.example', 'empty.example'];
    const { resolver, dns } = resolverWith(t, { 'api.empty.example': { v6: ['fd00::1'] }, 'api': { v4: ['10.3.0.1'] } }, {
      search, ndots: 5,
      query: (real) => (name, family, done) => name.endsWith('broken.example')
        ? queueMicrotask(() => done(Object.assign(new Error(`query ESERVFAIL ${name}`), { code: 'ESERVFAIL' }), []))
        : real(name, family, done),
    });
    assert.equal((await lookup(resolver, 'api', { family: 4 })).address, '10.3.0.1');
    assert.deepEqual(dns.asked, ['api.empty.example A', 'api A'], 'SERVFAIL and NODATA went on to the next name');
    const none = await lookup(resolver, 'nowhere', { family: 4 });
    assert.match(none.err!.message, /DNS lookup of nowhere failed \(ESERVFAIL\)/, 'the most telling failure is reported');
  });

  it('answers IP literals and localhost without asking DNS', async (t) => {
    const { resolver, dns } = resolverWith(t, {});
    assert.deepEqual((await lookup(resolver, '10.0.0.7')).address, [{ address: '10.0.0.7', family: 4 }]);
    assert.deepEqual((await lookup(resolver, '::1', { all: false })).address, '::1');
    assert.deepEqual((await lookup(resolver, 'localhost')).address, [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]);
    assert.deepEqual((await lookup(resolver, 'app.localhost', { family: 4 })).address, '127.0.0.1');
    assert.deepEqual(dns.asked, []);
  });

  it('answers from /etc/hosts first and reads it again when it changes, looking at most every 5 s', async (t) => {
    const path = join(tempDir(), 'hosts');
    writeFileSync(path, '# comment\n10.9.0.1  web.internal web   # alias\nfd00::9 web.internal\n');
    utimesSync(path, 1_000, 1_000);
    const clock = { now: 0 };
    const hosts = new HostsFile(path, () => clock.now);
    const { resolver, dns } = resolverWith(t, { 'web.internal': { v4: ['10.0.0.1'] } }, { hosts });
    assert.deepEqual((await lookup(resolver, 'WEB.internal')).address, [{ address: '10.9.0.1', family: 4 }, { address: 'fd00::9', family: 6 }]);
    assert.equal((await lookup(resolver, 'web', { family: 4 })).address, '10.9.0.1');
    writeFileSync(path, '10.9.0.2 web.internal\n');
    utimesSync(path, 2_000, 2_000);
    clock.now = 4_999;
    assert.equal((await lookup(resolver, 'web.internal', { family: 4 })).address, '10.9.0.1', 'not looked at again within 5 s');
    clock.now = 5_000;
    assert.equal((await lookup(resolver, 'web.internal', { family: 4 })).address, '10.9.0.2');
    assert.deepEqual(dns.asked, []);
  });

  it('ends every lookup in flight on cancel', async (t) => {
    const { resolver } = resolverWith(t, { 'black.test': { hang: true } });
    const pending = lookup(resolver, 'black.test');
    resolver.cancel();
    const r = await pending;
    assert.equal(r.err?.code, 'ECANCELLED');
  });

  it('parses hosts and resolv.conf files as glibc does', () => {
    const hosts = parseHosts('127.0.0.1 localhost\n# 10.0.0.1 commented\n10.0.0.2 A.example a\nnot-an-ip name\nfe80::1%eth0 zoned\n::1 localhost ip6-localhost\n');
    assert.deepEqual(Object.fromEntries(hosts), {
      localhost: { v4: ['127.0.0.1'], v6: ['::1'] },
      'a.example': { v4: ['10.0.0.2'], v6: [] },
      a: { v4: ['10.0.0.2'], v6: [] },
      zoned: { v4: [], v6: ['fe80::1%eth0'] },
      'ip6-localhost': { v4: [], v6: ['::1'] },
    });
    assert.deepEqual(parseResolvConf('nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:1\n'), { search: ['ns.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5 });
    assert.deepEqual(parseResolvConf('search a.example\ndomain b.example\n'), { search: ['b.example'], ndots: 1 }, 'the last of search/domain wins');
  });
});

/**
 * The starvation itself, end to end: the real `spo2 serve` in a private mount namespace whose
 * resolv.conf points at a DNS server of the test's own. Six names never get an answer; with
 * getaddrinfo their hanging lookups (10 s each) fill libuv's four threads and the twenty
 * healthy targets, whose names answer at once, time out waiting for a thread.
 */
const isolated = canUnshare();

describe('DNS black holes beside healthy targets', { skip: isolated || process.env.CI ? false : 'needs root and unshare (util-linux) for a private mount namespace' }, () => {
  let dns: DnsServer;
  let target: TargetServer;
  let spo2: Spo2;
  const healthy = [
    ...Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, '0')}.good.test`),
    'alias-a.hosts.test', // answered by the hosts file only
    'alias-b.hosts.test',
    'short', // completed to short.good.test by the search domain
  ];
  const black = Array.from({ length: 6 }, (_, i) => `b${i}.bad.test`);

  before(async () => {
    dns = await startDnsServer({ ttl: 30 });
    target = await startTargetServer();
    const dir = tempDir('spo2-dns-');
    const resolvConf = join(dir, 'resolv.conf');
    const hosts = join(dir, 'hosts');
    // glibc's defaults (5 s × 2 attempts): each black-holed getaddrinfo holds a thread 10 s.
    writeFileSync(resolvConf, `nameserver ${dns.host}\nsearch good.test\noptions timeout:5 attempts:2\n`);
    writeFileSync(hosts, '127.0.0.1 localhost\n127.0.0.1 alias-a.hosts.test alias-b.hosts.test\n');
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    spo2 = await startSpo2({
      env: { ...FAST_ENV, SPO2_TIMEOUT: '1s', SPO2_INTERVAL: '300ms', SPO2_FAST_INTERVAL: '100ms' },
      wrap: (file, args) => ({ file: 'unshare', args: ['-m', 'sh', '-c', `mount --bind ${quote(resolvConf)} /etc/resolv.conf && mount --bind ${quote(hosts)} /etc/hosts && exec ${[file, ...args].map(quote).join(' ')}`] }),
    });
  });

  after(async () => {
    await spo2?.stop();
    await target?.close();
    await dns?.close();
  });

  it('healthy targets never leave Healthy while six names hang, and the hanging ones are reported as DNS timeouts', async () => {
    for (const name of black) assert.equal((await api(spo2.httpUrl, 'PUT', q(`http://${name}:${target.port}/`))).status, 200);
    const urls = healthy.map((name) => `http://${name}:${target.port}/ok`);
    for (const url of urls) assert.equal((await api(spo2.httpUrl, 'PUT', q(url))).status, 200);

    // 20 s: with getaddrinfo, healthy targets were reported Unreachable within a few seconds.
    const started = Date.now();
    let rounds = 0;
    while (Date.now() < started + 20_000) {
      const all = (await api(spo2.httpUrl, 'GET', '/all')).body as { url: string; status: string; reason: string }[];
      const bad = all.filter((v) => urls.includes(v.url) && v.status !== 'Healthy');
      assert.deepEqual(bad.map((v) => `${v.url} ${v.status} (${v.reason})`), [], `no healthy target left Healthy (after ${Date.now() - started} ms)`);
      rounds++;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(rounds > 20);
    for (const url of urls) assert.ok(target.hits('/ok') > urls.length * 10, `${url} was probed`);

    const all = (await api(spo2.httpUrl, 'GET', '/all')).body as { url: string; status: string; reason: string }[];
    for (const name of black) {
      const v = all.find((x) => x.url.includes(name))!;
      assert.equal(v.status, 'Unreachable');
      assert.match(v.reason, new RegExp(`^DNS lookup of ${name.replace(/\./g, '\\.')} timed out after 800 ms$`));
    }
    assert.ok(dns.queries.includes('t00.good.test A'), 'the healthy names were asked of the test DNS server');
    assert.ok(dns.queries.includes('short.good.test A'), 'a short name was completed with the search domain');
    assert.ok(!dns.queries.some((x) => x.startsWith('alias-a.hosts.test')), 'a name in the hosts file was not asked of DNS');
  });

  it('stops at once with lookups hanging', async () => {
    const stopped = spo2.stop();
    const code = await Promise.race([stopped, new Promise((r) => setTimeout(r, 5_000, 'still running after 5 s'))]);
    if (code !== 0) await spo2.kill9(); // with getaddrinfo, stop waited minutes for the hanging lookups
    assert.equal(code, 0);
  });
});
