/**
 * Who a service acts for. The HTTP edge turns a session into an `Actor` (src/http/auth.ts);
 * services receive the plain value, or null for an anonymous visitor, and check it with
 * `requireRole`.
 */
import { AppError } from './errors.ts';

export type Role = 'buyer' | 'seller' | 'admin';
export const ROLES: readonly Role[] = ['buyer', 'seller', 'admin'];

/** The signed-in user a service acts for. */
export type Actor = Readonly<{ userId: string; role: Role }>;

/**
 * The actor, when signed in and holding one of `roles` (an admin holds every role; no roles: any
 * signed-in user). Otherwise throws AppError UNAUTHENTICATED (no actor) or FORBIDDEN (another role).
 */
export function requireRole(actor: Actor | null | undefined, ...roles: Role[]): Actor {
  if (!actor) throw new AppError('UNAUTHENTICATED', 'sign in first: this needs a signed-in user');
  if (roles.length > 0 && !roles.includes(actor.role) && actor.role !== 'admin') {
    throw new AppError('FORBIDDEN', `this needs the ${roles.join(' or ')} role`);
  }
  return actor;
}
