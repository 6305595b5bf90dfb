/**
 * The objects port's contract on the local adapter (uploads through our own /uploads route on a
 * listening server) and on the S3 adapter against s3rver (presigned PUT and presigned POST),
 * then what only one adapter does, configuration, and the platform's choice of adapter.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config.ts';
import { objectsContract, sendUpload } from '../src/platform/objects/objects.contract.ts';
import type { ObjectStore } from '../src/platform/objects/objects.ts';
import { createPlatform } from '../src/platform/platform.ts';
import { type S3Server, startLocalObjectsApp, startS3Server } from './support/objects.ts';

let s3: Promise<S3Server> | undefined;
const s3Server = (): Promise<S3Server> => {
  s3 ??= startS3Server();
  return s3;
};
after(async () => {
  if (s3) await (await s3).close();
});

objectsContract({
  name: 'local (directory + /uploads route)',
  skip: undefined,
  refuses: { wrongContentType: true, expired: true, oversize: true },
  async setup({ mediaBaseUrl }) {
    const local = await startLocalObjectsApp({ mediaBaseUrl });
    return { objects: local.objects, origin: local.origin, teardown: local.close };
  },
});

const S3RVER_NO_SIGV4 =
  's3rver does not verify V4 signatures, so the signed Content-Type is not checked (AWS S3 refuses: SignatureDoesNotMatch)';
const S3RVER_NO_POLICY = 's3rver ignores POST policies (AWS S3 enforces them)';

objectsContract({
  name: 's3 with presigned PUT (s3rver)',
  skip: undefined,
  refuses: {
    wrongContentType: S3RVER_NO_SIGV4,
    expired: true,
    oversize: 'a presigned PUT cannot bound the size, on any S3 server: check with head after the upload',
  },
  async setup({ mediaBaseUrl }) {
    const server = await s3Server();
    const { objects } = await server.store({ mediaBaseUrl, uploadMethod: 'put' });
    return { objects, origin: server.endpoint, teardown: async () => {} };
  },
});

objectsContract({
  name: 's3 with presigned POST (s3rver)',
  skip: undefined,
  refuses: { wrongContentType: S3RVER_NO_POLICY, expired: S3RVER_NO_POLICY, oversize: S3RVER_NO_POLICY },
  async setup({ mediaBaseUrl }) {
    const server = await s3Server();
    const { objects } = await server.store({ mediaBaseUrl, uploadMethod: 'post' });
    return { objects, origin: server.endpoint, teardown: async () => {} };
  },
});

describe('local objects adapter', () => {
  it('when keys would collide as files and folders, then each is its own object, listed in byte order', async () => {
    const local = await startLocalObjectsApp();
    try {
      const keys = ['k', 'k-1', 'k.1', 'k/1', 'k/1/2', 'k0'];
      for (const k of [...keys].reverse())
        await local.objects.put(k, Buffer.from(k), { contentType: 'text/plain' });
      assert.deepEqual(
        (await local.objects.list('k')).map((o) => o.key),
        keys,
      );
      for (const k of keys) assert.equal((await local.objects.head(k))?.size, k.length);
      await local.objects.delete('k/1/2');
      assert.equal((await local.objects.head('k/1'))?.size, 3);
      assert.deepEqual(await readdir(join(local.dir, '~tmp')), [], 'no temporary files left');
    } finally {
      await local.close();
    }
  });

  it('when an object is stored, then it is one file under the directory: a 1 KiB JSON header, then the bytes', async () => {
    const local = await startLocalObjectsApp();
    try {
      await local.objects.put('media/p/a.txt', Buffer.from('hello'), { contentType: 'text/plain' });
      const file = await readFile(join(local.dir, 'media/p/a.txt~obj'));
      assert.equal(file.length, 1024 + 5);
      assert.equal(file.subarray(1024).toString(), 'hello');
      const header = JSON.parse(file.subarray(0, 1024).toString());
      assert.equal(header.contentType, 'text/plain');
      assert.equal(header.etag, '"5d41402abc4b2a76b9719d911017c592"');
    } finally {
      await local.close();
    }
  });

  it('when a reader has an object open and a put replaces it, then the reader gets the old bytes whole', async () => {
    const local = await startLocalObjectsApp();
    try {
      const old = Buffer.alloc(300_000, 1);
      await local.objects.put('media/swap', old, { contentType: 'application/octet-stream' });
      const reading = await local.objects.get('media/swap');
      await local.objects.put('media/swap', Buffer.alloc(10, 2), { contentType: 'application/octet-stream' });
      const chunks: Buffer[] = [];
      for await (const c of reading!.body) chunks.push(c as Buffer);
      assert.deepEqual(Buffer.concat(chunks), old);
      assert.equal((await local.objects.head('media/swap'))?.size, 10);
    } finally {
      await local.close();
    }
  });
});

describe('upload route (local adapter)', () => {
  const sign = (local: { objects: ObjectStore }, key: string, maxBytes = 1000) =>
    local.objects.signUpload(key, {
      contentType: 'image/png',
      maxBytes,
      expiresInSeconds: 60,
    });

  it('when an upload succeeds, then it answers 200 with the etag and the object-created signal fires once', async () => {
    const seen: [string, number][] = [];
    const local = await startLocalObjectsApp({ onUploaded: (key, info) => void seen.push([key, info.size]) });
    try {
      const target = await sign(local, 'originals/ok');
      assert.equal(target.method, 'PUT');
      assert.match(target.url, /^\/uploads\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      assert.deepEqual(target.headers, { 'Content-Type': 'image/png' });
      const res = await sendUpload(target, local.origin, Buffer.from('png bytes'));
      assert.equal(res.status, 200);
      const body = (await res.json()) as { key: string; size: number; etag: string };
      assert.equal(body.key, 'originals/ok');
      assert.equal(body.size, 9);
      assert.equal(res.headers.get('etag'), body.etag);
      assert.deepEqual(seen, [['originals/ok', 9]]);
    } finally {
      await local.close();
    }
  });

  it('when the token is tampered with, then 403 UPLOAD_URL_INVALID and nothing is stored', async () => {
    let signals = 0;
    const local = await startLocalObjectsApp({ onUploaded: () => void signals++ });
    try {
      const target = await sign(local, 'originals/mine');
      const [payload, mac] = target.url.slice('/uploads/'.length).split('.');
      const forged = Buffer.from(
        JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), k: 'media/evil' }),
      ).toString('base64url');
      for (const url of [
        `/uploads/${forged}.${mac}`,
        `/uploads/${payload}.${mac!.slice(0, -2)}AA`,
        `/uploads/${payload}`,
        '/uploads/garbage',
        `/uploads/${payload}.${mac}.x`,
      ]) {
        const res = await sendUpload({ ...target, url }, local.origin, Buffer.from('x'));
        assert.equal(res.status, 403, url);
        assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
        assert.equal(((await res.json()) as { code: string }).code, 'UPLOAD_URL_INVALID');
      }
      assert.equal(await local.objects.head('media/evil'), null);
      assert.equal(await local.objects.head('originals/mine'), null);
      assert.equal(signals, 0);
    } finally {
      await local.close();
    }
  });

  it('when the target has expired, then 403 UPLOAD_URL_INVALID', async () => {
    let t = Date.now();
    const local = await startLocalObjectsApp({ now: () => t });
    try {
      const target = await sign(local, 'originals/late');
      t += 60_001;
      const res = await sendUpload(target, local.origin, Buffer.from('x'));
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { code: string }).code, 'UPLOAD_URL_INVALID');
    } finally {
      await local.close();
    }
  });

  it('when Content-Type differs or is missing, then 415 and nothing is stored', async () => {
    const local = await startLocalObjectsApp();
    try {
      const target = await sign(local, 'originals/ct');
      for (const type of ['image/jpeg', 'text/plain', 'application/json']) {
        const res = await sendUpload(target, local.origin, Buffer.from('{}'), type);
        assert.equal(res.status, 415, type);
        assert.equal(((await res.json()) as { code: string }).code, 'UNSUPPORTED_MEDIA_TYPE');
      }
      const res = await fetch(new URL(target.url, local.origin), {
        method: 'PUT',
        body: new Uint8Array([1]),
      });
      assert.equal(res.status, 415);
      assert.equal(await local.objects.head('originals/ct'), null);
    } finally {
      await local.close();
    }
  });

  it('when the body is larger than maxBytes, declared or streamed without a length, then 413 and nothing is stored', async () => {
    const local = await startLocalObjectsApp();
    try {
      const target = await sign(local, 'originals/big', 100_000);
      const declared = await sendUpload(target, local.origin, Buffer.alloc(100_001));
      assert.equal(declared.status, 413);
      assert.equal(((await declared.json()) as { code: string }).code, 'PAYLOAD_TOO_LARGE');
      const chunks = (async function* () {
        for (let i = 0; i < 100; i++) yield new Uint8Array(4096);
      })();
      const streamed = await fetch(new URL(target.url, local.origin), {
        method: 'PUT',
        headers: target.headers,
        body: chunks,
        duplex: 'half',
      } as RequestInit).catch((err: unknown) => err as Error);
      if (streamed instanceof Response) assert.equal(streamed.status, 413);
      assert.equal(await local.objects.head('originals/big'), null);
      assert.deepEqual(await readdir(join(local.dir, '~tmp')), [], 'the partial body was removed');
      const exact = await sendUpload(target, local.origin, Buffer.alloc(100_000));
      assert.equal(exact.status, 200);
    } finally {
      await local.close();
    }
  });

  it('when the rest of the API gets a non-JSON body, then it is still refused (the raw parser is scoped to /uploads)', async () => {
    const local = await startLocalObjectsApp();
    try {
      const res = await fetch(`${local.origin}/api/echo`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: 'x',
      });
      assert.equal(res.status, 415);
    } finally {
      await local.close();
    }
  });
});

describe('S3 adapter uploads', () => {
  it('when a PUT target is signed, then Content-Type is a signed header and the expiry is the one asked', async () => {
    const { objects } = await (await s3Server()).store({ mediaBaseUrl: '/media', uploadMethod: 'put' });
    const target = await objects.signUpload('originals/p', {
      contentType: 'image/jpeg',
      maxBytes: 100,
      expiresInSeconds: 300,
    });
    const url = new URL(target.url);
    assert.deepEqual(url.searchParams.get('X-Amz-SignedHeaders')?.split(';').sort(), [
      'content-type',
      'host',
    ]);
    assert.equal(url.searchParams.get('X-Amz-Expires'), '300');
    assert.equal(url.searchParams.get('x-amz-checksum-crc32'), null, 'no checksum of an empty body');
    assert.deepEqual(target.headers, { 'Content-Type': 'image/jpeg' });
  });

  it('when a POST target is signed, then its policy bounds size, type, key and expiry, and the form uploads', async () => {
    const { objects } = await (await s3Server()).store({ mediaBaseUrl: '/media', uploadMethod: 'post' });
    const target = await objects.signUpload('originals/q', {
      contentType: 'image/jpeg',
      maxBytes: 20 * 1024 * 1024,
      expiresInSeconds: 300,
    });
    assert.equal(target.method, 'POST');
    const policy = JSON.parse(Buffer.from(target.fields!['Policy']!, 'base64').toString()) as {
      expiration: string;
      conditions: unknown[];
    };
    assert.ok(Math.abs(Date.parse(policy.expiration) - (Date.now() + 300_000)) < 5000);
    assert.deepEqual(policy.conditions.slice(0, 2), [
      ['content-length-range', 1, 20 * 1024 * 1024],
      ['eq', '$Content-Type', 'image/jpeg'],
    ]);
    assert.ok(policy.conditions.some((c) => JSON.stringify(c) === '{"key":"originals/q"}'));
    const res = await sendUpload(target, (await s3Server()).endpoint, Buffer.from('jpeg'));
    assert.equal(res.status, 204);
    assert.equal((await objects.head('originals/q'))?.contentType, 'image/jpeg');
  });
});

describe('objects configuration', () => {
  const problems = (env: Record<string, string>): readonly string[] => {
    try {
      loadConfig(env);
      return [];
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems;
    }
  };

  it('when nothing is set, then objects are local, media under /media, and the upload secret is drawn at start', () => {
    const c = loadConfig({});
    assert.equal(c.objectStore, 'local');
    assert.equal(c.mediaBaseUrl, '/media');
    assert.equal(c.uploadSigningSecret, undefined);
    assert.equal(c.s3Region, 'us-east-1');
    assert.equal(c.s3ForcePathStyle, false);
    assert.equal(c.s3UploadMethod, 'post');
  });

  it('when S3 is configured, then every setting is taken, trailing slashes dropped', () => {
    const c = loadConfig({
      OBJECT_STORE: 's3',
      S3_ENDPOINT: 'http://127.0.0.1:9000/',
      S3_BUCKET: 'bazaar-media',
      S3_REGION: 'eu-west-1',
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: 'AKID',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_UPLOAD_METHOD: 'put',
      MEDIA_BASE_URL: 'https://cdn.example.com/',
    });
    assert.equal(c.s3Endpoint, 'http://127.0.0.1:9000');
    assert.equal(c.mediaBaseUrl, 'https://cdn.example.com');
    assert.equal(c.s3ForcePathStyle, true);
    assert.equal(c.s3UploadMethod, 'put');
  });

  it('when settings are bad, then one clear line each, and no secret is echoed', () => {
    const lines = problems({
      OBJECT_STORE: 'gcs',
      MEDIA_BASE_URL: 'ftp://cdn',
      S3_ENDPOINT: 'nope',
      S3_BUCKET: 'Bad_Bucket',
      S3_FORCE_PATH_STYLE: 'maybe',
      S3_UPLOAD_METHOD: 'multipart',
      UPLOAD_SIGNING_SECRET: 'short-secret-value',
      S3_ACCESS_KEY_ID: 'AKID',
    });
    assert.equal(lines.length, 8, lines.join('\n'));
    assert.match(lines[0]!, /^OBJECT_STORE="gcs" must be one of local, s3/);
    assert.match(lines.join('\n'), /^MEDIA_BASE_URL="ftp:\/\/cdn" has protocol "ftp:"/m);
    assert.match(lines.join('\n'), /^UPLOAD_SIGNING_SECRET is too short: it needs at least 32 characters/m);
    assert.match(lines.join('\n'), /^S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together/m);
    assert.doesNotMatch(lines.join('\n'), /short-secret-value/);
    assert.deepEqual(problems({ OBJECT_STORE: 's3' }), [
      'S3_BUCKET is required when OBJECT_STORE=s3 (example: S3_BUCKET=bazaar-media)',
    ]);
  });
});

describe('platform objects', () => {
  it('when the platform starts with defaults, then objects live under DATA_DIR/objects and uploads are signed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'bazaar-platform-objects-'));
    const platform = await createPlatform(loadConfig({ DATA_DIR: root, LOG_LEVEL: 'silent' }), {
      inMemory: true,
    });
    try {
      await platform.objects.put('media/a.txt', Buffer.from('a'), { contentType: 'text/plain' });
      assert.ok((await readdir(join(root, 'objects', 'media'))).includes('a.txt~obj'));
      assert.equal(platform.objects.publicUrl('media/a.txt'), '/media/a.txt');
      const target = await platform.objects.signUpload('originals/x', {
        contentType: 'image/png',
        maxBytes: 10,
        expiresInSeconds: 60,
      });
      assert.equal(platform.uploadTokens?.verify(target.url.slice('/uploads/'.length))?.key, 'originals/x');
    } finally {
      await platform.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('when OBJECT_STORE=s3, then platform.objects is the bucket', async () => {
    const server = await s3Server();
    const { bucket } = await server.store({ mediaBaseUrl: '/media', uploadMethod: 'put' });
    const platform = await createPlatform(
      loadConfig({
        LOG_LEVEL: 'silent',
        OBJECT_STORE: 's3',
        S3_ENDPOINT: server.endpoint,
        S3_BUCKET: bucket,
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
        MEDIA_BASE_URL: 'https://cdn.example.com',
      }),
      { inMemory: true },
    );
    try {
      const info = await platform.objects.put('media/s3.txt', Buffer.from('s3'), {
        contentType: 'text/plain',
      });
      assert.equal(info.etag, `"${createHash('md5').update('s3').digest('hex')}"`);
      assert.equal((await platform.objects.head('media/s3.txt'))?.size, 2);
      assert.equal(platform.objects.publicUrl('media/s3.txt'), 'https://cdn.example.com/s3.txt');
      assert.equal(platform.uploadTokens, undefined);
    } finally {
      await platform.close();
    }
  });
});
