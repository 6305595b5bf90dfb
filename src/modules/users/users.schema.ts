/** HTTP shapes of the users module (TypeBox): request bodies are strict, responses explicit. */
import { type Static, Type } from 'typebox';
import { Text, Uuid } from '../../shared/schemas.ts';
import {
  EMAIL_MAX_LENGTH,
  NAME_MAX_LENGTH,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
} from './users.service.ts';

const Email = Text({
  minLength: 3,
  maxLength: EMAIL_MAX_LENGTH,
  description: 'Email address; compared trimmed and case-insensitively',
  examples: ['ada@example.com'],
});

export const UserSchema = Type.Object(
  {
    id: Uuid,
    email: Type.String({ description: 'Normalised: trimmed, lower-case' }),
    name: Type.String(),
    role: Type.Union([Type.Literal('buyer'), Type.Literal('seller'), Type.Literal('admin')]),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type UserJson = Static<typeof UserSchema>;

export const UserEnvelope = Type.Object({ user: UserSchema }, { additionalProperties: false });

/** GET /api/auth/session: the signed-in user, or null when nobody is signed in. */
export const SessionEnvelope = Type.Object(
  { user: Type.Union([UserSchema, Type.Null()]) },
  { additionalProperties: false },
);

export const SignupBody = Type.Object(
  {
    email: Email,
    password: Text({
      minLength: PASSWORD_MIN_LENGTH,
      maxLength: PASSWORD_MAX_LENGTH,
      description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
    }),
    name: Text({ minLength: 1, maxLength: NAME_MAX_LENGTH, description: 'Display name; trimmed' }),
    role: Type.Union([Type.Literal('buyer'), Type.Literal('seller')], {
      description: 'Admins are not created by sign-up',
    }),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    email: Email,
    password: Text({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
  },
  { additionalProperties: false },
);
