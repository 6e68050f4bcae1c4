import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

/**
 * What may be registered (`SPO2_ALLOW_TARGETS`): CIDRs and host patterns. Pure: the URL is
 * judged as written, without DNS, so a name that resolves to a forbidden address is only
 * caught by a host rule (see docs/security.md).
 */
export type AllowRule = CidrRule | HostRule;
type CidrRule = { kind: 'cidr'; text: string; bytes: Uint8Array; prefix: number };
type HostRule = { kind: 'host'; text: string; suffix: string | null; exact: string | null };

/** Cloud metadata services and other host-local endpoints live here. */
const LINK_LOCAL: CidrRule[] = [cidrRule('169.254.0.0/16'), cidrRule('fe80::/10')];

/**
 * Parses a comma- or whitespace-separated list: `10.0.0.0/8`, `fd00::/8`, `192.0.2.7`,
 * `*.svc.cluster.local` (any subdomain), `status.example.com` (that host), `*` (any host).
 * Throws an Error naming the bad entry.
 */
export function parseAllowRules(raw: string): AllowRule[] {
  const entries = raw.split(/[\s,]+/).filter((e) => e !== '');
  if (entries.length === 0) throw new Error('expected a list of CIDRs or host patterns');
  return entries.map((entry) => {
    const ip = stripBrackets(entry.split('/')[0]!);
    if (isIP(ip) !== 0) return cidrRule(entry);
    if (entry.includes('/')) throw new Error(`invalid CIDR ${JSON.stringify(entry)}`);
    return hostRule(entry);
  });
}

/**
 * Returns null when `url` may be registered, else a message saying why not. Link-local
 * addresses are refused unless a CIDR rule lies inside the link-local range, so a broad
 * `0.0.0.0/0` never opens the metadata service by accident.
 */
export function checkAllowed(url: URL, rules: readonly AllowRule[] | null): string | null {
  const host = stripBrackets(url.hostname).replace(/\.$/, '').toLowerCase();
  const bytes = ipBytes(host);
  if (bytes) {
    const linkLocal = LINK_LOCAL.some((r) => inCidr(bytes, r));
    if (linkLocal && !(rules ?? []).some((r) => r.kind === 'cidr' && inCidr(bytes, r) && LINK_LOCAL.some((l) => covers(l, r)))) {
      return `${host} is a link-local address (cloud metadata); add it to SPO2_ALLOW_TARGETS explicitly to monitor it`;
    }
  }
  if (rules === null) return null;
  const allowed = rules.some((r) => (r.kind === 'cidr' ? bytes !== null && inCidr(bytes, r) : matchesHost(host, r)));
  return allowed ? null : `${host} is not in SPO2_ALLOW_TARGETS`;
}

function cidrRule(entry: string): CidrRule {
  const [addr, len] = entry.split('/') as [string, string | undefined];
  const bytes = ipBytes(stripBrackets(addr));
  if (!bytes) throw new Error(`invalid address in ${JSON.stringify(entry)}`);
  const max = bytes.length * 8;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) throw new Error(`invalid prefix length in ${JSON.stringify(entry)}`);
  const prefix = len === undefined ? max : Number(len);
  if (prefix > max) throw new Error(`prefix length of ${JSON.stringify(entry)} must be at most ${max}`);
  return { kind: 'cidr', text: entry, bytes, prefix };
}

function hostRule(entry: string): HostRule {
  const pattern = entry.toLowerCase().replace(/\.$/, '');
  if (pattern === '*') return { kind: 'host', text: entry, suffix: '', exact: null };
  const wildcard = pattern.startsWith('*.');
  const ascii = domainToASCII(wildcard ? pattern.slice(2) : pattern);
  if (ascii === '' || ascii.includes('*')) throw new Error(`invalid host pattern ${JSON.stringify(entry)} (use a host name, *.domain, a CIDR or *)`);
  return wildcard ? { kind: 'host', text: entry, suffix: '.' + ascii, exact: null } : { kind: 'host', text: entry, suffix: null, exact: ascii };
}

function matchesHost(host: string, rule: HostRule): boolean {
  if (rule.exact !== null) return host === rule.exact;
  return rule.suffix === '' || (host.endsWith(rule.suffix!) && host.length > rule.suffix!.length);
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** IPv4 as 4 bytes; IPv6 as 16, except IPv4-mapped (`::ffff:a.b.c.d`), judged as the IPv4 it is. */
export function ipBytes(text: string): Uint8Array | null {
  const family = isIP(text);
  if (family === 4) return Uint8Array.from(text.split('.').map(Number));
  if (family !== 6) return null;
  let s = text.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    s = s.slice(0, -v4[1]!.length) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, null];
  const left = head === '' ? [] : head.split(':');
  const right = tail === null || tail === '' ? [] : tail.split(':');
  const groups = tail === null ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

function inCidr(bytes: Uint8Array, rule: CidrRule): boolean {
  if (bytes.length !== rule.bytes.length) return false;
  for (let bit = 0; bit < rule.prefix; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((bytes[bit >> 3]! & mask) !== (rule.bytes[bit >> 3]! & mask)) return false;
  }
  return true;
}

/** Whether every address of `inner` is inside `outer`. */
function covers(outer: CidrRule, inner: AllowRule): boolean {
  return inner.kind === 'cidr' && inner.prefix >= outer.prefix && inCidr(inner.bytes, outer);
}
