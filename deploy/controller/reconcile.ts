/**
 * Keeps SpO₂'s targets equal to what a platform runs: a level-triggered reconcile that a
 * controller calls after every change it makes (and every minute, to repair drift). It only
 * touches targets it owns (`data.owner`), so several platforms can share one SpO₂.
 * Plain `fetch`: Node 18+, Deno and Bun run it as is. Docs: docs/deploy.md.
 */

export interface Spo2Client {
  /** e.g. `http://spo2.monitoring.svc.cluster.local` */
  baseUrl: string;
  /** `SPO2_API_TOKEN`, when SpO₂ has one. */
  token?: string;
}

export interface Endpoint {
  url: string;
  /** Shown on the dashboard and in notifications' data. */
  data?: Record<string, unknown>;
}

interface Target {
  url: string;
  data: unknown;
}

async function call(spo2: Spo2Client, method: string, path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (spo2.token) headers.authorization = `Bearer ${spo2.token}`;
  const res = await fetch(spo2.baseUrl.replace(/\/$/, '') + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  // Removing what is already gone is success: another writer got there first.
  if (method === 'DELETE' && res.status === 404) return null;
  if (!res.ok) throw new Error(`SpO₂ ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

export const register = (spo2: Spo2Client, url: string, data?: Record<string, unknown>) =>
  call(spo2, 'PUT', `/?url=${encodeURIComponent(url)}`, data);

export const unregister = (spo2: Spo2Client, url: string) =>
  call(spo2, 'DELETE', `/?url=${encodeURIComponent(url)}`);

/** Registers the desired endpoints that are missing and removes this owner's others. */
export async function reconcile(spo2: Spo2Client, owner: string, desired: Endpoint[]): Promise<{ added: string[]; removed: string[] }> {
  const current = (await call(spo2, 'GET', '/all')) as Target[];
  const registered = new Set(current.map((t) => t.url));
  const wanted = new Set(desired.map((e) => e.url));
  const added: string[] = [];
  const removed: string[] = [];
  for (const e of desired) {
    if (registered.has(e.url)) continue;
    await register(spo2, e.url, { ...e.data, owner });
    added.push(e.url);
  }
  for (const t of current) {
    const mine = typeof t.data === 'object' && t.data !== null && (t.data as { owner?: unknown }).owner === owner;
    if (!mine || wanted.has(t.url)) continue;
    await unregister(spo2, t.url);
    removed.push(t.url);
  }
  return { added, removed };
}
