export const MAX_URL_LENGTH = 2048;

export type UrlCheck = { ok: true; url: string } | { ok: false; error: string };

export const CREDENTIALS_REFUSED =
  'url must not carry credentials (user:password@ or user@): they would be shown in every answer, message and log; ' +
  'give the service a health path that needs no credentials';

/** What replaces the user info of a URL stored before credentials were refused. */
export const MASK = '***';

/**
 * Validates a URL to register and returns its canonical form (see `canonicalUrl`): the
 * target's identity in every API, message and log. Credentials are refused, not kept:
 * they would be shown everywhere, and a probe never sent them anyway.
 */
export function checkTargetUrl(raw: unknown): UrlCheck {
  const parsed = parseTargetUrl(raw);
  if (!parsed.ok) return parsed;
  if (parsed.url.username !== '' || parsed.url.password !== '') return { ok: false, error: CREDENTIALS_REFUSED };
  return canonicalChecked(parsed.url);
}

/**
 * Validates a URL that names a registered target (`GET`/`DELETE /?url=`) and returns its
 * canonical form. Credentials are masked rather than refused, so a target stored with
 * them before the upgrade (kept masked, see docs/api.md) is found by its old spelling too.
 */
export function checkLookupUrl(raw: unknown): UrlCheck {
  const parsed = parseTargetUrl(raw);
  return parsed.ok ? canonicalChecked(parsed.url) : parsed;
}

/**
 * The one spelling of a URL: the WHATWG serialisation (`new URL(raw).href`: scheme and host
 * lower-cased, default port dropped, dot segments resolved, IPv4 numbers and IDNs in their
 * standard form, `/` as the empty path) without the fragment, which never reaches the
 * server, and without an empty query (`?`). User info, if any, is masked. Null when `raw`
 * does not parse. Idempotent: the canonical form of a canonical URL is itself.
 */
export function canonicalUrl(raw: string): string | null {
  try {
    return canonicalOf(new URL(raw));
  } catch {
    return null;
  }
}

/** Changes `url` (which the caller owns) to its canonical form and returns that. */
function canonicalOf(url: URL): string {
  url.hash = '';
  if (url.search === '') url.search = ''; // `search` reads '' for both none and a bare `?`; setting it drops the `?`
  if (url.password !== '') url.password = MASK;
  else if (url.username !== '') url.username = MASK; // a lone user name is often a token
  return url.href;
}

function canonicalChecked(parsed: URL): UrlCheck {
  const url = canonicalOf(parsed);
  // Punycode and percent-encoding can lengthen a URL that passed the raw check.
  if (url.length > MAX_URL_LENGTH) return { ok: false, error: `url is longer than ${MAX_URL_LENGTH} characters once normalised` };
  return { ok: true, url };
}

type Parsed = { ok: true; url: URL } | { ok: false; error: string };

function parseTargetUrl(raw: unknown): Parsed {
  if (typeof raw !== 'string' || raw.length === 0) {
    return { ok: false, error: 'missing "url" query parameter' };
  }
  if (raw.length > MAX_URL_LENGTH) {
    return { ok: false, error: `url is longer than ${MAX_URL_LENGTH} characters` };
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (raw.trim() !== raw || /[\s\u0000-\u001f\u007f]/.test(raw)) {
    return { ok: false, error: 'url contains whitespace or control characters' };
  }
  // `example.com` or `localhost:8080/health`: a host without a scheme (the second even
  // parses, as a URL of scheme "localhost"). Say what was probably meant.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && URL.canParse(`http://${raw}`) && !/^[a-z][a-z0-9+.-]*:(?!\d)/i.test(raw)) {
    return { ok: false, error: `url has no scheme: did you mean "http://${raw}"?` };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, error: `invalid url: ${JSON.stringify(raw.slice(0, 200))}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, error: `unsupported scheme "${url.protocol.replace(/:$/, '')}": only http and https URLs can be monitored` };
  }
  if (!url.hostname) {
    return { ok: false, error: 'url has no host' };
  }
  return { ok: true, url };
}
