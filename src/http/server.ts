import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from '../registry.js';
import { StoreUnavailableError } from '../store/ports.js';
import { HttpError } from './body.js';
import { registerCompatRoutes } from './routes-compat.js';
import { registerV1Routes } from './routes-v1.js';
import type { UrlRule } from './validate.js';

export interface HttpAppOptions {
  registry: Registry;
  logger: Logger;
  bodyLimit: number;
  checkUrl: UrlRule;
  dashboard: (req: FastifyRequest, reply: FastifyReply) => boolean;
  /** Extra liveness facts for /healthz. */
  health?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Why the store cannot write now; /healthz answers 503 with it. */
  storeTrouble?: () => StoreUnavailableError | null;
  https?: { cert: Buffer | string; key: Buffer | string } | null;
}

/**
 * A stalled or trickling client (slow-loris) gives its socket up: headers within 10 s, the
 * whole request within 30 s (`requestTimeout` below), checked every 2 s.
 */
export const SLOW_CLIENT = { headersTimeout: 10_000, connectionsCheckingInterval: 2_000 };

/** The HTTP API: SpO₂-compatible routes, `/api/v1`, `/healthz`; every error as `{"error": "..."}`. */
export function createHttpApp(opts: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    // Warnings and errors only: Fastify's "Server listening" would be printed even when the
    // second listener then fails and the process exits; "SpO₂ started" says it all once.
    loggerInstance: opts.logger.child({}, { level: opts.logger.isLevelEnabled('warn') ? 'warn' : opts.logger.level }),
    logController: new LogController({ disableRequestLogging: true }), // one line per transition, not per request
    bodyLimit: opts.bodyLimit,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    forceCloseConnections: true,
    requestTimeout: 30_000,
    ...(opts.https ? { https: { ...opts.https, ...SLOW_CLIENT } } : { http: SLOW_CLIENT }),
    // A path that is not valid percent-encoding answers in the API's own error shape.
    frameworkErrors: (err: Error, _req: FastifyRequest, reply: FastifyReply) => reply.code(400).send({ error: err.message }),
  }) as unknown as FastifyInstance;

  // Bodies are taken raw whatever their content type (curl -d sends form encoding) and
  // parsed by the route, so every route answers bad JSON with the same clear message.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.message });
    // Logged by the store once when the trouble starts, not per request.
    if (err instanceof StoreUnavailableError) return reply.code(503).send({ error: err.message });
    const status = err.statusCode ?? 500;
    if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: `body is larger than the limit of ${opts.bodyLimit} bytes` });
    }
    if (status >= 400 && status < 500) return reply.code(status).send({ error: err.message });
    req.log.error({ err, method: req.method, path: req.routeOptions?.url }, 'request failed');
    return reply.code(500).send({ error: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route for ${req.method} ${req.url.split('?')[0]}` }));

  app.get('/healthz', async (_req, reply) => {
    const facts = { targets: opts.registry.size, ...(await opts.health?.()) };
    const trouble = opts.storeTrouble?.() ?? null;
    // Without the path: /healthz needs no credentials.
    if (trouble) return reply.code(503).send({ status: 'degraded', reason: trouble.reason, ...facts });
    return { status: 'ok', ...facts };
  });
  registerCompatRoutes(app, opts);
  registerV1Routes(app, opts);
  return app;
}
