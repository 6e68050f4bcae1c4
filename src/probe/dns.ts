/**
 * How probes turn a hostname into addresses without libuv's thread pool.
 *
 * net's default, dns.lookup, is getaddrinfo on libuv's 4 worker threads: four lookups that
 * hang on a dead DNS server (10 s each with glibc's defaults) hold every thread, and every
 * other target's lookup — however healthy its DNS — waits behind them until its probe times
 * out. Here names are asked over c-ares (node:dns `Resolver`, sockets on the event loop, no
 * threads), so one black-holed name costs only its own probes.
 *
 * Why not a library: cacheable-lookup (the well-kept one) answers failures by falling back to
 * dns.lookup, which puts a hanging name straight back on the thread pool, and it neither
 * reads /etc/hosts nor applies resolv.conf's search domains without that fallback; undici's
 * DNS interceptor calls dns.lookup too and would re-key connection pools by IP. What is
 * needed is small: hosts file first, search domains, a TTL cache, one query per name in
 * flight, and a deadline.
 */
import { Resolver, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { HostsFile, readSearchRules, searchNames, type SearchRules } from './dns-files.js';

/** Asks DNS for one exact name's A (4) or AAAA (6) records; `ttl` in seconds. */
export type DnsQuery = (name: string, family: Family, done: (err: NodeJS.ErrnoException | null, records: readonly { address: string; ttl: number }[]) => void) => void;

type Family = 4 | 6;

/** A cached outcome for one name and family: addresses, or why there are none. */
interface Answer {
  readonly addresses: readonly string[];
  /** Set when there are no addresses. */
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly expiresAt: number;
}

/** Records are kept at least this long: a TTL of 0 must not turn every new connection into a query. */
const MIN_TTL_MS = 1_000;
/** And at most this long, so a changed record is seen within minutes whatever its TTL says. */
const MAX_TTL_MS = 300_000;
/** A failure (no such name, timeout, server error) is remembered this long. */
const FAILURE_TTL_MS = 1_000;
/** With both families asked, how long the second may lag once the first has addresses (RFC 8305's resolution delay). */
const SECOND_FAMILY_GRACE_MS = 50;
/** The cache is swept of expired entries when it reaches this size (then twice the size left). */
const FIRST_SWEEP_AT = 1_024;

export interface ProbeResolverOptions {
  /** The probes' own timeout: a lookup must fail (as a DNS error) well inside it. */
  probeTimeoutMs: number;
  /** Defaults to c-ares with resolv.conf's servers. */
  query?: DnsQuery;
  /** Defaults to /etc/hosts; null = none. */
  hosts?: HostsFile | null;
  /** Defaults to resolv.conf's. */
  search?: SearchRules;
  /** Monotonic milliseconds, for the cache. */
  now?: () => number;
  /** Told about a problem that does not fail a lookup (an unreadable hosts file). */
  warn?: (message: string) => void;
}

/** The lookup deadline: 80 % of the probe timeout leaves room to connect and say why. */
export function lookupTimeoutFor(probeTimeoutMs: number): number {
  return Math.max(1, Math.round(probeTimeoutMs * 0.8));
}

/** One name and family being asked: who waits for it, and its deadline. */
interface Pending {
  readonly host: string;
  readonly family: Family;
  readonly waiters: ((answer: Answer) => void)[];
  timer: NodeJS.Timeout | null;
  settled: boolean;
  /** The most telling failure among the search completions tried so far. */
  failure: string | null;
}

/** Which failure to report when every completion of a search failed: as glibc, a server failure over a name without records over no such name. */
const FAILURE_RANK: Record<string, number> = { ENOTFOUND: 0, ENODATA: 1, ESERVFAIL: 2 };

/**
 * A `lookup` for net.connect (`all`, `family` supported) over c-ares with a TTL cache.
 * `cancel()` ends every lookup in flight (at stop).
 */
export class ProbeResolver {
  readonly timeoutMs: number;
  private readonly resolver: Resolver | null;
  private readonly query: DnsQuery;
  private readonly hosts: HostsFile | null;
  private readonly search: SearchRules;
  private readonly now: () => number;
  private readonly cache = { 4: new Map<string, Answer>(), 6: new Map<string, Answer>() };
  private readonly pending = { 4: new Map<string, Pending>(), 6: new Map<string, Pending>() };
  private sweepAt = FIRST_SWEEP_AT;

  constructor(options: ProbeResolverOptions) {
    this.timeoutMs = lookupTimeoutFor(options.probeTimeoutMs);
    this.now = options.now ?? (() => performance.now());
    const warn = options.warn ?? (() => {});
    if (options.query) {
      this.resolver = null;
      this.query = options.query;
    } else {
      // Half the deadline per try, two tries: c-ares retries once within the deadline, and
      // whatever it learns after the deadline still fills the cache for the next probe.
      const resolver = new Resolver({ timeout: Math.max(1, Math.round(this.timeoutMs / 2)), tries: 2 });
      this.resolver = resolver;
      this.query = (name, family, done) => (family === 4 ? resolver.resolve4(name, { ttl: true }, done) : resolver.resolve6(name, { ttl: true }, done));
    }
    this.hosts = options.hosts === undefined ? new HostsFile('/etc/hosts', this.now, 5_000, (err) => warn(`cannot read /etc/hosts: ${err.message}`)) : options.hosts;
    this.search = options.search ?? readSearchRules();
  }

  /** net.connect's `lookup` option. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const host = hostname.toLowerCase();
    const wanted = familyOf(options);
    const all = options.all === true;
    const literal = isIP(host);
    if (literal !== 0) return reply(callback, all, literal === 4 ? [host] : [], literal === 6 ? [host] : []);
    const bare = host.endsWith('.') ? host.slice(0, -1) : host;
    const listed = this.hosts?.find(bare);
    if (listed) {
      const v4 = wanted === 6 ? [] : listed.v4;
      const v6 = wanted === 4 ? [] : listed.v6;
      if (v4.length + v6.length > 0) return reply(callback, all, v4, v6);
    }
    if (bare === 'localhost' || bare.endsWith('.localhost')) {
      return reply(callback, all, wanted === 6 ? [] : ['127.0.0.1'], wanted === 4 ? [] : ['::1']);
    }
    if (wanted !== 0) {
      return this.resolve(host, wanted, (answer) => (answer.error ? fail(callback, answer.error) : reply(callback, all, wanted === 4 ? answer.addresses : [], wanted === 6 ? answer.addresses : [])));
    }
    const v4 = this.fresh(host, 4);
    const v6 = this.fresh(host, 6);
    if (v4 && v6) return replyBoth(callback, all, v4, v6); // the common case: no object, no timer
    new BothFamilies(this, host, all, callback);
  };

  private fresh(host: string, family: Family): Answer | undefined {
    const cached = this.cache[family].get(host);
    return cached !== undefined && cached.expiresAt > this.now() ? cached : undefined;
  }

  /** Ends every lookup in flight with ECANCELLED; later lookups work as before. */
  cancel(): void {
    this.resolver?.cancel();
    for (const family of [4, 6] as const) {
      for (const p of [...this.pending[family].values()]) this.settle(p, failure('ECANCELLED', `DNS lookup of ${p.host} cancelled`, 0));
    }
  }

  /** The answer for one name and family: from the cache, or joined to the query in flight, or asked. */
  resolve(host: string, family: Family, done: (answer: Answer) => void): void {
    const cached = this.fresh(host, family);
    if (cached) return done(cached);
    const inFlight = this.pending[family].get(host);
    if (inFlight) {
      inFlight.waiters.push(done);
      return;
    }
    const p: Pending = { host, family, waiters: [done], timer: null, settled: false, failure: null };
    this.pending[family].set(host, p);
    // Unref'd: a lookup alone never keeps the process alive (stop cancels them anyway).
    p.timer = setTimeout(deadlinePassed, this.timeoutMs, this, p).unref();
    this.ask(p, searchNames(host, this.search), 0);
  }

  private ask(p: Pending, names: string[], index: number): void {
    try {
      this.query(names[index]!, p.family, (err, records) => this.answered(p, names, index, err, records));
    } catch (err) {
      this.settle(p, this.failed(p.host, (err as NodeJS.ErrnoException).code ?? 'EBADNAME')); // a name c-ares refuses outright
    }
  }

  private answered(p: Pending, names: string[], index: number, err: NodeJS.ErrnoException | null, records: readonly { address: string; ttl: number }[]): void {
    if (err === null && records.length > 0) {
      let ttl = Infinity;
      for (const r of records) ttl = Math.min(ttl, r.ttl);
      const expiresAt = this.now() + Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, ttl * 1000));
      return this.settle(p, { addresses: records.map((r) => r.address), error: null, expiresAt });
    }
    const code = err?.code ?? 'ENODATA';
    // As glibc's search: a completion that does not exist (NXDOMAIN), has no records of this
    // family (NODATA) or whose server fails (SERVFAIL: a search domain inherited from the
    // node, say) does not end the search; the next completion may answer.
    if (code in FAILURE_RANK) {
      if (p.failure === null || FAILURE_RANK[code]! > FAILURE_RANK[p.failure]!) p.failure = code;
      if (index + 1 < names.length) return this.ask(p, names, index + 1);
      return this.settle(p, this.failed(p.host, p.failure));
    }
    this.settle(p, this.failed(p.host, code));
  }

  failed(host: string, code: string): Answer {
    if (code === 'ENOTFOUND' || code === 'ENODATA') return failure('ENOTFOUND', `DNS lookup of ${host}: no such host (ENOTFOUND)`, this.now() + FAILURE_TTL_MS);
    if (code === 'ETIMEOUT') return failure('ETIMEOUT', `DNS lookup of ${host} timed out after ${this.timeoutMs} ms`, this.now() + FAILURE_TTL_MS);
    return failure(code, `DNS lookup of ${host} failed (${code})`, this.now() + FAILURE_TTL_MS);
  }

  /** Gives the waiters their answer once; an answer that comes after the deadline only fills the cache. */
  settle(p: Pending, answer: Answer): void {
    if (p.settled) {
      if (answer.error === null) this.remember(p, answer);
      return;
    }
    p.settled = true;
    if (p.timer) clearTimeout(p.timer);
    this.pending[p.family].delete(p.host);
    if (answer.error?.code !== 'ECANCELLED') this.remember(p, answer);
    for (const waiter of p.waiters) waiter(answer);
  }

  private remember(p: Pending, answer: Answer): void {
    const cache = this.cache[p.family];
    if (cache.size >= this.sweepAt) {
      const now = this.now();
      for (const [host, a] of cache) if (a.expiresAt <= now) cache.delete(host);
      this.sweepAt = Math.max(FIRST_SWEEP_AT, cache.size * 2);
    }
    cache.set(p.host, answer);
  }
}

