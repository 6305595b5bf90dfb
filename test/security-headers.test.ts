/**
 * Security headers at the HTTP edge (src/http/security-headers.ts) through the whole app and
 * inject(): every answer (API, problem, cached product page, media, asset) carries nosniff,
 * Referrer-Policy, X-Frame-Options and a policy that loads nothing; the SPA's index.html and the
 * Swagger UI carry their own policies, with no inline code allowed and no framing. Whether the
 * pages break their policy is the browser's to say: test/browser.test.ts fails on any console error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { securityHeaders } from '../src/http/security-headers.ts';
import { ensureWebBuilt } from '../src/http/spa.ts';
import { createCatalogSeeder } from '../src/modules/catalog/index.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { pglite } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const API_POLICY = "default-src 'none'; frame-ancestors 'none'";
const built = await ensureWebBuilt({ log: { info() {}, warn() {} } });

type Headers = Record<string, string | string[] | number | undefined>;

function assertCommon(headers: Headers, what: string): void {
  assert.equal(headers['x-content-type-options'], 'nosniff', what);
  assert.equal(headers['referrer-policy'], 'strict-origin-when-cross-origin', what);
  assert.equal(headers['x-frame-options'], 'DENY', what);
}

/** The policy's directives by name. */
function directives(policy: unknown): Map<string, string[]> {
  return new Map(
    String(policy)
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

describe('security headers', () => {
  let t: TestApp;
  let productId: string;
  before(async () => {
    t = await startTestApp(pglite);
    productId = uuidv7();
    await createCatalogSeeder(t.platform).insertProducts([
      {
        id: productId,
        sellerId: uuidv7(),
        categoryId: '0190a8c0-0000-7000-8000-000000000101',
        title: 'Headed mug',
        priceMinor: 1200,
        stock: 3,
        status: 'published',
      },
    ]);
  });
  after(() => t?.close());

  it('when API answers, problems, product pages (cached or not) and 404s are sent, then each carries the common headers and a policy that loads nothing', async () => {
    for (const [method, url] of [
      ['GET', '/api/categories'],
      ['GET', `/api/products/${productId}`],
      ['GET', `/api/products/${productId}`],
      ['GET', '/api/auth/me'],
      ['GET', '/api/nothing-here'],
      ['POST', '/api/auth/login'],
      ['GET', '/healthz'],
      ['GET', '/openapi.json'],
    ] as const) {
      const res = await t.app.inject({ method, url, ...(method === 'POST' ? { payload: {} } : {}) });
      const what = `${method} ${url} → ${res.statusCode}`;
      assertCommon(res.headers, what);
      assert.equal(res.headers['content-security-policy'], API_POLICY, what);
    }
  });

  it('when the SPA is served, then index.html has a policy of its own origin with no inline code and no framing, and its assets load nothing', {
    skip: built === 'unavailable' && 'the web app could not be built here',
  }, async () => {
    const index = await t.app.inject({ url: '/', headers: HTML });
    assert.equal(index.statusCode, 200);
    assertCommon(index.headers, 'index.html');
    const csp = directives(index.headers['content-security-policy']);
    assert.deepEqual(csp.get('default-src'), ["'self'"]);
    assert.deepEqual(csp.get('script-src'), ["'self'"]);
    assert.deepEqual(csp.get('style-src'), ["'self'"]);
    assert.deepEqual(csp.get('frame-ancestors'), ["'none'"]);
    assert.deepEqual(csp.get('object-src'), ["'none'"]);
    assert.doesNotMatch(String(index.headers['content-security-policy']), /unsafe/);
    const deep = await t.app.inject({ url: '/p/0190a8c0-0000-7000-8000-000000000101', headers: HTML });
    assert.equal(deep.headers['content-security-policy'], index.headers['content-security-policy']);
    const notModified = await t.app.inject({
      url: '/',
      headers: { ...HTML, 'if-none-match': String(index.headers['etag']) },
    });
    assert.equal(notModified.statusCode, 304);
    assert.equal(notModified.headers['content-security-policy'], index.headers['content-security-policy']);

    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index.body)?.[1];
    assert.ok(script, 'index.html names a script under /assets/');
    const asset = await t.app.inject({ url: script });
    assertCommon(asset.headers, script);
    assert.equal(asset.headers['content-security-policy'], API_POLICY);
  });

  it('when the API docs are opened, then Swagger UI has a policy of its own origin with no inline code and no framing', async () => {
    for (const url of ['/docs', '/docs/', '/docs/static/index.html']) {
      const res = await t.app.inject({ url });
      assert.ok(res.statusCode < 400, `${url} → ${res.statusCode}`);
      assertCommon(res.headers, url);
      const policy = String(res.headers['content-security-policy']);
      assert.doesNotMatch(policy, /unsafe|https:/, url);
      const csp = directives(policy);
      assert.deepEqual(csp.get('script-src'), ["'self'"], url);
      assert.deepEqual(csp.get('style-src'), ["'self'"], url);
      assert.deepEqual(csp.get('frame-ancestors'), ["'none'"], url);
    }
  });
});

describe('the SPA policy and where media and uploads live', () => {
  const base = {
    mediaBaseUrl: '/media',
    objectStore: 'local',
    s3Endpoint: undefined,
    s3Bucket: undefined,
    s3Region: 'us-east-1',
    s3ForcePathStyle: false,
  } as const;

  it('when media and uploads are local, then images and fetches stay on this origin', () => {
    const csp = directives(securityHeaders(base).spa);
    assert.deepEqual(csp.get('img-src'), ["'self'", 'data:', 'blob:']);
    assert.deepEqual(csp.get('connect-src'), ["'self'"]);
  });

  it('when media come from a CDN and uploads go to S3, then the policy allows exactly those origins', () => {
    const aws = directives(
      securityHeaders({
        ...base,
        mediaBaseUrl: 'https://cdn.example.com/media',
        objectStore: 's3',
        s3Bucket: 'bazaar-media',
        s3Region: 'eu-west-1',
      }).spa,
    );
    assert.deepEqual(aws.get('img-src'), ["'self'", 'data:', 'blob:', 'https://cdn.example.com']);
    assert.deepEqual(aws.get('connect-src'), ["'self'", 'https://bazaar-media.s3.eu-west-1.amazonaws.com']);
    const pathStyle = directives(
      securityHeaders({
        ...base,
        objectStore: 's3',
        s3Bucket: 'bazaar-media',
        s3Endpoint: 'http://127.0.0.1:9000',
        s3ForcePathStyle: true,
      }).spa,
    );
    assert.deepEqual(pathStyle.get('connect-src'), ["'self'", 'http://127.0.0.1:9000']);
  });
});
