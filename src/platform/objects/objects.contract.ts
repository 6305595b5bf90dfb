/**
 * The objects port's contract. Every adapter runs it (test/objects.test.ts): the local adapter
 * (uploads through our own `/uploads` route on a real listening server) and the S3 adapter
 * against an S3-compatible server started by the test. Uploads are real HTTP requests with
 * fetch to the target `signUpload` returned. What a backend does not enforce on uploads is
 * declared by the subject with the reason, and those cases are skipped with it, never faked.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import type { ObjectStore, UploadTarget } from './objects.ts';

export type ObjectsContractSubject = Readonly<{
  name: string;
  skip: string | undefined;
  /** `true` when the backend refuses such an upload, else the reason it cannot (the case is skipped with it). */
  refuses: Readonly<{ wrongContentType: true | string; expired: true | string; oversize: true | string }>;
  /** A fresh, empty store whose MEDIA_BASE_URL is `mediaBaseUrl`; `origin` resolves relative upload URLs. */
  setup(options: { mediaBaseUrl: string }): Promise<{
    objects: ObjectStore;
    origin: string;
    teardown(): Promise<void>;
  }>;
}>;

const md5 = (b: Buffer): string => `"${createHash('md5').update(b).digest('hex')}"`;
const bytes = (n: number, seed = 0): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i + seed) % 256));

