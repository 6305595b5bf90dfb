/**
 * Full-text search queries. The text a visitor types never reaches SQL as syntax: it is cut into
 * words of letters and digits, and the tsquery is built here from those words alone, then sent
 * as a parameter to `to_tsquery('english', $1)`. Every operator character (`& | ! ( ) : * ' \`)
 * is a separator, so no input can make `to_tsquery` fail.
 */

/** Words beyond this many are ignored. */
export const MAX_QUERY_TOKENS = 10;

/** The characters that make up words; everything else separates them. */
const SEPARATORS = /[^\p{L}\p{N}]+/u;

/** The words of a search text, in order: NFKC-normalised, at most `MAX_QUERY_TOKENS`. */
export function queryTokens(text: string): string[] {
  return text
    .normalize('NFKC')
    .split(SEPARATORS)
    .filter((token) => token !== '')
    .slice(0, MAX_QUERY_TOKENS);
}

/**
 * The shortest last word matched as a prefix. A prefix of one or two letters stands for hundreds
 * of words: it narrows almost nothing and makes the index merge all their lists.
 */
export const MIN_PREFIX_LENGTH = 3;

/**
 * A `to_tsquery` text that matches documents containing every word, the last one as a prefix
 * when it has at least `MIN_PREFIX_LENGTH` characters (`red mug` → `red & mug:*`, so results
 * follow the visitor as they type; `red mu` → `red & mu`); null when the text holds no word at
 * all, which callers answer with an empty result instead of a query.
 */
export function toPrefixTsQuery(text: string): string | null {
  const tokens = queryTokens(text);
  if (tokens.length === 0) return null;
  const last = tokens.length - 1;
  const prefix = [...tokens[last]!].length >= MIN_PREFIX_LENGTH;
  return tokens.map((token, i) => (i === last && prefix ? `${token}:*` : token)).join(' & ');
}
