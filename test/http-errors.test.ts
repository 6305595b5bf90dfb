/**
 * Errors that come from below the routes are problem documents too: the HTTP parser's (headers
 * too large, ambiguous framing), the router's (bad percent-encoding, over-long segments), an
 * over-large body that a plain fetch client must be able to read, and NUL in text, which
 * PostgreSQL cannot store. The app listens on an ephemeral port: these are socket-level cases.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { BACKENDS } from './support/engines.ts';
import { sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';

const run = promisify(execFile);

/** Posts a 5 MB JSON body with fetch five times; prints what each attempt read. */
const POST_5MB_FIVE_TIMES = `
const [base, session] = process.argv.slice(1);
const body = JSON.stringify({ title: 'x'.repeat(5 * 1024 * 1024) });
const out = [];
for (let i = 0; i < 5; i++) {
  try {
    const res = await fetch(base + '/api/products', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'bazaar_session=' + session },
      body,
    });
    out.push({ status: res.status, contentType: res.headers.get('content-type'), body: await res.text() });
  } catch (err) {
    out.push({ error: String(err.cause ?? err) });
  }
}
console.log(JSON.stringify(out));
`;

/** Sends raw bytes and returns everything the server answers before it closes. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      out += chunk;
    });
    socket.on('end', () => resolve(out));
    socket.on('close', () => resolve(out));
    socket.on('error', (err) => (out ? resolve(out) : reject(err)));
    socket.write(bytes);
  });
}

function parseRaw(response: string): { status: number; headers: string; body: string } {
  const at = response.indexOf('\r\n\r\n');
  const head = response.slice(0, at);
  return { status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: response.slice(at + 4) };
}

function assertProblem(status: number, contentType: string | null, body: string, code: string): void {
  assert.match(String(contentType), /^application\/problem\+json/, body);
  const problem = JSON.parse(body);
  assert.equal(problem.status, status);
  assert.equal(problem.code, code);
  assert.equal(typeof problem.requestId, 'string');
  assert.equal(typeof problem.instance, 'string');
}

for (const backend of BACKENDS) {
  describe(`HTTP errors below the routes on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let base: string;
    let port: number;
    before(async () => {
      t = await startTestApp(backend);
      base = await t.app.listen({ host: '127.0.0.1', port: 0 });
      port = Number(new URL(base).port);
    });
    after(() => t?.close());

    it('when the headers are larger than the server accepts, then a 431 problem', async () => {
      const res = await fetch(`${base}/api/products`, { headers: { cookie: `c=${'x'.repeat(20_000)}` } });
      assert.equal(res.status, 431);
      assertProblem(431, res.headers.get('content-type'), await res.text(), 'HEADERS_TOO_LARGE');
    });

    it('when a request has both Content-Length and Transfer-Encoding, then a 400 problem', async () => {
      const answer = await rawExchange(
        port,
        'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          'Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
      );
      const { status, headers, body } = parseRaw(answer);
      assert.equal(status, 400, answer);
      assertProblem(400, /content-type: ([^\r\n]+)/.exec(headers)?.[1] ?? null, body, 'MALFORMED_REQUEST');
    });

    it('when a path segment is longer than the router accepts, then a 414 problem', async () => {
      const res = await fetch(`${base}/api/products/${'a'.repeat(250)}`, { method: 'DELETE' });
      assert.equal(res.status, 414);
      assertProblem(414, res.headers.get('content-type'), await res.text(), 'URI_TOO_LONG');
      assert.ok(res.headers.get('x-request-id'));
    });

    it('when a path is not validly percent-encoded, then a 400 problem that does not echo it in the detail', async () => {
      for (const path of ['/api/products/%E0%A4%A', '/media/%E0%A4%A']) {
        const res = await fetch(`${base}${path}`);
        assert.equal(res.status, 400, path);
        const body = await res.text();
        assertProblem(400, res.headers.get('content-type'), body, 'MALFORMED_URL');
        assert.doesNotMatch(JSON.parse(body).detail, /%E0/);
      }
    });

    it('when a fetch client in another process posts a 5 MB JSON body, then it reads the 413 problem every time', async () => {
      const seller = await t.platform.sessions.create({
        userId: crypto.randomUUID(),
        data: { role: 'seller' },
      });
      // In another process: a client sharing the server's event loop never races the close.
      const { stdout } = await run(process.execPath, [
        '--input-type=module',
        '-e',
        POST_5MB_FIVE_TIMES,
        base,
        seller.id,
      ]);
      const answers = JSON.parse(stdout) as {
        status?: number;
        contentType?: string;
        body?: string;
        error?: string;
      }[];
      assert.equal(answers.length, 5);
      for (const a of answers) {
        assert.equal(a.status, 413, JSON.stringify(a));
        assertProblem(413, a.contentType ?? null, a.body ?? '', 'PAYLOAD_TOO_LARGE');
      }
    });

    it('when a text field holds NUL, then a 400 problem and nothing is stored', async () => {
      const signup = await t.app.inject({
        method: 'POST',
        url: '/api/auth/signup',
        payload: { email: 'nul@example.com', password: 'long enough pw', name: 'a\u0000b', role: 'buyer' },
      });
      assert.equal(signup.statusCode, 400, signup.body);
      assertProblem(400, String(signup.headers['content-type']), signup.body, 'INVALID_INPUT');
      const users = await sql<{ n: number }>`select count(*)::int as n from users.users`.execute(
        t.platform.sql.for('users').write,
      );
      assert.equal(users.rows[0]!.n, 0);

      const ok = await t.app.inject({
        method: 'POST',
        url: '/api/auth/signup',
        payload: { email: 'ok@example.com', password: 'long enough pw', name: 'Ok', role: 'seller' },
      });
      assert.equal(ok.statusCode, 201, ok.body);
      const cookie = sessionCookie(ok);
      for (const [method, url, payload] of [
        ['POST', '/api/auth/login', { email: 'ok@example.com', password: 'long\u0000enough' }],
        ['POST', '/api/products', { categoryId: crypto.randomUUID(), title: 'a\u0000', priceMinor: 1 }],
        ['GET', `/api/products?q=${encodeURIComponent('mug\u0000')}`, undefined],
      ] as const) {
        const res = await t.app.inject({
          method,
          url,
          headers: { cookie },
          ...(payload ? { payload } : {}),
        });
        assert.equal(res.statusCode, 400, `${method} ${url}: ${res.body}`);
        assertProblem(400, String(res.headers['content-type']), res.body, 'INVALID_INPUT');
      }
    });
  });
}

describe('HTTP while the server closes', () => {
  it('when a request arrives on a kept-alive connection after close began, then a 503 problem with Connection: close', async () => {
    const backend = BACKENDS.find((b) => !b.skip)!;
    const t = await startTestApp(backend);
    const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    const ended = new Promise<void>((r) => socket.once('close', () => r()));
    // A request in flight when close begins (half its body sent), and a second one pipelined
    // behind it: the first is answered as usual, the second is refused.
    const body = JSON.stringify({ email: 'nobody@example.com', password: 'not-the-password' });
    socket.write(
      `POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    const closed = t.close();
    await new Promise((r) => setTimeout(r, 100));
    socket.write(`${body.slice(10)}GET /api/categories HTTP/1.1\r\nHost: x\r\n\r\n`);
    await ended;
    await closed;
    const second = answer.indexOf('HTTP/1.1 503');
    assert.ok(second > 0, `a first answer, then a 503:\n${answer}`);
    assert.match(answer.slice(0, second), /^HTTP\/1\.1 (401|404) /, 'the request in flight was answered');
    const { status, headers, body: problem } = parseRaw(answer.slice(second));
    assert.equal(status, 503);
    assert.match(headers, /\r\nconnection: close/);
    assert.match(headers, /\r\nretry-after: 1/);
    assertProblem(503, /content-type: ([^\r\n]+)/.exec(headers)?.[1] ?? null, problem, 'UNAVAILABLE');
  });
});