function deadlinePassed(resolver: ProbeResolver, p: Pending): void {
  resolver.settle(p, resolver.failed(p.host, 'ETIMEOUT'));
}

/**
 * A lookup of any family: A and AAAA asked side by side. Once one has addresses, the other
 * gets a short grace, so a server that never answers AAAA costs 50 ms, not the deadline.
 */
class BothFamilies {
  private v4: Answer | null = null;
  private v6: Answer | null = null;
  private asked = false;
  private grace: NodeJS.Timeout | null = null;
  private done = false;

  constructor(resolver: ProbeResolver, host: string, private readonly all: boolean, private readonly callback: LookupCallback) {
    resolver.resolve(host, 4, (answer) => this.got(4, answer));
    resolver.resolve(host, 6, (answer) => this.got(6, answer));
    this.asked = true;
    this.check();
  }

  private got(family: Family, answer: Answer): void {
    if (family === 4) this.v4 = answer;
    else this.v6 = answer;
    if (this.asked) this.check();
  }

  private check(): void {
    if (this.done) return;
    if (this.v4 && this.v6) return this.finish();
    if (this.v4?.error === null || this.v6?.error === null) this.grace ??= setTimeout(() => this.finish(), SECOND_FAMILY_GRACE_MS).unref();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.grace) clearTimeout(this.grace);
    replyBoth(this.callback, this.all, this.v4, this.v6);
  }
}