async function readBody(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** Sends `body` to an upload target as a browser would. */
export async function sendUpload(
  target: UploadTarget,
  origin: string,
  body: Buffer,
  contentType?: string,
): Promise<Response> {
  const url = new URL(target.url, origin);
  if (target.method === 'PUT') {
    const headers = { ...target.headers, ...(contentType ? { 'Content-Type': contentType } : {}) };
    return fetch(url, { method: 'PUT', headers, body });
  }
  const form = new FormData();
  for (const [name, value] of Object.entries(target.fields ?? {})) {
    form.append(name, name.toLowerCase() === 'content-type' && contentType ? contentType : value);
  }
  form.append('file', new Blob([new Uint8Array(body)]), 'upload');
  return fetch(url, { method: 'POST', body: form });
}

export function objectsContract(subject: ObjectsContractSubject): void {
  describe(`objects port contract: ${subject.name}`, { skip: subject.skip }, () => {
    const withStore = async (fn: (objects: ObjectStore, origin: string) => Promise<void>): Promise<void> => {
      const store = await subject.setup({ mediaBaseUrl: 'https://cdn.example.com' });
      try {
        await fn(store.objects, store.origin);
      } finally {
        await store.teardown();
      }
    };
    const skipUnless = (v: true | string) => (v === true ? undefined : v);

    it('when bytes are put, then get and head return them with size, type and an MD5 etag', () =>
      withStore(async (objects) => {
        const data = bytes(1000);
        const put = await objects.put('media/p/a.bin', data, {
          contentType: 'image/webp',
          cacheControl: 'public, max-age=60',
        });
        assert.equal(put.key, 'media/p/a.bin');
        assert.equal(put.size, 1000);
        assert.equal(put.contentType, 'image/webp');
        assert.equal(put.etag, md5(data));
        assert.ok(
          put.lastModified instanceof Date && Math.abs(put.lastModified.getTime() - Date.now()) < 60_000,
        );
        const got = await objects.get('media/p/a.bin');
        assert.ok(got);
        assert.deepEqual(await readBody(got.body), data);
        assert.deepEqual({ ...got.info, lastModified: undefined }, { ...put, lastModified: undefined });
        const head = await objects.head('media/p/a.bin');
        assert.deepEqual({ ...head, lastModified: undefined }, { ...put, lastModified: undefined });
      }));

    it('when a stream is put, then all of its bytes are stored', () =>
      withStore(async (objects) => {
        const parts = Array.from({ length: 40 }, (_, i) => bytes(8192, i));
        const info = await objects.put('media/stream.bin', Readable.from(parts), {
          contentType: 'application/octet-stream',
        });
        const all = Buffer.concat(parts);
        assert.equal(info.size, all.length);
        assert.equal(info.etag, md5(all));
        assert.deepEqual(await readBody((await objects.get('media/stream.bin'))!.body), all);
      }));

    it('when a stream fails midway, then nothing is stored and an older object stays whole', () =>
      withStore(async (objects) => {
        await objects.put('media/keep.bin', Buffer.from('old'), { contentType: 'text/plain' });
        const failing = () =>
          Readable.from(
            (async function* () {
              yield bytes(4096);
              throw new Error('client went away');
            })(),
          );
        await assert.rejects(objects.put('media/new.bin', failing(), { contentType: 'text/plain' }));
        await assert.rejects(objects.put('media/keep.bin', failing(), { contentType: 'text/plain' }));
        assert.equal(await objects.head('media/new.bin'), null);
        assert.equal(await text((await objects.get('media/keep.bin'))!.body), 'old');
        assert.deepEqual(
          (await objects.list('media/')).map((o) => o.key),
          ['media/keep.bin'],
        );
      }));

    it('when the same bytes are put twice or under two keys, then the etag is the same; other bytes, another etag', () =>
      withStore(async (objects) => {
        const data = bytes(500, 7);
        const a = await objects.put('media/x', data, { contentType: 'image/png' });
        const b = await objects.put('media/x', data, { contentType: 'image/png' });
        const c = await objects.put('media/y', Readable.from([data]), { contentType: 'image/png' });
        assert.equal(a.etag, b.etag);
        assert.equal(a.etag, c.etag);
        const d = await objects.put('media/x', bytes(500, 8), { contentType: 'image/png' });
        assert.notEqual(d.etag, a.etag);
        assert.deepEqual(await readBody((await objects.get('media/x'))!.body), bytes(500, 8));
      }));

    it('when a key is absent, then get and head answer null and delete is fine, twice', () =>
      withStore(async (objects) => {
        assert.equal(await objects.get('media/none'), null);
        assert.equal(await objects.head('media/none'), null);
        await objects.delete('media/none');
        await objects.put('media/d/e', Buffer.from('x'), { contentType: 'text/plain' });
        await objects.delete('media/d/e');
        await objects.delete('media/d/e');
        assert.equal(await objects.head('media/d/e'), null);
        assert.equal(await objects.get('media/d/e'), null);
      }));

    it('when a range is read, then exactly those bytes come back and info has the whole size', () =>
      withStore(async (objects) => {
        const data = bytes(256);
        await objects.put('media/r', data, { contentType: 'application/octet-stream' });
        const cases: [{ start: number; end?: number }, Buffer][] = [
          [{ start: 10, end: 19 }, data.subarray(10, 20)],
          [{ start: 0, end: 0 }, data.subarray(0, 1)],
          [{ start: 250 }, data.subarray(250)],
          [{ start: 250, end: 10_000 }, data.subarray(250)],
          [{ start: 255, end: 255 }, data.subarray(255)],
        ];
        for (const [range, expected] of cases) {
          const got = await objects.get('media/r', { range });
          assert.ok(got);
          assert.equal(got.info.size, 256);
          assert.deepEqual(await readBody(got.body), expected, JSON.stringify(range));
        }
        await assert.rejects(objects.get('media/r', { range: { start: 256 } }), RangeError);
        await assert.rejects(objects.get('media/r', { range: { start: 5, end: 4 } }), RangeError);
        await assert.rejects(objects.get('media/r', { range: { start: -1 } }), RangeError);
      }));

    it('when listing a prefix, then its keys come in key order, paged by limit and after', () =>
      withStore(async (objects) => {
        const keys = ['list/a/1', 'list/a/2', 'list/ab', 'list/b', 'list/c/x/y'];
        for (const k of [...keys].reverse())
          await objects.put(k, Buffer.from(k), { contentType: 'text/plain' });
        await objects.put('lisz', Buffer.from('z'), { contentType: 'text/plain' });
        await objects.put('other/list/a', Buffer.from('o'), { contentType: 'text/plain' });
        const all = await objects.list('list/');
        assert.deepEqual(
          all.map((o) => o.key),
          keys,
        );
        assert.deepEqual(all[2], await objects.head('list/ab'));
        assert.equal(all[0]!.contentType, 'text/plain');
        assert.equal(all[0]!.size, 'list/a/1'.length);
        assert.deepEqual(
          (await objects.list('list/a')).map((o) => o.key),
          ['list/a/1', 'list/a/2', 'list/ab'],
        );
        assert.deepEqual(
          (await objects.list('list/a/')).map((o) => o.key),
          ['list/a/1', 'list/a/2'],
        );
        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await objects.list('list/', { limit: 2, ...(after ? { after } : {}) });
          if (page.length === 0) break;
          pages.push(page.map((o) => o.key));
          after = page[page.length - 1]!.key;
        }
        assert.deepEqual(pages, [['list/a/1', 'list/a/2'], ['list/ab', 'list/b'], ['list/c/x/y']]);
        assert.deepEqual(await objects.list('nothing/'), []);
        assert.deepEqual(
          (await objects.list('')).map((o) => o.key),
          ['list/a/1', 'list/a/2', 'list/ab', 'list/b', 'list/c/x/y', 'lisz', 'other/list/a'],
        );
        await assert.rejects(objects.list('list/', { limit: 0 }), RangeError);
        await assert.rejects(objects.list('list/', { limit: 1001 }), RangeError);
      }));

    const badKeys = [
      '',
      '/a',
      'a/../b',
      '..',
      'a/..',
      'a//b',
      'a/',
      './a',
      'a/./b',
      'a b',
      'ä',
      'a\\b',
      'a%2f',
      'a\0',
      'x'.repeat(513),
      `a/${'s'.repeat(201)}`,
    ];
    it('when a key breaks the rules, then every operation throws RangeError before any I/O', () =>
      withStore(async (objects) => {
        for (const key of badKeys) {
          const label = JSON.stringify(key.slice(0, 20));
          await assert.rejects(
            objects.put(key, Buffer.from('x'), { contentType: 'text/plain' }),
            RangeError,
            label,
          );
          await assert.rejects(objects.get(key), RangeError, label);
          await assert.rejects(objects.head(key), RangeError, label);
          await assert.rejects(objects.delete(key), RangeError, label);
          await assert.rejects(
            objects.signUpload(key, { contentType: 'image/jpeg', maxBytes: 10, expiresInSeconds: 60 }),
            RangeError,
            label,
          );
        }
        await assert.rejects(objects.list('../'), RangeError);
        const longest = `${'k'.repeat(200)}/${'l'.repeat(200)}/${'m'.repeat(110)}`;
        assert.equal(longest.length, 512);
        await objects.put(longest, Buffer.from('ok'), { contentType: 'text/plain' });
        assert.equal((await objects.head(longest))?.size, 2);
        await assert.rejects(
          objects.put('media/a', Buffer.from('x'), { contentType: 'not a type' }),
          RangeError,
        );
        await assert.rejects(
          objects.put('media/a', Buffer.from('x'), { contentType: 'text/plain', cacheControl: 'a\r\nb' }),
          RangeError,
        );
      }));

    it('when a public URL is asked, then media keys map under MEDIA_BASE_URL and other keys are refused', () =>
      withStore(async (objects) => {
        assert.equal(objects.publicUrl('media/p/1/480.webp'), 'https://cdn.example.com/p/1/480.webp');
        assert.throws(() => objects.publicUrl('originals/p/1'), RangeError);
        assert.throws(() => objects.publicUrl('media/../x'), RangeError);
      }));

    it('when an upload target is signed and used, then the object exists with the declared type and the bytes sent', () =>
      withStore(async (objects, origin) => {
        const before = Date.now();
        const target = await objects.signUpload('originals/u1', {
          contentType: 'image/jpeg',
          maxBytes: 4096,
          expiresInSeconds: 60,
        });
        assert.ok(target.method === 'PUT' || target.method === 'POST');
        assert.ok(Math.abs(target.expiresAt.getTime() - (before + 60_000)) < 5000);
        const data = bytes(3000, 3);
        const res = await sendUpload(target, origin, data);
        assert.ok(res.ok, `upload answered ${res.status}: ${await res.text()}`);
        const info = await objects.head('originals/u1');
        assert.equal(info?.size, 3000);
        assert.equal(info?.contentType, 'image/jpeg');
        assert.equal(info?.etag, md5(data));
        assert.deepEqual(await readBody((await objects.get('originals/u1'))!.body), data);
      }));

    it('when signing with bad bounds, then RangeError', () =>
      withStore(async (objects) => {
        const ok = { contentType: 'image/jpeg', maxBytes: 10, expiresInSeconds: 60 };
        for (const bad of [
          { ...ok, contentType: 'jpeg' },
          { ...ok, maxBytes: 0 },
          { ...ok, maxBytes: 1.5 },
          { ...ok, expiresInSeconds: 0 },
          { ...ok, expiresInSeconds: 604_801 },
        ]) {
          await assert.rejects(objects.signUpload('originals/x', bad), RangeError, JSON.stringify(bad));
        }
      }));

    it(
      'when an upload declares another content type, then it is refused and nothing is stored',
      { skip: skipUnless(subject.refuses.wrongContentType) },
      () =>
        withStore(async (objects, origin) => {
          const target = await objects.signUpload('originals/ct', {
            contentType: 'image/jpeg',
            maxBytes: 4096,
            expiresInSeconds: 60,
          });
          const res = await sendUpload(target, origin, bytes(100), 'text/html');
          assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
          assert.equal(await objects.head('originals/ct'), null);
        }),
    );

    it(
      'when an upload comes after its target expired, then it is refused and nothing is stored',
      { skip: skipUnless(subject.refuses.expired) },
      () =>
        withStore(async (objects, origin) => {
          const target = await objects.signUpload('originals/late', {
            contentType: 'image/jpeg',
            maxBytes: 4096,
            expiresInSeconds: 1,
          });
          await new Promise((r) => setTimeout(r, 2100));
          const res = await sendUpload(target, origin, bytes(100));
          assert.equal(res.status, 403);
          assert.equal(await objects.head('originals/late'), null);
        }),
    );

    it(
      'when an upload is larger than maxBytes, then it is refused and nothing is stored',
      { skip: skipUnless(subject.refuses.oversize) },
      () =>
        withStore(async (objects, origin) => {
          const target = await objects.signUpload('originals/big', {
            contentType: 'image/jpeg',
            maxBytes: 1000,
            expiresInSeconds: 60,
          });
          const res = await sendUpload(target, origin, bytes(1001));
          assert.ok(res.status === 413 || res.status === 400, `status ${res.status}`);
          assert.equal(await objects.head('originals/big'), null);
        }),
    );
  });
}
