/**
 * Accounts and sign-in through HTTP, on every SQL backend: sign-up, login, current user, logout,
 * the session cookie, session rotation and expiry, input limits, rate limits and cross-site
 * protection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createUsersService } from '../src/modules/users/index.ts';
import { BACKENDS } from './support/engines.ts';
import { sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';

const PASSWORD = 'correct horse battery';
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let seq = 0;
const uniqueEmail = (tag = 'user') => `${tag}-${process.pid}-${++seq}@example.com`;

type UsersTable = { users: { id: string; email: string; password_hash: string } };

async function countUsers(t: TestApp): Promise<number> {
  const row = await t.platform.sql
    .for<UsersTable>('users')
    .write.selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function signup(t: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url: '/api/auth/signup', payload: body, headers });
}

function login(t: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url: '/api/auth/login', payload: body, headers });
}

function me(t: TestApp, cookie?: string) {
  return t.app.inject({ method: 'GET', url: '/api/auth/me', headers: cookie ? { cookie } : {} });
}

function logout(t: TestApp, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url: '/api/auth/logout', headers });
}

/** Signs up a fresh buyer; returns its email and session cookie. */
async function newUser(t: TestApp, role: 'buyer' | 'seller' = 'buyer') {
  const email = uniqueEmail(role);
  const res = await signup(t, { email, password: PASSWORD, name: 'Ada Lovelace', role });
  assert.equal(res.statusCode, 201, res.body);
  return { email, cookie: sessionCookie(res), user: res.json().user as { id: string } };
}

function assertProblem(res: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const problem = res.json();
  assert.equal(problem.code, code, res.body);
  assert.equal(problem.status, status);
}

function setCookieHeader(res: LightMyRequestResponse): string {
  const raw = res.headers['set-cookie'];
  const all = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const found = all.find((c) => c.startsWith('bazaar_session='));
  assert.ok(found, 'the response sets the session cookie');
  return found;
}

/** Runs `fn` with Date (only Date) mocked, starting at `start`; timers stay real. */
async function withMockedDate<T>(
  start: number,
  fn: (setTime: (ms: number) => void) => Promise<T>,
): Promise<T> {
  mock.timers.enable({ apis: ['Date'], now: start });
  try {
    return await fn((ms) => mock.timers.setTime(ms));
  } finally {
    mock.timers.reset();
  }
}

