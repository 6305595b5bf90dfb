/**
 * /api/auth: sign-up, sign-in, sign-out, current user. Thin: the schema validates, the service
 * decides, this file maps to HTTP and sets or clears the session cookie. A sign-in or sign-up runs
 * the modules' sign-in steps (`app.signedIn`: the anonymous cart merges) before it answers.
 */
import rateLimit from '@fastify/rate-limit';
import { Type } from 'typebox';
import type { ApiApp } from '../../http/api-app.ts';
import {
  clearSessionCookie,
  currentActor,
  requireUser,
  SESSION_COOKIE,
  setSessionCookie,
} from '../../http/auth.ts';
import { OPTIONAL_SESSION_SECURITY } from '../../http/openapi.ts';
import { problems } from '../../http/schemas.ts';
import { AppError } from '../../shared/errors.ts';
import type { ModuleDeps } from '../module.ts';
import { LoginBody, SessionEnvelope, SignupBody, UserEnvelope, type UserJson } from './users.schema.ts';
import { createUsersService, type User } from './users.service.ts';

const toJson = (user: User): UserJson => ({
  id: user.id,
  email: user.email,
  name: user.name,
  role: user.role,
  createdAt: user.createdAt.toISOString(),
});

export async function usersRoutes(app: ApiApp, { config, platform }: ModuleDeps): Promise<void> {
  const users = createUsersService({ config, platform });

  // Per client address, in this process's memory: a first brake on password guessing. The
  // per-account limit (in the users table) is the one that holds across instances.
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', `too many sign-in attempts from this address; retry in ${context.after}`, {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      }),
  });

  app.post(
    '/api/auth/signup',
    {
      schema: {
        tags: ['auth'],
        operationId: 'signUp',
        summary: 'Create a buyer or seller account and sign in',
        body: SignupBody,
        response: { 201: UserEnvelope, ...problems(400, 401, 403, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      const { user, session } = await users.signUp(request.body, await request.session());
      await app.signedIn(request, session);
      setSessionCookie(reply, config, session);
      reply.header('cache-control', 'no-store');
      return reply.status(201).send({ user: toJson(user) });
    },
  );

  app.post(
    '/api/auth/login',
    {
      config: { rateLimit: { max: config.loginRateLimitPerIp, timeWindow: 60_000 } },
      schema: {
        tags: ['auth'],
        operationId: 'logIn',
        summary: 'Sign in with email and password',
        description:
          'Starts a new session (a new cookie value) and ends the one the request carried. ' +
          `After ${config.loginMaxFailuresPerAccount} failed attempts on an account, or ` +
          `${config.loginRateLimitPerIp} attempts a minute from one address, answers 429 with Retry-After.`,
        body: LoginBody,
        response: { 200: UserEnvelope, ...problems(400, 401, 403, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const { user, session } = await users.logIn(request.body, await request.session());
      await app.signedIn(request, session);
      setSessionCookie(reply, config, session);
      reply.header('cache-control', 'no-store');
      return { user: toJson(user) };
    },
  );

  app.post(
    '/api/auth/logout',
    {
      schema: {
        tags: ['auth'],
        operationId: 'logOut',
        summary: 'Sign out: end this session and clear the cookie (also fine when signed out)',
        response: { 204: Type.Null({ description: 'Signed out' }), ...problems(403) },
      },
    },
    async (request, reply) => {
      await users.logOut(request.cookies[SESSION_COOKIE]);
      clearSessionCookie(reply, config);
      return reply.status(204).send(null);
    },
  );

  // For a page that shows who is signed in on every view: nobody is an answer, not an error
  // (a 401 here would be logged in the browser's console on every anonymous page view).
  app.get(
    '/api/auth/session',
    {
      schema: {
        tags: ['auth'],
        operationId: 'getSession',
        security: OPTIONAL_SESSION_SECURITY,
        summary: 'Who is signed in: the user, or null when nobody is',
        description:
          'Never 401 for a signed-out visitor (unlike /api/auth/me). 401 SESSIONS_UNAVAILABLE with ' +
          'Retry-After only when a Redis session store cannot check the cookie.',
        response: { 200: SessionEnvelope, ...problems(401, 503) },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const actor = await currentActor(request);
      const user = actor ? await users.getUser(actor.userId) : null;
      return { user: user ? toJson(user) : null };
    },
  );

  app.get(
    '/api/auth/me',
    {
      schema: {
        tags: ['auth'],
        operationId: 'getCurrentUser',
        summary: 'The signed-in user',
        security: [{ session: [] }],
        response: { 200: UserEnvelope, ...problems(401) },
      },
    },
    async (request, reply) => {
      const actor = await requireUser(request);
      const user = await users.getUser(actor.userId);
      if (!user) throw new AppError('UNAUTHENTICATED', 'sign in first: this session has no account');
      reply.header('cache-control', 'no-store');
      return { user: toJson(user) };
    },
  );
}
