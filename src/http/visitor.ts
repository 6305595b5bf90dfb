/**
 * A pseudonymous visitor id for analytics: the hash of the session cookie when there is one,
 * else of the client address and user agent with the day (so an anonymous visitor cannot be
 * followed across days). Never the user id or the cookie itself.
 *
 * Every product page asks for it, and a visitor asks for many pages: the last few thousand ids
 * are remembered (a bounded map, emptied when full), so a returning visitor costs a map lookup
 * rather than a SHA-256; the UTC day is worked out once a second.
 */
import { hash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SESSION_COOKIE } from './auth.ts';

const REMEMBERED = 10_000;
const known = new Map<string, string>();
let day = '';
let dayUntil = 0;

function today(): string {
  const now = Date.now();
  if (now >= dayUntil) {
    day = new Date(now).toISOString().slice(0, 10);
    dayUntil = now + 1000; // at midnight the old day lasts at most a second longer
  }
  return day;
}

export function visitorId(request: FastifyRequest): string {
  const cookie = request.cookies[SESSION_COOKIE];
  const basis = cookie ? `s:${cookie}` : `a:${request.ip}|${request.headers['user-agent'] ?? ''}|${today()}`;
  let id = known.get(basis);
  if (id === undefined) {
    id = hash('sha256', basis, 'base64url').slice(0, 22);
    if (known.size >= REMEMBERED) known.clear();
    known.set(basis, id);
  }
  return id;
}
