/**
 * Keyset pagination cursors. A cursor is base64url JSON of the last row's sort key and id, and
 * names its sort: `{"s":"price_asc","k":1299,"id":"…"}`. It is opaque to clients but not secret;
 * anything that does not decode to a well-formed key of the requested sort is INVALID_INPUT, so a
 * tampered cursor never reaches SQL as an unusable value.
 */
import { invalidInput } from '../../shared/errors.ts';
import { isUuid } from '../../shared/ids.ts';
import { LIMITS, type Sort } from './catalog.schema.ts';

/** Where the previous page ended: its last row's sort key and id. */
export type SortKey =
  | Readonly<{ sort: 'newest'; key: Date; id: string }>
  | Readonly<{ sort: 'price_asc' | 'price_desc'; key: number; id: string }>
  | Readonly<{ sort: 'relevance'; key: number; id: string }>;

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** ts_rank is a `real`; keys outside this range could not have come from one. */
const RANK_MIN = 1e-30;
const RANK_MAX = 1e6;

export function encodeCursor(key: SortKey): string {
  const k = key.key instanceof Date ? key.key.toISOString() : key.key;
  return Buffer.from(JSON.stringify({ s: key.sort, k, id: key.id })).toString('base64url');
}

/**
 * The key encoded in `cursor`, which must belong to `sort` and be exactly as `encodeCursor`
 * wrote it (base64 is lenient, so a changed character can still decode); INVALID_INPUT otherwise.
 */
export function decodeCursor(cursor: string, sort: Sort): SortKey {
  const key = parseCursor(cursor, sort);
  if (encodeCursor(key) !== cursor) throw badCursor('it was altered');
  return key;
}

function badCursor(why: string) {
  return invalidInput(`cursor is not valid: ${why}; start again without a cursor`, {
    errors: [{ location: 'querystring', path: '/cursor', message: why }],
  });
}

function parseCursor(cursor: string, sort: Sort): SortKey {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor('it does not decode');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badCursor('it does not decode');
  const { s, k, id, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw badCursor('it has unknown members');
  if (s !== sort) throw badCursor(`it belongs to another sort order than ${sort}`);
  if (typeof id !== 'string' || !isUuid(id)) throw badCursor('its id is not a UUID');
  switch (sort) {
    case 'newest': {
      if (typeof k !== 'string' || !ISO_MS.test(k)) throw badCursor('its key is not a timestamp');
      const at = new Date(k);
      if (Number.isNaN(at.getTime()) || at.toISOString() !== k) throw badCursor('its key is not a timestamp');
      return { sort, key: at, id };
    }
    case 'price_asc':
    case 'price_desc':
      if (!Number.isInteger(k) || (k as number) < 0 || (k as number) > LIMITS.priceMinorMax) {
        throw badCursor('its key is not a price');
      }
      return { sort, key: k as number, id };
    case 'relevance':
      if (typeof k !== 'number' || !(k === 0 || (k >= RANK_MIN && k <= RANK_MAX))) {
        throw badCursor('its key is not a rank');
      }
      return { sort, key: k, id };
  }
}
