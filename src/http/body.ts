/** Request-body and query helpers shared by every route: parse once, fail with a clear message. */

export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The custom JSON data of a request: `undefined` when the body is empty, the parsed value
 * otherwise. Throws HttpError(400) for a body that is not UTF-8 or not JSON, or nests too deep.
 */
export function parseJsonBody(body: unknown): unknown {
  if (body === undefined || body === null) return undefined;
  let text: string;
  try {
    text = Buffer.isBuffer(body) ? utf8.decode(body) : String(body);
  } catch {
    throw new HttpError(400, 'body is not valid UTF-8');
  }
  if (text.trim() === '') return undefined;
  if (nestingDepth(text) > MAX_JSON_DEPTH) throw new HttpError(400, `body nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${(err as Error).message}`);
  }
}

/** The deepest bracket nesting of a JSON text, counted without recursion. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** One query parameter given at most once. */
export function singleParam(query: unknown, name: string): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new HttpError(400, `"${name}" query parameter given more than once`);
  return String(value);
}
