/**
 * The search box's language, pure: words match the URL or any custom data value (substring,
 * any case); `field:value` keeps the targets whose data field `field` is exactly `value`
 * (any case; quote a value with spaces: `owner:"data platform"`). Every part must match.
 */

export interface Query {
  /** Lower-cased substrings of the URL or a data value. */
  words: string[];
  /** Lower-cased field name → lower-cased exact value. */
  fields: [string, string][];
}

export interface Searchable {
  /** The URL, lower-cased. */
  url: string;
  /** Lower-cased data values by lower-cased field (see `dataFields`). */
  data: Map<string, string>;
}

const TOKEN = /(?:([A-Za-z_][\w.-]*):(?!\/\/)("([^"]*)"?|\S*))|"([^"]*)"?|(\S+)/g;

export function parseQuery(text: string): Query {
  const query: Query = { words: [], fields: [] };
  for (const m of text.matchAll(TOKEN)) {
    const [, field, raw, quoted, quotedWord, word] = m;
    if (field !== undefined && raw !== undefined && raw !== '') {
      query.fields.push([field.toLowerCase(), (quoted ?? raw).toLowerCase()]);
    } else if (field !== undefined) {
      query.words.push(`${field.toLowerCase()}:`); // `team:` alone, still being typed: a plain word
    } else {
      const w = (quotedWord ?? word ?? '').toLowerCase();
      if (w !== '') query.words.push(w);
    }
  }
  return query;
}

export function isEmpty(query: Query): boolean {
  return query.words.length === 0 && query.fields.length === 0;
}

export function matches(query: Query, target: Searchable): boolean {
  for (const [field, value] of query.fields) {
    if (target.data.get(field) !== value) return false;
  }
  for (const word of query.words) {
    if (target.url.includes(word)) continue;
    let found = false;
    for (const value of target.data.values()) {
      if (value.includes(word)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}
