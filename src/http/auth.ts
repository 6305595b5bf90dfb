/**
 * The session cookie and who is asking. A hook resolves the cookie to a session through the
 * sessions port once per request; routes then call `currentActor` (and pass the plain `Actor`,
 * src/shared/actor.ts, to services, which check it) or `requireUser` / `requireRole`. Services
 * never see the request.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.ts';
import type { SignInStep } from '../modules/module.ts';
import type { Session, SessionStore } from '../platform/sessions/sessions.ts';
import { type Actor, ROLES, type Role, requireRole as requireActorRole } from '../shared/actor.ts';
import { AppError } from '../shared/errors.ts';

export const SESSION_COOKIE = 'bazaar_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** The live session of this request, or null (resolved lazily, once). */
    session(): Promise<Session | null>;
    /** `session()`'s pending answer once asked (a property, not a WeakMap entry per request). */
    sessionLookup: Promise<Session | null> | null;
  }
  interface FastifyInstance {
    /**
     * Runs every module's sign-in step for `session`, just started by a sign-in or sign-up, in
     * that request and before its answer. A step that fails is logged and skipped: the sign-in
     * stands (each step must leave its work retryable, e.g. a pending merge stays in the session).
     */
    signedIn(request: FastifyRequest, session: Session): Promise<void>;
  }
}

/** Decorates the app with `signedIn`, running `steps` in order. */
export function registerSignInSteps(app: FastifyInstance, steps: readonly SignInStep[]): void {
  app.decorate('signedIn', async (request: FastifyRequest, session: Session) => {
    for (const step of steps) {
      try {
        await step(session);
      } catch (err) {
        request.log.warn(
          { err },
          'a sign-in step failed; it is retried when its module next sees the session',
        );
      }
    }
  });
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function registerAuth(
  app: FastifyInstance,
  sessions: SessionStore,
  /** Whether sessions live in the application's database (SESSION_STORE=sql). */
  options: Readonly<{ storeIsDatabase: boolean }>,
): void {
  app.decorateRequest('sessionLookup', null);
  app.decorateRequest('session', function (this: FastifyRequest) {
    let pending = this.sessionLookup;
    if (!pending) {
      const id = this.cookies[SESSION_COOKIE];
      // Fail closed: a session the store cannot check grants nothing. A session store of its own
      // (Redis) that is down: 401 with its own code and Retry-After, not a 5xx (the site is up,
      // only sign-ins cannot be checked), and the cookie is kept, so the visitor is signed in
      // again as soon as the store answers. Sessions in the database, which is down (or failing
      // over): 503 with Retry-After, like every other request that needs the database.
      pending = id
        ? sessions.get(id).catch((err: unknown) => {
            throw options.storeIsDatabase
              ? new AppError('UNAVAILABLE', 'sessions are unavailable; try again shortly', {
                  cause: err,
                  retryAfterSeconds: 1,
                })
              : new AppError(
                  'SESSIONS_UNAVAILABLE',
                  'your sign-in cannot be checked right now (the session store is unavailable); you are still signed in, try again in a moment',
                  { cause: err, retryAfterSeconds: 1 },
                );
          })
        : Promise.resolve(null);
      this.sessionLookup = pending;
    }
    return pending;
  });
}

export async function currentActor(request: FastifyRequest): Promise<Actor | null> {
  const session = await request.session();
  if (!session?.userId) return null;
  const role = session.data['role'];
  return { userId: session.userId, role: ROLES.includes(role as Role) ? (role as Role) : 'buyer' };
}

/** No session cookie: `currentActor` and `publicActor` answer null without asking the session store. */
export const withoutSession = (request: FastifyRequest): boolean => !request.cookies[SESSION_COOKIE];

/**
 * The actor for a read anyone may make (a product page): when the session store cannot check the
 * cookie, the visitor is served as anonymous (nothing a session grants) instead of refused.
 */
export async function publicActor(request: FastifyRequest): Promise<Actor | null> {
  try {
    return await currentActor(request);
  } catch (err) {
    // Only the session lookup can fail here: whichever store it is, read on as anonymous.
    if (err instanceof AppError && (err.code === 'SESSIONS_UNAVAILABLE' || err.code === 'UNAVAILABLE'))
      return null;
    throw err;
  }
}

/** The request's actor; 401 UNAUTHENTICATED without one (src/shared/actor.ts, `requireRole`). */
export async function requireUser(request: FastifyRequest): Promise<Actor> {
  return requireActorRole(await currentActor(request));
}

/** The request's actor when it holds one of `roles` (admins hold all); else 401 or 403. */
export async function requireRole(request: FastifyRequest, ...roles: Role[]): Promise<Actor> {
  return requireActorRole(await currentActor(request), ...roles);
}

/** Sets the session cookie: HttpOnly, SameSite=Lax, Secure unless served to localhost over http. */
export function setSessionCookie(reply: FastifyReply, config: Config, session: Session): void {
  reply.setCookie(SESSION_COOKIE, session.id, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: cookieSecure(reply.request, config),
    expires: session.expiresAt,
  });
}

export function clearSessionCookie(reply: FastifyReply, config: Config): void {
  reply.clearCookie(SESSION_COOKIE, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: cookieSecure(reply.request, config),
  });
}

/** The rule for every cookie of ours: Secure unless served to localhost over plain http (COOKIE_SECURE). */
export function cookieSecure(request: FastifyRequest, config: Config): boolean {
  if (config.cookieSecure === 'always') return true;
  if (config.cookieSecure === 'never') return false;
  return !LOCAL_HOSTS.has(request.hostname) || request.protocol === 'https';
}
