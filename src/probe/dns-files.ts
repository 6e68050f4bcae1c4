/**
 * The system's name-service files, as the probe resolver needs them: /etc/hosts (answered
 * before DNS, as getaddrinfo does — Kubernetes hostAliases, docker --add-host and local
 * overrides live there) and the search rules of /etc/resolv.conf (c-ares' resolve4/resolve6
 * ask for the name exactly as given, so `api.prod.svc` would never reach
 * `api.prod.svc.cluster.local` without them).
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';

/** The addresses /etc/hosts gives one name, in file order. */
export interface HostAddresses {
  v4: string[];
  v6: string[];
}

/** `name → addresses` from the text of a hosts file; names are case-insensitive. */
export function parseHosts(text: string): Map<string, HostAddresses> {
  const hosts = new Map<string, HostAddresses>();
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    if (fields.length < 2) continue;
    const family = isIP(fields[0]!);
    if (family === 0) continue; // not an address: getaddrinfo skips the line too
    for (const name of fields.slice(1)) {
      const key = name.toLowerCase();
      let entry = hosts.get(key);
      if (!entry) hosts.set(key, (entry = { v4: [], v6: [] }));
      const list = family === 4 ? entry.v4 : entry.v6;
      if (!list.includes(fields[0]!)) list.push(fields[0]!);
    }
  }
  return hosts;
}

/**
 * /etc/hosts, read once and read again when it changes (its mtime, size or inode), looked at
 * no more often than `checkEveryMs`. Synchronous on purpose: the file is tiny and checked
 * every few seconds at most, and async fs calls would queue on the very libuv thread pool
 * that the probe resolver exists to stay off.
 */
export class HostsFile {
  private entries = new Map<string, HostAddresses>();
  private stamp = '';
  private checkedAt = -Infinity;

  constructor(
    readonly path = '/etc/hosts',
    private readonly now: () => number = () => performance.now(),
    private readonly checkEveryMs = 5_000,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  /** The addresses of `name` (lower case, no trailing dot), or undefined when it is not listed. */
  find(name: string): HostAddresses | undefined {
    const now = this.now();
    if (now - this.checkedAt >= this.checkEveryMs) {
      this.checkedAt = now;
      this.reload();
    }
    return this.entries.get(name);
  }

  private reload(): void {
    let stamp: string;
    try {
      const st = statSync(this.path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (stamp === this.stamp) return;
      this.entries = parseHosts(readFileSync(this.path, 'utf8'));
    } catch (err) {
      // No hosts file is a normal state (every name then goes to DNS); anything else is
      // reported once per change, and the last good entries are kept meanwhile.
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      if (missing) this.entries = new Map();
      stamp = missing ? 'missing' : `error:${(err as Error).message}`;
      if (!missing && stamp !== this.stamp) this.onError(err as Error);
    }
    this.stamp = stamp;
  }
}

/** How a short name is completed, from resolv.conf's `search`/`domain` and `options ndots:`. */
export interface SearchRules {
  search: string[];
  ndots: number;
}

/** The search rules in the text of a resolv.conf (the last `search` or `domain` line wins, as in glibc). */
export function parseResolvConf(text: string): SearchRules {
  let search: string[] = [];
  let ndots = 1;
  for (const line of text.split('\n')) {
    const [keyword, ...args] = line.replace(/[#;].*/, '').trim().split(/\s+/);
    if (keyword === 'search') search = args.map((d) => d.replace(/\.$/, '').toLowerCase()).filter((d) => d !== '');
    else if (keyword === 'domain' && args[0]) search = [args[0].replace(/\.$/, '').toLowerCase()];
    else if (keyword === 'options') {
      for (const option of args) {
        const m = /^ndots:(\d+)$/.exec(option);
        if (m) ndots = Math.min(Number(m[1]), 15); // glibc's cap
      }
    }
  }
  return { search, ndots };
}

/** The search rules of `path`; none when it cannot be read (names are then asked as given). */
export function readSearchRules(path = '/etc/resolv.conf'): SearchRules {
  try {
    return parseResolvConf(readFileSync(path, 'utf8'));
  } catch {
    return { search: [], ndots: 1 }; // c-ares falls back to its defaults in the same case
  }
}

/**
 * The names to ask DNS for, in order, as glibc's resolver does: a name with a trailing dot is
 * absolute; one with at least `ndots` dots is tried as given first, then with each search
 * domain; a shorter one with the search domains first.
 */
export function searchNames(host: string, rules: SearchRules): string[] {
  if (host.endsWith('.')) return [host.slice(0, -1)];
  if (rules.search.length === 0) return [host];
  let dots = 0;
  for (let i = 0; i < host.length; i++) if (host.charCodeAt(i) === 46) dots++;
  const completed = rules.search.map((domain) => `${host}.${domain}`);
  return dots >= rules.ndots ? [host, ...completed] : [...completed, host];
}
