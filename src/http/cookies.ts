/**
 * Cookies without per-request hooks: `request.cookies` is parsed from the Cookie header the first
 * time a handler reads it, and `reply.setCookie` / `reply.clearCookie` write the Set-Cookie header
 * at once (a later cookie of the same name, path and domain replaces an earlier one in the same reply).
 *
 * Why not @fastify/cookie: it adds an onRequest hook that parses (and allocates a map for
 * cookies to set) on every request, and an onSend hook on every response, whether or not
 * anything reads or sets a cookie; most requests (an anonymous page view) do neither. Parsing and
 * writing are the `cookie` package's, as there.
 */
import { parseCookie, parseSetCookie, type SetCookie, stringifySetCookie } from 'cookie';
import type { FastifyInstance, FastifyReply } from 'fastify';

export type CookieOptions = Omit<SetCookie, 'name' | 'value'>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's cookies by name, parsed on first read. */
    readonly cookies: Readonly<Record<string, string | undefined>>;
    /** `cookies` once parsed (cookies.ts); null before. */
    parsedCookies: Readonly<Record<string, string | undefined>> | null;
  }
  interface FastifyReply {
    /** Adds a Set-Cookie header (SameSite=Lax unless given), replacing one of the same name, path and domain. */
    setCookie(name: string, value: string, options?: CookieOptions): FastifyReply;
    /** Adds a Set-Cookie header that removes the cookie (the same path and domain as it was set with). */
    clearCookie(name: string, options?: CookieOptions): FastifyReply;
  }
}

const NO_COOKIES: Readonly<Record<string, string | undefined>> = Object.freeze({});

/** The Set-Cookie header value that sets `name`, as @fastify/cookie wrote it (SameSite=Lax by default). */
export function setCookieHeader(name: string, value: string, options: CookieOptions = {}): string {
  return stringifySetCookie({ sameSite: 'lax', ...options, name, value });
}

export function registerCookies(app: FastifyInstance): void {
  // A declared field first (every request object keeps one shape), then the getter over it.
  app.decorateRequest('parsedCookies', null);
  app.decorateRequest('cookies', {
    getter(this: {
      raw: { headers: { cookie?: string } };
      parsedCookies: Record<string, string | undefined> | null;
    }) {
      if (this.parsedCookies === null) {
        const header = this.raw.headers.cookie;
        this.parsedCookies = header ? parseCookie(header) : NO_COOKIES;
      }
      return this.parsedCookies;
    },
  });

  function setCookie(this: FastifyReply, name: string, value: string, options: CookieOptions = {}) {
    const header = setCookieHeader(name, value, options);
    const path = options.path ?? '/';
    const sameCookie = (h: string) => {
      const c = parseSetCookie(h);
      return c.name === name && (c.path ?? '/') === path && c.domain === options.domain;
    };
    const existing = this.getHeader('set-cookie');
    const before =
      existing === undefined ? [] : Array.isArray(existing) ? existing.map(String) : [String(existing)];
    this.removeHeader('set-cookie');
    this.header('set-cookie', [...before.filter((h) => !sameCookie(h)), header]);
    return this;
  }
  app.decorateReply('setCookie', setCookie);
  app.decorateReply('clearCookie', function (this: FastifyReply, name: string, options: CookieOptions = {}) {
    return setCookie.call(this, name, '', { path: '/', ...options, expires: new Date(0), maxAge: 0 });
  });
}
