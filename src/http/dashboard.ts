import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The page trusts nothing but itself: no inline script or style, no third-party origin, and
 * WebSocket to its own host. Every URL, reason and datum is set as text, never as HTML.
 */
export const DASHBOARD_CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const assetsKey = Symbol('spo2.dashboard');

type WithAssets = FastifyInstance & { [assetsKey]?: Map<string, Asset> };

/**
 * Serves the built dashboard (`dist/web`) under `/static/`, from memory: the files are read
 * once at start-up. Call it on the root instance, before the routes that call `sendDashboard`.
 */
export function registerDashboard(app: FastifyInstance, opts: { webDir: string }): void {
  const assets = loadAssets(opts.webDir);
  if (!assets.has('index.html')) app.log.warn({ webDir: opts.webDir }, 'dashboard not built (run npm run build): GET / serves JSON only');
  app.decorate(assetsKey, assets);
  app.get<{ Params: { '*': string } }>('/static/*', async (req, reply) => {
    const asset = assets.get(req.params['*']);
    if (!asset || req.params['*'] === 'index.html') return reply.code(404).send({ error: `no dashboard asset ${req.params['*']}` });
    // Names are not content-hashed, so browsers revalidate each time; the ETag makes that a 304.
    reply.header('cache-control', 'no-cache').header('etag', asset.etag).header('x-content-type-options', 'nosniff');
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  });
}

function loadAssets(webDir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(webDir)) return assets;
  for (const entry of readdirSync(webDir, { recursive: true })) {
    const file = join(webDir, String(entry));
    const type = CONTENT_TYPES[extname(file)];
    if (!type || !statSync(file).isFile()) continue;
    const body = readFileSync(file);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(relative(webDir, file).split(sep).join('/'), { body, type, etag });
  }
  return assets;
}

/** True when the client prefers HTML to JSON (a browser), false for curl, scripts and `*\/*`. */
export function wantsDashboard(req: FastifyRequest): boolean {
  const accept = req.headers.accept;
  if (!accept) return false;
  let html = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) || 0 : 1;
    const type = range.trim();
    if (type === 'text/html' || type === 'application/xhtml+xml') html = Math.max(html, q);
    else if (type === 'application/json' || type === 'application/*') json = Math.max(json, q);
  }
  return html > 0 && html >= json;
}

/** Sends the dashboard page with its Content-Security-Policy. */
export function sendDashboard(reply: FastifyReply): FastifyReply {
  const index = (reply.server as WithAssets)[assetsKey]?.get('index.html');
  if (!index) return reply.code(503).send({ error: 'the dashboard is not built: run npm run build' });
  return reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
    .type(index.type)
    .send(index.body);
}
