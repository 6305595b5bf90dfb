/**
 * A pseudonymous visitor id for analytics: the hash of the session cookie when there is one,
 * else of the client address and user agent with the day (so an anonymous visitor cannot be
 * followed across days). Never the user id or the cookie itself.
 */
import { hash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SESSION_COOKIE } from './auth.ts';

export function visitorId(request: FastifyRequest): string {
  const cookie = request.cookies[SESSION_COOKIE];
  const basis = cookie
    ? `s:${cookie}`
    : `a:${request.ip}|${request.headers['user-agent'] ?? ''}|${new Date().toISOString().slice(0, 10)}`;
  return hash('sha256', basis, 'base64url').slice(0, 22);
}
