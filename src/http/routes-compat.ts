import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../registry.js';
import { HttpError, parseJsonBody, singleParam } from './body.js';
import { jsonArrayStream } from './json-array.js';
import { lookupUrl, type UrlRule, validUrl } from './validate.js';

export interface CompatOptions {
  registry: Registry;
  checkUrl: UrlRule;
  /** Serves the dashboard to browsers on `GET /`; returns false when the request is not a browser's. */
  dashboard: (req: FastifyRequest, reply: FastifyReply) => boolean;
}

/** The routes of the original SpO₂, kept exactly: `/?url=U` and `/all`. Any spelling of a URL names the same target. */
export function registerCompatRoutes(app: FastifyInstance, { registry, checkUrl, dashboard }: CompatOptions): void {
  const put = async (req: FastifyRequest) => {
    const url = validUrl(urlParam(req), checkUrl);
    const data = parseJsonBody(req.body);
    const { value } = await registry.put(url, data);
    return value;
  };
  app.put('/', put);
  app.post('/', put);

  app.get('/', async (req, reply) => {
    reply.header('vary', 'Accept'); // the page for browsers, JSON for scripts: caches must tell them apart
    if (dashboard(req, reply)) return reply;
    const raw = urlParam(req);
    if (raw === undefined) throw new HttpError(400, 'missing "url" query parameter (GET /all lists every target)');
    const value = registry.get(lookupUrl(raw));
    if (!value) throw new HttpError(404, 'url is not registered');
    return value;
  });

  app.delete('/', async (req) => {
    const url = lookupUrl(urlParam(req));
    const removed = await registry.remove(url);
    if (!removed) throw new HttpError(404, 'url is not registered');
    return removed;
  });

  // Streamed: one string of every target is as big as the registry (24 MB at 20,000 targets
  // with 1 KB of data each), per request, and blocks the loop while it is built.
  app.get('/all', (_req, reply) => reply.type('application/json; charset=utf-8').send(jsonArrayStream(registry.values())));
}

/**
 * The `url` query parameter. `?url=http://h/a?x=1&y=2` reaches us as url=`http://h/a?x=1`
 * and y=`2`: when the value has a query of its own and other parameters came along (these
 * routes use none), the `&` was almost surely meant as part of the URL. Refuse it with the
 * encoded form rather than silently watch a shorter URL. Other extra parameters stay
 * ignored, as the original SpO₂ did.
 */
function urlParam(req: FastifyRequest): string | undefined {
  const raw = singleParam(req.query, 'url');
  if (typeof raw !== 'string' || !raw.includes('?')) return raw;
  const others = Object.keys(req.query as Record<string, unknown>).filter((k) => k !== 'url');
  if (others.length === 0) return raw;
  const query = req.url.slice(req.url.indexOf('?') + 1).split('&');
  const start = query.findIndex((p) => p.startsWith('url='));
  const intended = [raw, ...query.slice(start + 1).map(decodeLoosely)].join('&');
  throw new HttpError(400, `url looks cut at an unencoded "&" (other parameters: ${others.join(', ')}): ` +
    `encode the whole URL, e.g. ?url=${encodeURIComponent(intended)}`);
}

function decodeLoosely(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return part;
  }
}
