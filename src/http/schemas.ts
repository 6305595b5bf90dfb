/** Schemas every module's routes share: problem documents, ids, text, pagination. */
import { type TSchema, type TStringOptions, Type } from 'typebox';
import { UUID_PATTERN } from '../shared/ids.ts';

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable, machine-readable error code, e.g. NOT_FOUND' }),
    detail: Type.String(),
    instance: Type.String(),
    requestId: Type.String(),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem document' },
);

export const Uuid = Type.String({ pattern: UUID_PATTERN, description: 'UUIDv7' });

/** Matches text without NUL, which PostgreSQL cannot store in text or jsonb. */
export const NO_NUL = '^[^\\u0000]*$';

/**
 * Every free-text field a route takes (bodies, queries, headers): a string that refuses NUL with
 * 400 INVALID_INPUT before it can reach the database. Fields with their own stricter pattern
 * (ids, slugs, cursors) already exclude NUL and keep it.
 */
export const Text = (options: Omit<TStringOptions, 'pattern'> = {}) =>
  Type.String({ ...options, pattern: NO_NUL });

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

/** Response map entries for the problems a route can answer with. */
export function problems(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = Type.Ref('Problem');
  return out;
}
