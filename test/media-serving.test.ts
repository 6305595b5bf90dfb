/**
 * GET/HEAD /media/* over real HTTP: immutable caching headers, ETag and 304, byte ranges and
 * 416, HEAD, 404 problems, and path traversal attempts sent byte for byte (node:http does not
 * normalise paths) that must never reach a file outside the store. Then the wiring in buildApp.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pglite } from './support/engines.ts';
import { type LocalObjectsApp, startLocalObjectsApp } from './support/objects.ts';
import { startTestApp } from './support/test-app.ts';

const DATA = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const ETAG = `"${createHash('md5').update(DATA).digest('hex')}"`;

/** A request with the path exactly as given. */
function raw(
  origin: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('media serving', () => {
  let local: LocalObjectsApp;
  before(async () => {
    local = await startLocalObjectsApp();
    await local.objects.put('media/p/1/480.webp', DATA, { contentType: 'image/webp' });
    await local.objects.put('media/empty', Buffer.alloc(0), { contentType: 'text/plain' });
    await local.objects.put('private/secret', Buffer.from('TOP-SECRET'), { contentType: 'text/plain' });
    // A well-formed object file outside the store's directory: traversal must not reach it either.
    await mkdir(join(local.dir, '..', 'outside'), { recursive: true });
    await writeFile(join(local.dir, '..', 'outside', 'x~obj'), 'TOP-SECRET');
  });
  after(() => local.close());

  it('when a media object is fetched, then it streams with its type, immutable caching, a strong ETag and its length', async () => {
    const res = await raw(local.origin, '/media/p/1/480.webp');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, DATA);
    assert.equal(res.headers['content-type'], 'image/webp');
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(res.headers['etag'], ETAG);
    assert.equal(res.headers['content-length'], '256');
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.ok(!Number.isNaN(Date.parse(String(res.headers['last-modified']))));
    assert.equal(res.headers['content-security-policy'], "default-src 'none'; sandbox");
    const empty = await raw(local.origin, '/media/empty');
    assert.equal(empty.status, 200);
    assert.equal(empty.headers['content-length'], '0');
  });

  it('when If-None-Match names the ETag, then 304 without a body; otherwise 200', async () => {
    for (const inm of [ETAG, `W/${ETAG}`, `"other", ${ETAG}`, '*']) {
      const res = await raw(local.origin, '/media/p/1/480.webp', { 'if-none-match': inm });
      assert.equal(res.status, 304, inm);
      assert.equal(res.body.length, 0);
      assert.equal(res.headers['etag'], ETAG);
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    }
    assert.equal(
      (await raw(local.origin, '/media/p/1/480.webp', { 'if-none-match': '"other"' })).status,
      200,
    );
  });

  it('when a byte range is asked, then 206 with exactly those bytes and Content-Range', async () => {
    const cases: [string, number, number][] = [
      ['bytes=10-19', 10, 19],
      ['bytes=250-', 250, 255],
      ['bytes=-5', 251, 255],
      ['bytes=200-9999', 200, 255],
      ['bytes=0-0', 0, 0],
    ];
    for (const [range, start, end] of cases) {
      const res = await raw(local.origin, '/media/p/1/480.webp', { range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/256`);
      assert.equal(res.headers['content-length'], String(end - start + 1));
      assert.deepEqual(res.body, DATA.subarray(start, end + 1), range);
    }
  });

  it('when a range cannot be satisfied, then 416 with Content-Range */size; odd ranges get the whole object', async () => {
    for (const range of ['bytes=256-', 'bytes=1000-2000', 'bytes=-0']) {
      const res = await raw(local.origin, '/media/p/1/480.webp', { range });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers['content-range'], 'bytes */256');
      assert.equal(JSON.parse(res.body.toString()).code, 'RANGE_NOT_SATISFIABLE');
    }
    const odd: Record<string, string>[] = [
      { range: 'bytes=0-1,5-6' },
      { range: 'items=0-1' },
      { range: 'bytes=9-3' },
      { range: 'bytes=0-9', 'if-range': '"stale"' },
    ];
    for (const headers of odd) {
      const res = await raw(local.origin, '/media/p/1/480.webp', headers);
      assert.equal(res.status, 200, JSON.stringify(headers));
      assert.deepEqual(res.body, DATA);
    }
    const fresh = await raw(local.origin, '/media/p/1/480.webp', { range: 'bytes=0-9', 'if-range': ETAG });
    assert.equal(fresh.status, 206);
  });

  it('when HEAD is asked, then the same headers and no body', async () => {
    const res = await raw(local.origin, '/media/p/1/480.webp', {}, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
    assert.equal(res.headers['content-length'], '256');
    assert.equal(res.headers['etag'], ETAG);
    assert.equal(res.headers['content-type'], 'image/webp');
    const ranged = await raw(local.origin, '/media/p/1/480.webp', { range: 'bytes=0-9' }, 'HEAD');
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers['content-range'], 'bytes 0-9/256');
    assert.equal((await raw(local.origin, '/media/none', {}, 'HEAD')).status, 404);
  });

  it('when the key is unknown, then a 404 problem', async () => {
    for (const path of ['/media/p/1/missing.webp', '/media/p', '/media/']) {
      const res = await raw(local.origin, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(JSON.parse(res.body.toString()).code, 'NOT_FOUND');
    }
  });

  it('when the path tries to leave media/ or the store, then 404 or 400 and never a byte of another file', async () => {
    const attempts = [
      '/media/../private/secret',
      '/media/../../outside/x',
      '/media/../../../../../../etc/passwd',
      '/media/..%2fprivate%2fsecret',
      '/media/%2e%2e/private/secret',
      '/media/%2e%2e%2fprivate%2fsecret',
      '/media/%2E%2E%2F%2E%2E%2Foutside%2Fx',
      '/media/%252e%252e%252fprivate%252fsecret',
      '/media/..\\private\\secret',
      '/media/..%5cprivate%5csecret',
      '/media/....//private/secret',
      '/media//etc/passwd',
      '/media/%2Fetc%2Fpasswd',
      '/media/p/1/480.webp%00.txt',
      '/media/p/1/480.webp/../../../private/secret',
      '/media/./p/1/480.webp',
      '/media/%c0%ae%c0%ae/private/secret',
    ];
    for (const path of attempts) {
      const res = await raw(local.origin, path);
      assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
      assert.doesNotMatch(res.body.toString('latin1'), /TOP-SECRET|root:/, path);
    }
  });
});

describe('media and upload routes in the app', () => {
  it('when buildApp runs with the default platform, then /media serves from platform.objects and /uploads accepts signed uploads', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'bazaar-media-app-'));
    const t = await startTestApp(pglite, { OBJECT_STORE: 'local', DATA_DIR: dataDir });
    try {
      await t.platform.objects.put('media/wired.txt', Buffer.from('wired'), { contentType: 'text/plain' });
      const got = await t.app.inject({ method: 'GET', url: '/media/wired.txt' });
      assert.equal(got.statusCode, 200);
      assert.equal(got.body, 'wired');
      assert.equal(got.headers['x-content-type-options'], 'nosniff');
      const target = await t.platform.objects.signUpload('originals/w', {
        contentType: 'image/png',
        maxBytes: 100,
        expiresInSeconds: 60,
      });
      const put = await t.app.inject({
        method: 'PUT',
        url: target.url,
        headers: { 'content-type': 'image/png' },
        payload: Buffer.from('png'),
      });
      assert.equal(put.statusCode, 200, put.body);
      assert.equal((await t.platform.objects.head('originals/w'))?.size, 3);
      const json = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        headers: { 'content-type': 'image/png' },
        payload: 'x',
      });
      assert.equal(json.statusCode, 415, 'the API stays JSON-only');
    } finally {
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
