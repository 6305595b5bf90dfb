/** Schemas every module's routes share: problem documents, ids, pagination. */
import { type TSchema, Type } from 'typebox';
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

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

/** Response map entries for the problems a route can answer with. */
export function problems(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = Type.Ref('Problem');
  return out;
}
