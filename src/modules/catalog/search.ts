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
 * The shortest last word matched as a prefix on its own. A prefix of one or two letters stands for
 * hundreds of words: alone it narrows almost nothing and makes the index merge all their lists.
 */
export const MIN_PREFIX_LENGTH = 3;

/**
 * A `to_tsquery` text that matches documents containing every word, the last one as a prefix, so
 * results follow the visitor as they type (`red mug` → `red & mug:*`); null when the text holds no
 * word at all, which callers answer with an empty result instead of a query. A last word shorter
 * than `MIN_PREFIX_LENGTH` is a prefix only after other words, which narrow the query first
 * (`red mu` → `red & mu:*`, `mu` → `mu`); a single letter after other words is left out until the
 * next one is typed (`red m` → `red`).
 */
export function toPrefixTsQuery(text: string): string | null {
  const tokens = queryTokens(text);
  if (tokens.length === 0) return null;
  const last = [...tokens.at(-1)!].length;
  if (tokens.length === 1) return last >= MIN_PREFIX_LENGTH ? `${tokens[0]}:*` : tokens[0]!;
  if (last === 1) return tokens.slice(0, -1).join(' & ');
  return `${tokens.join(' & ')}:*`;
}

/**
 * The end of a `toPrefixTsQuery` text whose last word is a prefix shorter than
 * `MIN_PREFIX_LENGTH` (`red & mu:*`), as a pattern that reads the same in PostgreSQL and
 * JavaScript (with the `u` flag: characters, not bytes).
 */
export const SHORT_PREFIX_TAIL = ` & [^ ]{1,${MIN_PREFIX_LENGTH - 1}}:\\*$`;
