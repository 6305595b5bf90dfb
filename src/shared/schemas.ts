/**
 * TypeBox building blocks the modules' schemas share (ids, free text). Plain JSON Schema, no
 * HTTP: the edge's own schemas (problem documents, route params) are in src/http/schemas.ts.
 */
import { type TStringOptions, Type } from 'typebox';
import { UUID_PATTERN } from './ids.ts';

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
