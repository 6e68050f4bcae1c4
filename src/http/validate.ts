import { checkTargetUrl } from '../core/url.js';
import { HttpError } from './body.js';

/** An extra rule on registered URLs (an allow-list, say): an error message, or null when allowed. */
export type UrlRule = (url: URL) => string | null;

export const allowAll: UrlRule = () => null;

/** The target URL of a request, or HttpError(400) saying what is wrong with it. */
export function validUrl(raw: unknown, rule: UrlRule): string {
  const check = checkTargetUrl(raw);
  if (!check.ok) throw new HttpError(400, check.error);
  const refused = rule(new URL(check.url));
  if (refused) throw new HttpError(400, refused);
  return check.url;
}
