import type { FastifyInstance } from 'fastify';
import { isStatus } from '../core/status.js';
import type { TargetValue } from '../core/target.js';
import type { Registry } from '../registry.js';
import { HttpError, parseJsonBody, singleParam } from './body.js';
import { openApiDocument } from './openapi.js';
import { type UrlRule, validUrl } from './validate.js';

export interface V1Options {
  registry: Registry;
  checkUrl: UrlRule;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** The REST surface: targets with stable ids, filters and cursor pagination. */
export function registerV1Routes(app: FastifyInstance, { registry, checkUrl }: V1Options): void {
  app.get('/api/v1/openapi.json', async () => openApiDocument);

  app.get('/api/v1/targets', async (req) => {
    const status = singleParam(req.query, 'status');
    if (status !== undefined && !isStatus(status)) throw new HttpError(400, '"status" must be Healthy, Unhealthy or Unreachable');
    const q = singleParam(req.query, 'q');
    const limit = intParam(singleParam(req.query, 'limit'), 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
    const after = intParam(singleParam(req.query, 'after'), 'after', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const items: TargetValue[] = [];
    let more = false;
    // Targets are kept in registration order, which is id order: the cursor is the last id seen.
    for (const t of registry.values()) {
      if (t.id <= after || (status && t.status !== status) || (q && !t.url.includes(q))) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(t);
    }
    return { items, next: more ? items[items.length - 1]!.id : null };
  });

  app.post('/api/v1/targets', async (req, reply) => {
    const body = parseJsonBody(req.body);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'body must be a JSON object {"url": ..., "data": ...}');
    const { url: rawUrl, data, ...rest } = body as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new HttpError(400, `unknown field "${extra[0]}" (expected "url" and optional "data")`);
    const url = validUrl(rawUrl, checkUrl);
    const { value, created } = await registry.put(url, data === undefined ? null : data);
    return reply.code(created ? 201 : 200).header('location', `/api/v1/targets/${value.id}`).send(value);
  });

  app.get('/api/v1/targets/:id', async (req) => byId(registry, req.params));

  app.put('/api/v1/targets/:id/data', async (req) => {
    const target = byId(registry, req.params);
    const data = parseJsonBody(req.body);
    const value = await registry.replaceData(target.url, data === undefined ? null : data);
    if (!value) throw new HttpError(404, `no target with id ${target.id}`);
    return value;
  });

  app.delete('/api/v1/targets/:id', async (req) => {
    const target = byId(registry, req.params);
    const removed = await registry.remove(target.url);
    if (!removed) throw new HttpError(404, `no target with id ${target.id}`);
    return removed;
  });
}

function byId(registry: Registry, params: unknown): TargetValue {
  const id = intParam((params as { id?: string }).id ?? '', 'id', 1, Number.MAX_SAFE_INTEGER)!;
  const target = registry.getById(id);
  if (!target) throw new HttpError(404, `no target with id ${id}`);
  return target;
}

function intParam(raw: string | undefined, name: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw new HttpError(400, `"${name}" must be a whole number between ${min} and ${max}`);
  return n;
}
