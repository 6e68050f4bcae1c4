/** The SpO₂-compatible API, relative to the page so it works under a proxy's path prefix. */

function endpoint(url: string): string {
  const base = new URL('./', location.href);
  return `${base.origin}${base.pathname}?url=${encodeURIComponent(url)}`;
}

type Answer = { ok: true; body: unknown } | { ok: false; error: string };

/** Resolves to the parsed answer on success, or the message to show the user. */
async function call(method: string, url: string, body?: string): Promise<Answer> {
  const init: RequestInit = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.body = body;
    init.headers = { ...init.headers, 'content-type': 'application/json' };
  }
  let res: Response;
  try {
    res = await fetch(endpoint(url), init);
  } catch (err) {
    return { ok: false, error: `Cannot reach SpO₂: ${(err as Error).message}` };
  }
  const text = await res.text().catch(() => '');
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: fall back to the status line
  }
  if (res.ok) return { ok: true, body: parsed };
  const error = (parsed as { error?: unknown } | null)?.error;
  if (typeof error === 'string' && error) return { ok: false, error };
  return { ok: false, error: `HTTP ${res.status} ${res.statusText}`.trim() };
}

/**
 * `PUT /?url=` with the custom data, if any, as the JSON body. Resolves to the URL as the
 * server keeps it (its canonical form: `HTTP://X` becomes `http://x/`), or the error to show.
 */
export async function addTarget(url: string, data: string): Promise<{ url: string } | { error: string }> {
  const answer = await call('PUT', url, data.trim() === '' ? undefined : data);
  if (!answer.ok) return { error: answer.error };
  const kept = (answer.body as { url?: unknown } | null)?.url;
  return { url: typeof kept === 'string' ? kept : url };
}

/** Resolves to null on success, or the message to show the user. */
export async function removeTarget(url: string): Promise<string | null> {
  const answer = await call('DELETE', url);
  return answer.ok ? null : answer.error;
}
