export const MAX_URL_LENGTH = 2048;

export type UrlCheck = { ok: true; url: string } | { ok: false; error: string };

/**
 * Validates a URL to monitor. The URL is kept exactly as given (it is the target's
 * identity in every API and message), but it must parse as http(s) with a host.
 */
export function checkTargetUrl(raw: unknown): UrlCheck {
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
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return { ok: false, error: `invalid url: ${JSON.stringify(raw.slice(0, 200))}` };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { ok: false, error: `unsupported scheme "${parsed.protocol.replace(/:$/, '')}": only http and https URLs can be monitored` };
  }
  if (!parsed.hostname) {
    return { ok: false, error: 'url has no host' };
  }
  return { ok: true, url: raw };
}