type LookupCallback = Parameters<LookupFunction>[2];

/** Both families' answers as one: the addresses either has, else the more telling failure. */
function replyBoth(callback: LookupCallback, all: boolean, a4: Answer | null, a6: Answer | null): void {
  const v4 = a4?.error === null ? a4.addresses : [];
  const v6 = a6?.error === null ? a6.addresses : [];
  if (v4.length + v6.length > 0) return reply(callback, all, v4, v6);
  // A failure that says more than "no such host" (a timeout, a server error) wins.
  const errors = [a4?.error, a6?.error];
  fail(callback, errors.find((e) => e && e.code !== 'ENOTFOUND') ?? errors[0] ?? { code: 'ENOTFOUND', message: 'no address' });
}

function failure(code: string, message: string, expiresAt: number): Answer {
  return { addresses: [], error: { code, message }, expiresAt };
}

function familyOf(options: LookupOptions): 0 | Family {
  const f = options.family;
  return f === 4 || f === 'IPv4' ? 4 : f === 6 || f === 'IPv6' ? 6 : 0;
}

/** Answers in net's shape, IPv4 first (Node's pre-17 order, what most networks route), always on a later tick as dns.lookup does. */
function reply(callback: LookupCallback, all: boolean, v4: readonly string[], v6: readonly string[]): void {
  if (v4.length + v6.length === 0) return fail(callback, { code: 'ENOTFOUND', message: 'no address' });
  if (!all) return void process.nextTick(callback, null, v4.length > 0 ? v4[0]! : v6[0]!, v4.length > 0 ? 4 : 6);
  const addresses: LookupAddress[] = [];
  for (const address of v4) addresses.push({ address, family: 4 });
  for (const address of v6) addresses.push({ address, family: 6 });
  process.nextTick(callback, null, addresses);
}

function fail(callback: LookupCallback, error: { code: string; message: string }): void {
  const err: NodeJS.ErrnoException = new Error(error.message);
  err.code = error.code;
  process.nextTick(callback, err, '', 0);
}
