import { checkLookupUrl, checkTargetUrl } from '../core/url.js';
import { HttpError } from './body.js';

/** An extra rule on registered URLs (an allow-list, say): an error message, or null when allowed. */
export type UrlRule = (url: URL) => string | null;

/** The canonical URL to register, or HttpError(400) saying what is wrong with it. The rule judges the canonical form. */
export function validUrl(raw: unknown, rule: UrlRule): string {
  const check = checkTargetUrl(raw);
  if (!check.ok) throw new HttpError(400, check.error);
  const refused = rule(new URL(check.url));
  if (refused) throw new HttpError(400, refused);
  return check.url;
}

/**
 * The canonical URL of a registered target, to read or remove it, or HttpError(400). No
 * rule: a target allowed before a change of the allow-list stays readable and removable.
 */
export function lookupUrl(raw: unknown): string {
  const check = checkLookupUrl(raw);
  if (!check.ok) throw new HttpError(400, check.error);
  return check.url;
}
