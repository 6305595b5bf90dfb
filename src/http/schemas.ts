/**
 * Schemas of the HTTP edge that every module's routes share: the problem document, route id
 * params, response maps. Ids and free text for the modules' own schemas: src/shared/schemas.ts.
 */
import { type TSchema, Type } from 'typebox';
import { Uuid } from '../shared/schemas.ts';

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

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

/** Response map entries for the problems a route can answer with. */
export function problems(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = Type.Ref('Problem');
  return out;
}
