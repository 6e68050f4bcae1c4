/** The SpO₂-compatible API, relative to the page so it works under a proxy's path prefix. */

function endpoint(url: string): string {
  const base = new URL('./', location.href);
  return `${base.origin}${base.pathname}?url=${encodeURIComponent(url)}`;
}

/** Resolves to null on success, or the message to show the user. */
async function call(method: string, url: string, body?: string): Promise<string | null> {
  const init: RequestInit = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.body = body;
    init.headers = { ...init.headers, 'content-type': 'application/json' };
  }
  let res: Response;
  try {
    res = await fetch(endpoint(url), init);
  } catch (err) {
    return `Cannot reach SpO₂: ${(err as Error).message}`;
  }
  if (res.ok) return null;
  const text = await res.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string' && parsed.error) return parsed.error;
  } catch {
    // not JSON: fall back to the status line
  }
  return `HTTP ${res.status} ${res.statusText}`.trim();
}

/** `PUT /?url=` with the custom data, if any, as the JSON body. */
export function addTarget(url: string, data: string): Promise<string | null> {
  return call('PUT', url, data.trim() === '' ? undefined : data);
}

export function removeTarget(url: string): Promise<string | null> {
  return call('DELETE', url);
}
