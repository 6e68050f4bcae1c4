import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../registry.js';
import { HttpError, parseJsonBody, singleParam } from './body.js';
import { jsonArrayStream } from './json-array.js';
import { allowAll, type UrlRule, validUrl } from './validate.js';

export interface CompatOptions {
  registry: Registry;
  checkUrl: UrlRule;
  /** Serves the dashboard to browsers on `GET /`; returns false when the request is not a browser's. */
  dashboard: (req: FastifyRequest, reply: FastifyReply) => boolean;
}

/** The routes of the original SpO₂, kept exactly: `/?url=U` and `/all`. */
export function registerCompatRoutes(app: FastifyInstance, { registry, checkUrl, dashboard }: CompatOptions): void {
  const put = async (req: FastifyRequest) => {
    const url = validUrl(singleParam(req.query, 'url'), checkUrl);
    const data = parseJsonBody(req.body);
    const { value } = await registry.put(url, data);
    return value;
  };
  app.put('/', put);
  app.post('/', put);

  app.get('/', async (req, reply) => {
    reply.header('vary', 'Accept'); // the page for browsers, JSON for scripts: caches must tell them apart
    if (dashboard(req, reply)) return reply;
    const raw = singleParam(req.query, 'url');
    if (raw === undefined) throw new HttpError(400, 'missing "url" query parameter (GET /all lists every target)');
    // The allow-list guards registration only: a target allowed before a change of the list stays readable and removable.
    const value = registry.get(validUrl(raw, allowAll));
    if (!value) throw new HttpError(404, 'url is not registered');
    return value;
  });

  app.delete('/', async (req) => {
    const url = validUrl(singleParam(req.query, 'url'), allowAll);
    const removed = await registry.remove(url);
    if (!removed) throw new HttpError(404, 'url is not registered');
    return removed;
  });

  // Streamed: one string of every target is as big as the registry (24 MB at 20,000 targets
  // with 1 KB of data each), per request, and blocks the loop while it is built.
  app.get('/all', (_req, reply) => reply.type('application/json; charset=utf-8').send(jsonArrayStream(registry.values())));
}
