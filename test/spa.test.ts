/**
 * The web app at the HTTP edge (src/http/spa.ts): the real web/ built once (or a fresh
 * web/dist reused), served by the whole app through inject(): index.html no-cache, deep links,
 * immutable hashed assets with ETag/304 and compression, API paths kept as 404 problems;
 * SERVE_WEB=false; CORS for ALLOWED_ORIGINS; and the "is dist stale" rule on a temporary tree.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureWebBuilt, isDistStale, type WebBuild } from '../src/http/spa.ts';
import { pglite } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const warnings: string[] = [];
const build: WebBuild = await ensureWebBuilt({
  log: { info() {}, warn: (...args: unknown[]) => warnings.push(String(args.at(-1))) },
});
const skip = build === 'unavailable' ? `the web app could not be built here: ${warnings.join('; ')}` : false;
if (skip && process.env['BAZAAR_REQUIRE_ENGINES'] === '1')
  throw new Error(`BAZAAR_REQUIRE_ENGINES=1 but ${skip}`);

describe('SPA serving', { skip }, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(pglite);
  });
  after(() => t?.close());

  it('when / is requested, then index.html comes back with no-cache and a strong ETag', async () => {
    const res = await t.app.inject({ url: '/', headers: HTML });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.match(String(res.headers['etag']), /^"[^"]+"$/);
    assert.match(res.body, /<div id="root"><\/div>/);
    const again = await t.app.inject({
      url: '/',
      headers: { ...HTML, 'if-none-match': String(res.headers['etag']) },
    });
    assert.equal(again.statusCode, 304);
  });

  it('when a deep link such as /p/<id> is opened, then index.html answers it', async () => {
    const index = await t.app.inject({ url: '/', headers: HTML });
    for (const path of ['/p/0190a8c0-0000-7000-8000-000000000101', '/sell/products/new', '/search?q=mug']) {
      const res = await t.app.inject({ url: path, headers: HTML });
      assert.equal(res.statusCode, 200, path);
      assert.equal(res.headers['cache-control'], 'no-cache', path);
      assert.equal(res.body, index.body, path);
    }
  });

  it('when a hashed asset is requested, then it is immutable with a strong ETag, and 304 on If-None-Match', async () => {
    const index = await t.app.inject({ url: '/', headers: HTML });
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index.body)?.[1];
    assert.ok(script, 'index.html names a script under /assets/');
    const res = await t.app.inject({ url: script });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/javascript/);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    const etag = String(res.headers['etag']);
    assert.match(etag, /^"[^"]+"$/, 'a strong ETag');
    const notModified = await t.app.inject({ url: script, headers: { 'if-none-match': etag } });
    assert.equal(notModified.statusCode, 304);
    assert.equal(notModified.body, '');

    const br = await t.app.inject({ url: script, headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.notEqual(br.headers['etag'], etag, 'each encoding has its own ETag');
    assert.ok(Number(br.headers['content-length']) < Number(res.headers['content-length']));
    assert.match(String(br.headers['vary']), /accept-encoding/i);
    const gzip = await t.app.inject({ url: script, headers: { 'accept-encoding': 'gzip, br;q=0' } });
    assert.equal(gzip.headers['content-encoding'], 'gzip');
  });

  it('when an API path is unknown, then it stays a 404 problem even for a browser', async () => {
    for (const path of ['/api/nope', '/api', '/media/nope.jpg', '/uploads/x', '/healthz/x']) {
      const res = await t.app.inject({ url: path, headers: HTML });
      assert.equal(res.statusCode, 404, path);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, path);
      assert.equal(res.json().code, path.startsWith('/media') ? 'NOT_FOUND' : 'ROUTE_NOT_FOUND', path);
    }
    assert.equal((await t.app.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await t.app.inject({ url: '/openapi.json' })).statusCode, 200);
  });

  it('when a missing file or a non-HTML client asks for a page path, then the answer is a 404 problem', async () => {
    for (const [path, headers] of [
      ['/assets/missing-abc123.js', HTML],
      ['/robots.txt', HTML],
      ['/p/123', { accept: 'application/json' }],
    ] as const) {
      const res = await t.app.inject({ url: path, headers });
      assert.equal(res.statusCode, 404, path);
      assert.equal(res.json().code, 'ROUTE_NOT_FOUND', path);
    }
  });
});

describe('SERVE_WEB=false and CORS for ALLOWED_ORIGINS', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(pglite, { SERVE_WEB: 'false', ALLOWED_ORIGINS: 'https://shop.example.com' });
  });
  after(() => t?.close());

  it('when SERVE_WEB=false, then / is a 404 problem (API only)', async () => {
    const res = await t.app.inject({ url: '/', headers: HTML });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
  });

  it('when an allowed origin sends a preflight, then 204 with credentials allowed for that origin only', async () => {
    const res = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/cart/items/0190a8c0-0000-7000-8000-000000000101',
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      },
    });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://shop.example.com');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.match(String(res.headers['access-control-allow-methods']), /PUT/);
    assert.match(String(res.headers['access-control-allow-headers']), /content-type/);

    const other = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/cart',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
    });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  it('when an allowed origin reads and writes, then answers carry its CORS headers and the write goes through', async () => {
    const read = await t.app.inject({
      url: '/api/categories',
      headers: { origin: 'https://shop.example.com' },
    });
    assert.equal(read.statusCode, 200);
    assert.equal(read.headers['access-control-allow-origin'], 'https://shop.example.com');
    assert.match(String(read.headers['vary']), /origin/i);
    const write = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { origin: 'https://shop.example.com', 'sec-fetch-site': 'same-site' },
      payload: { email: 'nobody@example.com', password: 'wrong-password' },
    });
    assert.equal(write.statusCode, 401, 'reached the route: not refused as cross-site');
    assert.equal(write.headers['access-control-allow-origin'], 'https://shop.example.com');
    const refused = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { origin: 'https://evil.example' },
      payload: { email: 'nobody@example.com', password: 'wrong-password' },
    });
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.headers['access-control-allow-origin'], undefined);
  });
});

describe('isDistStale and ensureWebBuilt on a temporary tree', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'bazaar-spa-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const at = (path: string, seconds: number) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, 'x');
    utimesSync(path, seconds, seconds);
  };

  it('when dist has no index.html, then it is stale', () => {
    at(join(root, 'src', 'main.tsx'), 1000);
    assert.equal(isDistStale(root), true);
  });

  it('when every source is older than dist/index.html, then it is fresh; a newer source anywhere makes it stale', () => {
    at(join(root, 'index.html'), 1000);
    at(join(root, 'src', 'features', 'a.tsx'), 1500);
    at(join(root, 'dist', 'index.html'), 2000);
    assert.equal(isDistStale(root), false);
    at(join(root, 'src', 'features', 'a.tsx'), 2500);
    assert.equal(isDistStale(root), true);
  });

  it('when the build fails and no build exists, then ensureWebBuilt logs one warning and the API runs alone', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'bazaar-spa-broken-'));
    try {
      at(join(broken, 'src', 'main.tsx'), 1000);
      const lines: string[] = [];
      const result = await ensureWebBuilt({
        webDir: broken,
        log: { info() {}, warn: (...args: unknown[]) => lines.push(String(args.at(-1))) },
      });
      assert.equal(result, 'unavailable');
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /serving the API only/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('when only files in dist, node_modules or dot folders are newer, then it stays fresh', () => {
    at(join(root, 'src', 'features', 'a.tsx'), 1500);
    at(join(root, 'dist', 'index.html'), 2000);
    at(join(root, 'dist', 'assets', 'x.js'), 3000);
    at(join(root, 'node_modules', 'y.js'), 3000);
    at(join(root, '.cache', 'z'), 3000);
    assert.equal(isDistStale(root), false);
  });
});
