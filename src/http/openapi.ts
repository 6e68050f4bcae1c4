/** The OpenAPI 3.1 description of the API, served at /api/v1/openapi.json. */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const error = (description: string) => ({ description, ...json(ref('Error')) });
const urlParam = { name: 'url', in: 'query', required: true, description: 'the URL to check, URL-encoded; any spelling of it names the same target (kept in canonical form, see docs/api.md)', schema: { type: 'string', maxLength: 2048 } };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };
/** A write the storage cannot take (disk full, read-only, damaged file): nothing changed. */
const unavailable = error('the database cannot take writes now (disk full, read-only, damaged); nothing changed');
const anyJson = { description: 'custom JSON data attached to the target (any JSON value)' };

const register = {
  summary: 'Register a URL, or replace its custom data (idempotent)',
  parameters: [urlParam],
  requestBody: { required: false, ...json(anyJson) },
  responses: { 200: { description: 'the target', ...json(ref('Target')) }, 400: error('invalid url or body'), 413: error('body too large'), 503: unavailable },
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'SpO₂',
    version: '1',
    description: 'Register the URLs to health-check, read their status. The `/` and `/all` routes are the SpO₂-compatible API; `/api/v1` is the REST surface.',
  },
  paths: {
    '/': {
      put: register,
      post: { ...register, summary: 'Same as PUT' },
      get: {
        summary: 'One target (with Accept: text/html, the dashboard)',
        parameters: [{ ...urlParam, required: false }],
        responses: { 200: { description: 'the target', ...json(ref('Target')) }, 400: error('invalid or missing url'), 404: error('not registered') },
      },
      delete: { summary: 'Unregister a URL', parameters: [urlParam], responses: { 200: { description: 'the removed target', ...json(ref('Target')) }, 404: error('not registered'), 503: unavailable } },
    },
    '/all': { get: { summary: 'Every target', responses: { 200: { description: 'all targets', ...json({ type: 'array', items: ref('Target') }) } } } },
    '/healthz': { get: { summary: "SpO₂'s own liveness", responses: { 200: { description: 'alive', ...json({ type: 'object' }) } } } },
    '/api/v1/targets': {
      get: {
        summary: 'List targets, oldest first, with cursor pagination',
        parameters: [
          { name: 'status', in: 'query', schema: ref('Status') },
          { name: 'q', in: 'query', description: 'substring of the URL', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'after', in: 'query', description: 'the `next` cursor of the previous page', schema: { type: 'integer', minimum: 0 } },
        ],
        responses: {
          200: { description: 'a page', ...json({ type: 'object', required: ['items', 'next'], properties: { items: { type: 'array', items: ref('Target') }, next: { type: ['integer', 'null'] } } }) },
          400: error('bad filter'),
        },
      },
      post: {
        summary: 'Register a URL (idempotent: an existing URL keeps its id and status)',
        requestBody: { required: true, ...json({ type: 'object', required: ['url'], properties: { url: { type: 'string' }, data: anyJson }, additionalProperties: false }) },
        responses: { 201: { description: 'created', ...json(ref('Target')) }, 200: { description: 'already registered; data replaced', ...json(ref('Target')) }, 400: error('invalid url or body'), 503: unavailable },
      },
    },
    '/api/v1/targets/{id}': {
      get: { summary: 'One target', parameters: [idParam], responses: { 200: { description: 'the target', ...json(ref('Target')) }, 404: error('no such target') } },
      delete: { summary: 'Unregister a target', parameters: [idParam], responses: { 200: { description: 'the removed target', ...json(ref('Target')) }, 404: error('no such target'), 503: unavailable } },
    },
    '/api/v1/targets/{id}/data': {
      put: { summary: "Replace a target's custom data", parameters: [idParam], requestBody: { required: true, ...json(anyJson) }, responses: { 200: { description: 'the target', ...json(ref('Target')) }, 400: error('body is not JSON'), 404: error('no such target'), 503: unavailable } },
    },
  },
  components: {
    schemas: {
      Status: { type: 'string', enum: ['Healthy', 'Unhealthy', 'Unreachable'] },
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
      Target: {
        type: 'object',
        required: ['id', 'url', 'status', 'reason', 'data'],
        properties: {
          id: { type: 'integer' },
          url: { type: 'string' },
          status: ref('Status'),
          reason: { type: 'string', description: 'status line or error message while not Healthy' },
          data: anyJson,
          httpStatus: { type: ['integer', 'null'] },
          latencyMs: { type: ['number', 'null'] },
          since: { type: 'string', format: 'date-time' },
          lastCheck: { type: ['string', 'null'], format: 'date-time' },
          lastStatus: { oneOf: [ref('Status'), { type: 'null' }] },
          lastReason: { type: ['string', 'null'] },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
} as const;