for (const backend of BACKENDS) {
  describe(`users and sign-in on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    before(async () => {
      // Many logins from one address in this suite; the per-address limit has its own test.
      t = await startTestApp(backend, { LOGIN_RATE_LIMIT_PER_IP: '100000' });
    });
    after(() => t?.close());

    it('when a user signs up, logs out and logs in again, then me follows each step', async () => {
      const email = uniqueEmail('Happy');
      const res = await signup(t, {
        email: `  ${email.toUpperCase()} `,
        password: PASSWORD,
        name: ' Ada ',
        role: 'seller',
      });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const { user } = res.json();
      assert.deepEqual(Object.keys(user).sort(), ['createdAt', 'email', 'id', 'name', 'role']);
      assert.match(user.id, UUIDV7);
      assert.equal(user.email, email.toLowerCase());
      assert.equal(user.name, 'Ada');
      assert.equal(user.role, 'seller');
      assert.equal(new Date(user.createdAt).toISOString(), user.createdAt);
      assert.ok(!res.body.includes('argon2') && !res.body.toLowerCase().includes('password'));

      const cookie = sessionCookie(res);
      const mine = await me(t, cookie);
      assert.equal(mine.statusCode, 200, mine.body);
      assert.deepEqual(mine.json(), { user });

      const out = await logout(t, { cookie });
      assert.equal(out.statusCode, 204);
      assert.equal(out.body, '');
      const cleared = setCookieHeader(out);
      assert.match(cleared, /^bazaar_session=;/);
      assert.match(cleared, /Expires=Thu, 01 Jan 1970/);
      assertProblem(await me(t, cookie), 401, 'UNAUTHENTICATED');

      const back = await login(t, { email: ` ${email.toUpperCase()}`, password: PASSWORD });
      assert.equal(back.statusCode, 200, back.body);
      assert.deepEqual(back.json(), { user });
      const again = await me(t, sessionCookie(back));
      assert.equal(again.statusCode, 200);
      assert.equal(again.json().user.id, user.id);
    });

    it('when a user signs up, then only an argon2id hash of the password is stored', async () => {
      const { email } = await newUser(t);
      const row = await t.platform.sql
        .for<UsersTable>('users')
        .write.selectFrom('users')
        .selectAll()
        .where('email', '=', email)
        .executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.ok(!JSON.stringify(row).includes(PASSWORD));
    });

    it('when the session cookie is set on localhost, then it is HttpOnly, SameSite=Lax, Path=/ and not Secure', async () => {
      const res = await signup(t, { email: uniqueEmail(), password: PASSWORD, name: 'A', role: 'buyer' });
      const header = setCookieHeader(res);
      const value = sessionCookie(res).split('=')[1]!;
      assert.match(value, /^[A-Za-z0-9_-]{43}$/);
      assert.match(header, /; HttpOnly/);
      assert.match(header, /; SameSite=Lax/);
      assert.match(header, /; Path=\//);
      assert.match(header, /; Expires=/);
      assert.doesNotMatch(header, /Secure/);
    });

    it('when the site is served as shop.example.com, then the cookie is Secure', async () => {
      const email = uniqueEmail();
      const host = { host: 'shop.example.com' };
      const res = await signup(t, { email, password: PASSWORD, name: 'A', role: 'buyer' }, host);
      assert.equal(res.statusCode, 201, res.body);
      assert.match(setCookieHeader(res), /; Secure/);
      assert.match(setCookieHeader(await login(t, { email, password: PASSWORD }, host)), /; Secure/);
      const out = await logout(t, { ...host, cookie: sessionCookie(res) });
      assert.match(setCookieHeader(out), /; Secure/);
    });

    it('when a user logs in with a session cookie, then the session id changes, the old one dies and its data carries over', async () => {
      const { email, cookie: first } = await newUser(t, 'seller');
      const firstId = first.split('=')[1]!;
      assert.equal(await t.platform.sessions.update(firstId, { role: 'seller', cartId: 'cart-1' }), true);

      const res = await login(t, { email, password: PASSWORD }, { cookie: first });
      assert.equal(res.statusCode, 200, res.body);
      const second = sessionCookie(res);
      assert.notEqual(second, first);
      assertProblem(await me(t, first), 401, 'UNAUTHENTICATED');
      assert.equal((await me(t, second)).statusCode, 200);

      const session = await t.platform.sessions.get(second.split('=')[1]!);
      assert.ok(session);
      assert.deepEqual(session.data, { cartId: 'cart-1', role: 'seller' });
      assert.equal(session.userId, res.json().user.id);
    });

    it("when an anonymous visitor logs in, then their session's data carries into the signed-in one", async () => {
      const { email, user } = await newUser(t);
      const anonymous = await t.platform.sessions.create({
        userId: null,
        data: { cartId: 'anon-cart', role: 'admin', userId: 'forged' },
      });
      const res = await login(t, { email, password: PASSWORD }, { cookie: `bazaar_session=${anonymous.id}` });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(await t.platform.sessions.get(anonymous.id), null);
      const session = await t.platform.sessions.get(sessionCookie(res).split('=')[1]!);
      assert.deepEqual(session?.data, { cartId: 'anon-cart', role: 'buyer' });
      assert.equal(session?.userId, user.id);
    });

    it('when a session has been idle longer than the idle TTL, then me answers 401', async () => {
      const { cookie } = await newUser(t);
      const idle = t.config.sessionIdleTtlMs;
      const status = await withMockedDate(Date.now(), async (setTime) => {
        setTime(Date.now() + idle - 60_000);
        const live = (await me(t, cookie)).statusCode;
        setTime(Date.now() + idle + 1000);
        return [live, (await me(t, cookie)).statusCode];
      });
      assert.deepEqual(status, [200, 401]);
    });

    it('when a session is used all the time, then me answers 401 after the absolute TTL', async () => {
      const { cookie } = await newUser(t);
      const start = Date.now();
      const { sessionIdleTtlMs: idle, sessionAbsoluteTtlMs: absolute } = t.config;
      const statuses = await withMockedDate(start, async (setTime) => {
        const seen: number[] = [];
        for (let at = start + idle / 2; at < start + absolute - 60_000; at += idle / 2) {
          setTime(at);
          seen.push((await me(t, cookie)).statusCode);
        }
        setTime(start + absolute + 1000);
        const res = await me(t, cookie);
        assertProblem(res, 401, 'UNAUTHENTICATED');
        return seen;
      });
      assert.ok(statuses.length > 2);
      assert.deepEqual(new Set(statuses), new Set([200]));
    });

    it('when an email is taken in any letter case, then sign-up answers 409 EMAIL_TAKEN and writes nothing', async () => {
      const { email } = await newUser(t);
      const before = await countUsers(t);
      const res = await signup(t, {
        email: ` ${email.toUpperCase()}`,
        password: PASSWORD,
        name: 'B',
        role: 'seller',
      });
      assertProblem(res, 409, 'EMAIL_TAKEN');
      assert.equal(await countUsers(t), before);
    });

    it('when the same email signs up many times at once, then exactly one succeeds and the rest get 409', async () => {
      const email = uniqueEmail('race');
      const before = await countUsers(t);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          signup(t, {
            email: i % 2 ? email.toUpperCase() : email,
            password: PASSWORD,
            name: `Racer ${i}`,
            role: 'buyer',
          }),
        ),
      );
      const statuses = results.map((r) => r.statusCode).sort();
      assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
      for (const r of results.filter((x) => x.statusCode === 409)) assertProblem(r, 409, 'EMAIL_TAKEN');
      assert.equal(await countUsers(t), before + 1);
    });

    const valid = { email: 'valid@example.com', password: PASSWORD, name: 'Valid', role: 'buyer' };
    const badSignups: [
      string,
      { payload: string | Record<string, unknown>; type?: string },
      number,
      string,
    ][] = [
      [
        'malformed JSON',
        { payload: '{"email": "a@example.com",', type: 'application/json' },
        400,
        'MALFORMED_JSON',
      ],
      ['an empty JSON body', { payload: '', type: 'application/json' }, 400, 'MALFORMED_JSON'],
      ['a JSON array', { payload: '[]', type: 'application/json' }, 400, 'INVALID_INPUT'],
      ['JSON null', { payload: 'null', type: 'application/json' }, 400, 'INVALID_INPUT'],
      ['an email that is a number', { payload: { ...valid, email: 42 } }, 400, 'INVALID_INPUT'],
      ['a password that is an array', { payload: { ...valid, password: [PASSWORD] } }, 400, 'INVALID_INPUT'],
      ['an unknown field', { payload: { ...valid, isAdmin: true } }, 400, 'INVALID_INPUT'],
      [
        'a missing email',
        { payload: { password: PASSWORD, name: 'N', role: 'buyer' } },
        400,
        'INVALID_INPUT',
      ],
      [
        'a missing password',
        { payload: { email: 'm@example.com', name: 'N', role: 'buyer' } },
        400,
        'INVALID_INPUT',
      ],
      [
        'a missing name',
        { payload: { email: 'm@example.com', password: PASSWORD, role: 'buyer' } },
        400,
        'INVALID_INPUT',
      ],
      [
        'a missing role',
        { payload: { email: 'm@example.com', password: PASSWORD, name: 'N' } },
        400,
        'INVALID_INPUT',
      ],
      [
        'a password of 129 characters',
        { payload: { ...valid, password: 'p'.repeat(129) } },
        400,
        'INVALID_INPUT',
      ],
      [
        'a password of 9 characters',
        { payload: { ...valid, password: 'p'.repeat(9) } },
        400,
        'INVALID_INPUT',
      ],
      ['an email without @', { payload: { ...valid, email: 'not-an-email' } }, 400, 'INVALID_INPUT'],
      [
        'an email without a domain dot',
        { payload: { ...valid, email: 'a@localhost' } },
        400,
        'INVALID_INPUT',
      ],
      [
        'an email with a space inside',
        { payload: { ...valid, email: 'a b@example.com' } },
        400,
        'INVALID_INPUT',
      ],
      [
        'an email of 255 characters',
        { payload: { ...valid, email: `${'a'.repeat(243)}@example.com` } },
        400,
        'INVALID_INPUT',
      ],
      ['a blank name', { payload: { ...valid, name: '   ' } }, 400, 'INVALID_INPUT'],
      ['an empty name', { payload: { ...valid, name: '' } }, 400, 'INVALID_INPUT'],
      ['a name of 101 characters', { payload: { ...valid, name: 'n'.repeat(101) } }, 400, 'INVALID_INPUT'],
      ['the role admin', { payload: { ...valid, role: 'admin' } }, 400, 'INVALID_INPUT'],
      ['an unknown role', { payload: { ...valid, role: 'root' } }, 400, 'INVALID_INPUT'],
      [
        'a form-encoded body',
        { payload: 'email=a%40example.com', type: 'application/x-www-form-urlencoded' },
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'a text/plain body',
        { payload: JSON.stringify(valid), type: 'text/plain' },
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'a multipart body',
        { payload: '--x\r\n\r\n--x--', type: 'multipart/form-data; boundary=x' },
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
    ];
    for (const [what, { payload, type }, status, code] of badSignups) {
      it(`when sign-up is sent ${what}, then it answers ${status} ${code} and creates no user`, async () => {
        const before = await countUsers(t);
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/auth/signup',
          payload,
          headers: type ? { 'content-type': type } : {},
        });
        assertProblem(res, status, code);
        assert.equal(res.headers['set-cookie'], undefined);
        assert.equal(await countUsers(t), before);
      });
    }

    it('when login is sent an unknown field or an overlong password, then it answers 400', async () => {
      const { email } = await newUser(t);
      assertProblem(await login(t, { email, password: PASSWORD, remember: true }), 400, 'INVALID_INPUT');
      assertProblem(await login(t, { email, password: 'p'.repeat(129) }), 400, 'INVALID_INPUT');
      assertProblem(await login(t, { email }), 400, 'INVALID_INPUT');
    });

    it('when the email is unknown or the password wrong, then login answers the same 401', async () => {
      const { email } = await newUser(t);
      const unknown = await login(t, { email: uniqueEmail('nobody'), password: PASSWORD });
      const wrong = await login(t, { email, password: `${PASSWORD}!` });
      const malformed = await login(t, { email: 'not-an-email', password: PASSWORD });
      for (const res of [unknown, wrong, malformed]) {
        assertProblem(res, 401, 'INVALID_CREDENTIALS');
        assert.equal(res.headers['set-cookie'], undefined);
      }
      assert.equal(unknown.json().detail, wrong.json().detail);
    });

    it('when an account has 5 failed logins, then even the right password gets 429 with Retry-After', async () => {
      const { email } = await newUser(t);
      const { email: bystander } = await newUser(t);
      for (let i = 0; i < t.config.loginMaxFailuresPerAccount; i++) {
        assertProblem(await login(t, { email, password: `wrong password ${i}` }), 401, 'INVALID_CREDENTIALS');
      }
      const locked = await login(t, { email: email.toUpperCase(), password: PASSWORD });
      assertProblem(locked, 429, 'RATE_LIMITED');
      const retryAfter = Number(locked.headers['retry-after']);
      assert.ok(
        Number.isInteger(retryAfter) && retryAfter > 0,
        `Retry-After: ${locked.headers['retry-after']}`,
      );
      assert.ok(retryAfter <= t.config.loginFailureWindowMs / 1000);
      assert.equal(locked.headers['set-cookie'], undefined);
      assert.equal(
        (await login(t, { email: bystander, password: PASSWORD })).statusCode,
        200,
        'others unaffected',
      );
    });

    it('when a login succeeds, then earlier failures of that account are forgotten', async () => {
      const { email } = await newUser(t);
      const max = t.config.loginMaxFailuresPerAccount;
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < max - 1; i++) {
          assertProblem(await login(t, { email, password: 'wrong password' }), 401, 'INVALID_CREDENTIALS');
        }
        assert.equal((await login(t, { email, password: PASSWORD })).statusCode, 200);
      }
    });

    it('when the same account fails many logins at once, then no more than the limit get a password check', async () => {
      const { email } = await newUser(t);
      const results = await Promise.all(
        Array.from({ length: 12 }, () => login(t, { email, password: 'wrong password' })),
      );
      const unauthorized = results.filter((r) => r.statusCode === 401).length;
      const limited = results.filter((r) => r.statusCode === 429).length;
      assert.equal(unauthorized, t.config.loginMaxFailuresPerAccount);
      assert.equal(limited, 12 - t.config.loginMaxFailuresPerAccount);
    });

    it('when a signed-in user sends logout with a foreign Origin, then 403 CROSS_SITE_REQUEST and the session lives on', async () => {
      const { cookie } = await newUser(t);
      const res = await logout(t, { cookie, origin: 'https://evil.example' });
      assertProblem(res, 403, 'CROSS_SITE_REQUEST');
      assert.equal(res.headers['set-cookie'], undefined);
      assert.equal((await me(t, cookie)).statusCode, 200);
    });

    it('when a request is marked Sec-Fetch-Site: cross-site, then 403 and nothing happens', async () => {
      const { cookie, email } = await newUser(t);
      const before = await countUsers(t);
      const cross = { 'sec-fetch-site': 'cross-site' };
      assertProblem(await logout(t, { ...cross, cookie }), 403, 'CROSS_SITE_REQUEST');
      assertProblem(await login(t, { email, password: PASSWORD }, cross), 403, 'CROSS_SITE_REQUEST');
      assertProblem(
        await signup(t, { email: uniqueEmail(), password: PASSWORD, name: 'X', role: 'buyer' }, cross),
        403,
        'CROSS_SITE_REQUEST',
      );
      assert.equal(await countUsers(t), before);
      assert.equal((await me(t, cookie)).statusCode, 200);
    });

    it('when the Origin is the site itself, then logout works', async () => {
      const { cookie } = await newUser(t);
      const res = await logout(t, {
        cookie,
        host: 'localhost:3000',
        origin: 'http://localhost:3000',
        'sec-fetch-site': 'same-origin',
      });
      assert.equal(res.statusCode, 204, res.body);
      assertProblem(await me(t, cookie), 401, 'UNAUTHENTICATED');
    });

    it('when nobody or an unknown session logs out, then logout still answers 204 and clears the cookie', async () => {
      const cases: Record<string, string>[] = [
        {},
        { cookie: 'bazaar_session=nonsense' },
        { cookie: `bazaar_session=${'A'.repeat(43)}` },
      ];
      for (const headers of cases) {
        const res = await logout(t, headers);
        assert.equal(res.statusCode, 204);
        assert.match(setCookieHeader(res), /^bazaar_session=;/);
      }
      const { cookie } = await newUser(t);
      assert.equal((await logout(t, { cookie })).statusCode, 204);
      assert.equal((await logout(t, { cookie })).statusCode, 204);
    });

    it('when me is asked without a session, with garbage or with an anonymous session, then 401 UNAUTHENTICATED', async () => {
      const anonymous = await t.platform.sessions.create({ userId: null });
      for (const cookie of [undefined, 'bazaar_session=garbage', `bazaar_session=${anonymous.id}`]) {
        assertProblem(await me(t, cookie), 401, 'UNAUTHENTICATED');
      }
    });

    it('when an admin is created by the service, then they can log in and me says admin', async () => {
      const users = createUsersService({ config: t.config, platform: t.platform });
      const email = uniqueEmail('admin');
      const admin = await users.createAdmin({
        email: ` ${email.toUpperCase()}`,
        password: PASSWORD,
        name: 'Root',
      });
      assert.equal(admin.role, 'admin');
      assert.equal(admin.email, email);
      await assert.rejects(users.createAdmin({ email, password: PASSWORD, name: 'Again' }), {
        code: 'EMAIL_TAKEN',
      });
      await assert.rejects(users.createAdmin({ email: 'bad', password: 'short', name: '' }), {
        code: 'INVALID_INPUT',
      });
      const res = await login(t, { email, password: PASSWORD });
      assert.equal(res.statusCode, 200, res.body);
      const session = await t.platform.sessions.get(sessionCookie(res).split('=')[1]!);
      assert.equal(session?.data['role'], 'admin');
      assert.equal((await me(t, sessionCookie(res))).json().user.role, 'admin');
    });

    it('when nobody is signed in, then GET /api/auth/session answers 200 with user null, and the user once signed in', async () => {
      const session = (cookie?: string) =>
        t.app.inject({ method: 'GET', url: '/api/auth/session', headers: cookie ? { cookie } : {} });
      for (const cookie of [undefined, 'bazaar_session=not-a-session-id']) {
        const anonymous = await session(cookie);
        assert.equal(anonymous.statusCode, 200, anonymous.body);
        assert.deepEqual(anonymous.json(), { user: null });
        assert.equal(anonymous.headers['cache-control'], 'no-store');
        assert.equal(anonymous.headers['set-cookie'], undefined, 'asking makes no session');
      }
      const { cookie, email } = await newUser(t);
      const signedIn = await session(cookie);
      assert.equal(signedIn.statusCode, 200, signedIn.body);
      assert.equal(signedIn.json().user.email, email);
      assert.deepEqual(signedIn.json(), (await me(t, cookie)).json(), 'the same user as /me');
      await logout(t, { cookie });
      assert.deepEqual((await session(cookie)).json(), { user: null }, 'signed out: nobody again');
    });

    it('when the OpenAPI document is read, then the auth routes are there, tagged auth', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      for (const [path, method] of [
        ['/api/auth/signup', 'post'],
        ['/api/auth/login', 'post'],
        ['/api/auth/logout', 'post'],
        ['/api/auth/me', 'get'],
        ['/api/auth/session', 'get'],
      ] as const) {
        const op = doc.paths[path]?.[method];
        assert.ok(op, `${method} ${path}`);
        assert.deepEqual(op.tags, ['auth']);
        assert.ok(op.summary);
      }
    });
  });

  describe(`users with tight limits on ${backend.name}`, { skip: backend.skip }, () => {
    it('when a body is larger than BODY_LIMIT_BYTES, then sign-up answers 413 and creates no user', async () => {
      const t = await startTestApp(backend, { BODY_LIMIT_BYTES: '1024' });
      try {
        const res = await signup(t, {
          email: uniqueEmail(),
          password: PASSWORD,
          name: 'n'.repeat(2000),
          role: 'buyer',
        });
        assertProblem(res, 413, 'PAYLOAD_TOO_LARGE');
        assert.equal(await countUsers(t), 0);
      } finally {
        await t.close();
      }
    });

    it('when one address tries to log in more often than allowed, then 429 with Retry-After; others are not limited', async () => {
      const t = await startTestApp(backend, { LOGIN_RATE_LIMIT_PER_IP: '3' });
      try {
        const { email } = await newUser(t);
        for (let i = 0; i < 3; i++) {
          assertProblem(
            await login(t, { email: uniqueEmail('nobody'), password: PASSWORD }),
            401,
            'INVALID_CREDENTIALS',
          );
        }
        const limited = await login(t, { email, password: PASSWORD });
        assertProblem(limited, 429, 'RATE_LIMITED');
        const retryAfter = Number(limited.headers['retry-after']);
        assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After: ${limited.headers['retry-after']}`);
        const elsewhere = await t.app.inject({
          method: 'POST',
          url: '/api/auth/login',
          payload: { email, password: PASSWORD },
          remoteAddress: '192.0.2.7',
        });
        assert.equal(elsewhere.statusCode, 200, elsewhere.body);
        assert.equal((await newUser(t)).cookie.length > 0, true, 'sign-up is not limited by the login limit');
      } finally {
        await t.close();
      }
    });

    it('when the failure window has passed, then a locked account can log in again', async () => {
      const t = await startTestApp(backend, {
        LOGIN_FAILURE_WINDOW: '1s',
        LOGIN_MAX_FAILURES_PER_ACCOUNT: '2',
      });
      try {
        const { email } = await newUser(t);
        for (let i = 0; i < 2; i++) {
          assertProblem(await login(t, { email, password: 'wrong password' }), 401, 'INVALID_CREDENTIALS');
        }
        const locked = await login(t, { email, password: PASSWORD });
        assertProblem(locked, 429, 'RATE_LIMITED');
        assert.equal(locked.headers['retry-after'], '1');
        await new Promise((resolve) => setTimeout(resolve, 1100));
        assert.equal((await login(t, { email, password: PASSWORD })).statusCode, 200);
      } finally {
        await t.close();
      }
    });
  });
}
