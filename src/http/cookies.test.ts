import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify, { type RouteHandlerMethod } from 'fastify';
import { registerCookies } from './cookies.ts';

async function appWith(route: RouteHandlerMethod) {
  const app = Fastify({ logger: false });
  registerCookies(app);
  app.get('/', route);
  await app.ready();
  return app;
}

describe('cookies', () => {
  it('when a request carries cookies, then request.cookies has them by name; without a Cookie header it is empty', async () => {
    const app = await appWith(async (request) => {
      const first = request.cookies;
      return { cookies: first, again: request.cookies === first };
    });
    const withCookies = await app.inject({ url: '/', headers: { cookie: 'a=1; b=x%20y' } });
    assert.deepEqual(withCookies.json(), { cookies: { a: '1', b: 'x y' }, again: true });
    const without = await app.inject({ url: '/' });
    assert.deepEqual(without.json(), { cookies: {}, again: true });
  });

  it('when a reply sets a cookie twice and another once, then each name is sent once, the last value winning, SameSite=Lax by default', async () => {
    const app = await appWith(async (_request, reply) => {
      reply.setCookie('s', 'first', { path: '/', httpOnly: true });
      reply.setCookie('t', 'other', { path: '/api' });
      reply.setCookie('s', 'second', { path: '/', httpOnly: true, maxAge: 60 });
      return 'ok';
    });
    const res = await app.inject({ url: '/' });
    const sent = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    assert.equal(sent.length, 2);
    assert.match(
      sent.find((h) => h.startsWith('s='))!,
      /^s=second; Max-Age=60; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    assert.match(sent.find((h) => h.startsWith('t='))!, /^t=other; Path=\/api; SameSite=Lax$/);
  });

  it('when a reply clears a cookie, then Set-Cookie empties it and expires it now', async () => {
    const app = await appWith(async (_request, reply) => {
      reply.setCookie('s', 'v', { path: '/' });
      reply.clearCookie('s', { path: '/', httpOnly: true });
      return 'ok';
    });
    const res = await app.inject({ url: '/' });
    const sent = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    assert.equal(sent.length, 1);
    assert.match(
      sent[0]!,
      /^s=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/,
    );
  });
});
