/** Logs carry the request id and never a password or a session cookie. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { MODULES } from '../src/apps/modules.ts';
import { buildApp } from '../src/http/app.ts';
import { LOG_REDACT } from '../src/shared/log-redact.ts';
import { pglite } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

describe('request logs', () => {
  let t: TestApp;
  const lines: string[] = [];
  let app: Awaited<ReturnType<typeof buildApp>>['app'];

  before(async () => {
    t = await startTestApp(pglite);
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    // The same redaction the web process configures (LOG_REDACT), on a logger we can read.
    const logger = pino({ level: 'debug', redact: { paths: LOG_REDACT, censor: '[redacted]' } }, sink);
    ({ app } = await buildApp({ config: t.config, platform: t.platform, modules: MODULES, logger }));
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await t?.close();
  });

  it('when a user signs up and calls with a cookie, then logs hold the request id but no secret', async () => {
    const password = 'correct-horse-battery-staple';
    const signup = await app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { 'x-request-id': 'req-log-1' },
      payload: { email: 'logs@example.com', password, name: 'Logs', role: 'buyer' },
    });
    assert.equal(signup.statusCode, 201);
    const cookie = signup.cookies.find((c) => c.name === 'bazaar_session')!;
    await app.inject({
      url: '/api/auth/me',
      headers: { cookie: `bazaar_session=${cookie.value}`, authorization: 'Bearer secret-token-xyz' },
    });
    const all = lines.join('\n');
    assert.ok(
      lines.some((l) => JSON.parse(l).requestId === 'req-log-1'),
      'request id in the log lines',
    );
    assert.ok(!all.includes(password), 'no password');
    assert.ok(!all.includes(cookie.value), 'no session id');
    assert.ok(!all.includes('secret-token-xyz'), 'no authorization header');
  });
});

describe('request logs at LOG_LEVEL=warn', () => {
  it('when a request logs at warn or above, then its lines carry its request id, and quiet requests log nothing', async () => {
    const t = await startTestApp(pglite);
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const logger = pino({ level: 'warn', redact: { paths: LOG_REDACT, censor: '[redacted]' } }, sink);
    const { app, markNotReady } = await buildApp({
      config: t.config,
      platform: t.platform,
      modules: MODULES,
      logger,
    });
    try {
      await app.ready();
      assert.equal(
        (await app.inject({ url: '/healthz', headers: { 'x-request-id': 'quiet-1' } })).statusCode,
        200,
      );
      assert.deepEqual(lines, [], 'nothing below warn');
      markNotReady();
      const res = await app.inject({ url: '/readyz', headers: { 'x-request-id': 'warn-1' } });
      assert.equal(res.statusCode, 503);
      const logged = lines.map((l) => JSON.parse(l));
      assert.ok(logged.length > 0, 'the 503 is logged');
      assert.ok(
        logged.every((l) => l.requestId === 'warn-1' && l.level >= 40),
        lines.join('\n'),
      );
    } finally {
      await app.close();
      await t.close();
    }
  });
});
