/**
 * Product photos end to end on every SQL backend: a seller asks for an upload target, sends the
 * bytes to it (the local store's signed `/uploads` route through the app, or a presigned POST or PUT to
 * an S3-compatible server then `/complete`), the worker's image job makes the variants, and the
 * catalog's projection shows them on the product and in listings. Bad uploads end as a clear
 * 4xx or a failed photo with the seller's reason, never a 5xx. The demo seed's generated photos
 * go through the same job.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { seedDemo } from '../src/apps/seed.ts';
import type { RunningWorker } from '../src/apps/worker-runtime.ts';
import type { Product, ProductPage } from '../src/modules/catalog/index.ts';
import {
  createMediaService,
  MEDIA_LIMITS,
  type Photo,
  type PhotoUpload,
  PROCESS_PHOTO,
  processPhoto,
} from '../src/modules/media/index.ts';
import type { DomainEvent } from '../src/platform/events/events.ts';
import { sendUpload } from '../src/platform/objects/objects.contract.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS } from './support/engines.ts';
import { type S3Server, startS3Server } from './support/objects.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';
import { startTestWorker } from './support/worker.ts';

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';
const MB = 1024 * 1024;
/** [width, height, format] of the six variants of a 4:3 photo, in the order the API lists them. */
const VARIANTS_OF_4_BY_3 = [
  [160, 120, 'webp'],
  [160, 120, 'jpeg'],
  [480, 360, 'webp'],
  [480, 360, 'jpeg'],
  [1200, 900, 'webp'],
  [1200, 900, 'jpeg'],
];

type Who = Readonly<{ userId: string; cookie: string }>;
type Role = 'buyer' | 'seller' | 'admin';
type InjectResponse = Awaited<ReturnType<TestApp['app']['inject']>>;
type Api = (method: 'GET' | 'POST', url: string, who?: Who, payload?: object) => Promise<InjectResponse>;

async function signInAs(t: TestApp, role: Role): Promise<Who> {
  const userId = uuidv7();
  const s = await t.platform.sessions.create({ userId, data: { role } });
  return { userId, cookie: `bazaar_session=${s.id}` };
}

function callApi(t: TestApp, ...[method, url, who, payload]: Parameters<Api>): Promise<InjectResponse> {
  return t.app.inject({
    method,
    url,
    headers: who ? { cookie: who.cookie } : {},
    ...(payload ? { payload } : {}),
  });
}

async function publishedProduct(
  t: TestApp,
  seller: Who,
  title: string,
  priceMinor: number,
  stock: number,
): Promise<Product> {
  const res = await callApi(t, 'POST', '/api/products', seller, {
    categoryId: KITCHEN,
    title,
    priceMinor,
    stock,
    status: 'published',
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as Product;
}

/** A 1600 x 1200 JPEG with a gradient, optionally carrying EXIF GPS. */
async function photoJpeg(gps = false): Promise<Buffer> {
  let img = sharp({
    create: { width: 1600, height: 1200, channels: 3, background: '#2a6f97' },
  })
    .composite([
      {
        input: Buffer.from(
          '<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="1200"><circle cx="800" cy="600" r="400" fill="#f4a261"/></svg>',
        ),
      },
    ])
    .jpeg();
  if (gps) {
    img = img.withExif({
      IFD0: { Make: 'Bazaar Camera' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '48/1 51/1 24/1',
        GPSLongitudeRef: 'E',
        GPSLongitude: '2/1 21/1 3/1',
      },
    });
  }
  return img.toBuffer();
}

/** A valid 1-bit PNG of side x side pixels: tens of KB that would inflate to gigabytes. */
function pngBomb(side: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([1, 0, 0, 0, 0], 8);
  const rows = Buffer.alloc((1 + Math.ceil(side / 8)) * side);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

for (const backend of BACKENDS) {
  describe(`media on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let worker: RunningWorker;
    let dataDir: string;
    let jpeg: Buffer;
    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'bazaar-media-test-'));
      t = await startTestApp(backend, { DATA_DIR: dataDir });
      worker = await startTestWorker(t);
      jpeg = await photoJpeg();
    });
    after(async () => {
      await worker?.stop();
      await t?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    const signIn = (role: Role) => signInAs(t, role);
    const api: Api = (...args) => callApi(t, ...args);
    const product = (seller: Who) => publishedProduct(t, seller, 'Speckled mug', 2400, 3);

    async function requestUpload(seller: Who, productId: string, contentType: string, size: number) {
      const res = await api('POST', `/api/products/${productId}/photos`, seller, { contentType, size });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as PhotoUpload;
    }

    const put = (upload: PhotoUpload['upload'], body: Buffer, headers: Record<string, string> = {}) =>
      t.app.inject({
        method: 'PUT',
        url: upload.url,
        headers: { ...upload.headers, ...headers },
        payload: body,
      });

    async function photos(productId: string, who?: Who): Promise<Photo[]> {
      const res = await api('GET', `/api/products/${productId}/photos`, who);
      assert.equal(res.statusCode, 200, res.body);
      return (res.json() as { items: Photo[] }).items;
    }

    /** Uploads `bytes` as a new photo through the local route, drains the worker, returns the photo. */
    async function uploadPhoto(seller: Who, productId: string, bytes: Buffer, type = 'image/jpeg') {
      const { photoId, upload } = await requestUpload(seller, productId, type, bytes.length);
      const res = await put(upload, bytes);
      assert.equal(res.statusCode, 200, res.body);
      await worker.drain();
      const photo = (await photos(productId, seller)).find((p) => p.id === photoId);
      assert.ok(photo);
      return photo;
    }

    it('when a seller uploads a JPEG, then it becomes ready with 6 variants, on the product and in listings', async () => {
      const seller = await signIn('seller');
      const p = await product(seller);
      const { photoId, upload } = await requestUpload(seller, p.id, 'image/jpeg', jpeg.length);
      assert.equal(upload.method, 'PUT');
      assert.match(upload.url, /^\/uploads\//);
      assert.equal((await photos(p.id, seller))[0]?.status, 'awaiting_upload');
      assert.equal((await put(upload, jpeg)).statusCode, 200);
      await worker.drain();

      const [photo] = await photos(p.id, seller);
      assert.equal(photo?.id, photoId);
      assert.equal(photo?.status, 'ready', photo?.failureReason ?? '');
      assert.deepEqual(
        photo.variants.map((v) => [v.width, v.height, v.format]),
        VARIANTS_OF_4_BY_3,
      );
      const variant = await t.app.inject({ method: 'GET', url: photo.variants[1]!.url });
      assert.equal(variant.statusCode, 200);
      assert.equal(variant.headers['content-type'], 'image/jpeg');
      assert.equal(variant.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal((await sharp(variant.rawPayload).metadata()).width, 160);
      const etag = String(variant.headers['etag']);
      assert.match(etag, /^"[0-9a-f]{32}"$/, 'a strong ETag');
      const revalidated = await t.app.inject({
        method: 'GET',
        url: photo.variants[1]!.url,
        headers: { 'if-none-match': etag },
      });
      assert.equal(revalidated.statusCode, 304);
      assert.equal(revalidated.rawPayload.length, 0);
      const ranged = await t.app.inject({
        method: 'GET',
        url: photo.variants[1]!.url,
        headers: { range: 'bytes=0-99' },
      });
      assert.equal(ranged.statusCode, 206);
      assert.equal(ranged.headers['content-range'], `bytes 0-99/${variant.rawPayload.length}`);
      assert.deepEqual(ranged.rawPayload, variant.rawPayload.subarray(0, 100));

      const detail = (await api('GET', `/api/products/${p.id}`)).json() as Product;
      assert.deepEqual(detail.photos, [{ id: photoId, variants: photo.variants }]);
      const listing = (await api('GET', `/api/products?seller=${seller.userId}`)).json() as ProductPage;
      assert.deepEqual(listing.items[0]?.photo, { id: photoId, variants: photo.variants });
      assert.deepEqual(
        (await photos(p.id)).map((x) => x.id),
        [photoId],
        'buyers see ready photos',
      );
    });

    it('when a JPEG carries EXIF GPS, then no variant carries metadata', async () => {
      const seller = await signIn('seller');
      const p = await product(seller);
      const withGps = await photoJpeg(true);
      assert.ok((await sharp(withGps).metadata()).exif, 'the source has EXIF');
      const photo = await uploadPhoto(seller, p.id, withGps);
      assert.equal(photo.status, 'ready');
      for (const v of photo.variants) {
        const bytes = (await t.app.inject({ method: 'GET', url: v.url })).rawPayload;
        const meta = await sharp(bytes).metadata();
        assert.equal(meta.exif, undefined, `${v.url} has no EXIF`);
        assert.equal(meta.xmp, undefined);
        assert.equal(meta.icc, undefined);
      }
    });

    it('when the upload is not an image, damaged or a pixel bomb, then the photo fails with the reason', async () => {
      const seller = await signIn('seller');
      const p = await product(seller);
      const cases: [Buffer, string, RegExp][] = [
        [Buffer.from('just some text, not a picture\n'.repeat(20)), 'image/jpeg', /not an image/],
        [jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'image/jpeg', /damaged/],
        [pngBomb(20_000), 'image/png', /20000 x 20000 pixels; the limit is 40 megapixels/],
      ];
      for (const [bytes, type, reason] of cases) {
        const photo = await uploadPhoto(seller, p.id, bytes, type);
        assert.equal(photo.status, 'failed');
        assert.match(photo.failureReason ?? '', reason);
        assert.deepEqual(photo.variants, []);
      }
      assert.deepEqual(await photos(p.id), [], 'failed photos are the seller’s business');
      assert.deepEqual(((await api('GET', `/api/products/${p.id}`)).json() as Product).photos, []);
    });

    it('when uploads break the limits, then each is a clear 4xx and nothing is stored', async () => {
      const seller = await signIn('seller');
      const p = await product(seller);
      const ask = (payload: object, who: Who = seller) =>
        api('POST', `/api/products/${p.id}/photos`, who, payload);

      assert.equal((await ask({ contentType: 'image/jpeg', size: 25 * MB })).statusCode, 413);
      assert.equal((await ask({ contentType: 'text/plain', size: 100 })).statusCode, 415);
      assert.equal((await ask({ contentType: 'image/svg+xml', size: 100 })).statusCode, 415);
      assert.equal((await ask({ contentType: 'image/jpeg', size: 0 })).statusCode, 400);
      assert.equal((await ask({ contentType: 'image/jpeg' })).statusCode, 400);
      assert.equal(
        (await api('POST', `/api/products/${p.id}/photos`, undefined, { contentType: 'image/jpeg', size: 9 }))
          .statusCode,
        401,
      );
      const other = await signIn('seller');
      assert.equal((await ask({ contentType: 'image/jpeg', size: 100 }, other)).statusCode, 403);
      const buyer = await signIn('buyer');
      assert.equal((await ask({ contentType: 'image/jpeg', size: 100 }, buyer)).statusCode, 403);
      assert.equal(
        (
          await api('POST', `/api/products/${uuidv7()}/photos`, seller, {
            contentType: 'image/jpeg',
            size: 9,
          })
        ).statusCode,
        404,
      );

      const { photoId, upload } = await requestUpload(seller, p.id, 'image/jpeg', 1 * MB);
      const big = await put(upload, Buffer.alloc(25 * MB, 1));
      assert.equal(big.statusCode, 413, big.body);
      const wrongType = await put(upload, jpeg, { 'content-type': 'image/png' });
      assert.equal(wrongType.statusCode, 415, wrongType.body);
      const token = upload.url.slice('/uploads/'.length);
      const flipped = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
      const tampered = await put({ ...upload, url: `/uploads/${flipped}` }, jpeg);
      assert.equal(tampered.statusCode, 403, tampered.body);
      assert.equal((await put({ ...upload, url: '/uploads/garbage' }, jpeg)).statusCode, 403);
      assert.equal(await t.platform.objects.head(`uploads/${photoId}`), null, 'nothing stored');

      const complete = await api('POST', `/api/photos/${photoId}/complete`, seller);
      assert.equal(complete.statusCode, 409);
      assert.equal(complete.json().code, 'UPLOAD_MISSING');
      assert.equal((await api('POST', `/api/photos/${photoId}/complete`, other)).statusCode, 403);
    });

    it('when an upload URL has expired, then the upload is refused with 403', async () => {
      const seller = await signIn('seller');
      const p = await product(seller);
      const { photoId, upload } = await requestUpload(seller, p.id, 'image/jpeg', jpeg.length);
      // The same grant as the route's, signed with the app's secret, already expired.
      const token = t.platform.uploadTokens!.sign({
        key: `uploads/${photoId}`,
        contentType: 'image/jpeg',
        maxBytes: jpeg.length,
        expiresAt: new Date(Date.now() - 1000),
      });
      const res = await put({ ...upload, url: `/uploads/${token}` }, jpeg);
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().code, 'UPLOAD_URL_INVALID');
      assert.equal(await t.platform.objects.head(`uploads/${photoId}`), null);
    });

    it('when a product has 10 photos, then the 11th is refused with TOO_MANY_PHOTOS', async () => {
      const seller = await signIn('seller');
      const p = await product(seller);
      for (let i = 0; i < 10; i++) await requestUpload(seller, p.id, 'image/png', 1000);
      const res = await api('POST', `/api/products/${p.id}/photos`, seller, {
        contentType: 'image/png',
        size: 1000,
      });
      assert.equal(res.statusCode, 409);
      assert.equal(res.json().code, 'TOO_MANY_PHOTOS');
    });

    it('when a seller asks for more than 60 photos in 10 minutes, then 429 RATE_LIMITED with Retry-After; other sellers are not limited', async () => {
      const windowOf = () => Math.floor(Date.now() / (MEDIA_LIMITS.windowSeconds * 1000));
      const { requestsPerWindow, photosPerProduct } = MEDIA_LIMITS;
      for (let attempt = 1; ; attempt++) {
        const window = windowOf();
        const seller = await signIn('seller');
        const products: Product[] = [];
        for (let i = 0; i <= requestsPerWindow / photosPerProduct; i++) products.push(await product(seller));
        for (let i = 0; i < requestsPerWindow; i++) {
          await requestUpload(seller, products[Math.floor(i / photosPerProduct)]!.id, 'image/png', 1000);
        }
        const last = products[products.length - 1]!;
        const limited = await api('POST', `/api/products/${last.id}/photos`, seller, {
          contentType: 'image/png',
          size: 1000,
        });
        // The window is fixed: when it turned during the requests, the count restarted; once more.
        if (windowOf() !== window && attempt < 2) continue;
        assert.equal(limited.statusCode, 429, limited.body);
        assert.equal(limited.json().code, 'RATE_LIMITED');
        const retryAfter = Number(limited.headers['retry-after']);
        assert.ok(retryAfter >= 1 && retryAfter <= MEDIA_LIMITS.windowSeconds, `Retry-After: ${retryAfter}`);
        assert.deepEqual(await photos(last.id, seller), [], 'the refused request made no photo');
        const other = await signIn('seller');
        await requestUpload(other, (await product(other)).id, 'image/png', 1000);
        return;
      }
    });

    it('when the job runs again for the same upload, then the keys are the same and the photo is listed once', async () => {
      const seller = await signIn('seller');
      const p = await product(seller);
      const photo = await uploadPhoto(seller, p.id, jpeg);
      assert.equal(photo.status, 'ready');
      const keysBefore = (await t.platform.objects.list('media/')).map((o) => o.key);

      const rerun: DomainEvent = {
        id: uuidv7(),
        type: 'photo.uploaded',
        source: 'media',
        key: p.id,
        payload: { photoId: photo.id, productId: p.id, sellerId: seller.userId, key: `uploads/${photo.id}` },
        occurredAt: new Date().toISOString(),
      };
      await processPhoto(t.platform, PROCESS_PHOTO, rerun);
      await processPhoto(t.platform, PROCESS_PHOTO, rerun);
      // Force the same work as a crash after the variants were written: back to processing, same event.
      await t.platform.sql
        .for<{ photos: { id: string; status: string } }>('media')
        .write.updateTable('photos')
        .set({ status: 'processing' })
        .where('id', '=', photo.id)
        .execute();
      await processPhoto(t.platform, PROCESS_PHOTO, { ...rerun, id: uuidv7() });
      await t.platform.events.publish([rerun]);
      await worker.drain();

      assert.deepEqual(
        (await t.platform.objects.list('media/')).map((o) => o.key),
        keysBefore,
        'no new keys',
      );
      const after = await photos(p.id, seller);
      assert.equal(after.length, 1);
      assert.equal(after[0]?.status, 'ready');
      assert.deepEqual(after[0]?.variants, photo.variants);
      const detail = (await api('GET', `/api/products/${p.id}`)).json() as Product;
      assert.deepEqual(
        detail.photos,
        [{ id: photo.id, variants: photo.variants }],
        'one entry in the projection',
      );
    });

    it('when the object-created signal names another key or an unknown photo, then nothing happens', async () => {
      const media = createMediaService({
        platform: t.platform,
      });
      assert.equal(await media.objectCreated('media/abc.jpg'), false);
      assert.equal(await media.objectCreated(`uploads/${uuidv7()}`), false);
      assert.equal(await media.objectCreated('uploads/not-a-uuid'), false);
    });
  });
}

const CDN = 'https://cdn.example.test';

for (const uploadMethod of ['post', 'put'] as const) {
  describe(`media with an S3-compatible store, presigned ${uploadMethod.toUpperCase()}`, {
    skip: BACKENDS[0]!.skip,
  }, () => {
    let s3: S3Server;
    let bucket: string;
    let t: TestApp;
    let worker: RunningWorker;
    let dataDir: string;
    before(async () => {
      s3 = await startS3Server();
      dataDir = await mkdtemp(join(tmpdir(), 'bazaar-media-s3-'));
      ({ bucket } = await s3.store({ mediaBaseUrl: CDN, uploadMethod }));
      t = await startTestApp(BACKENDS[0]!, {
        DATA_DIR: dataDir,
        OBJECT_STORE: 's3',
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: bucket,
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
        S3_UPLOAD_METHOD: uploadMethod,
        MEDIA_BASE_URL: CDN,
      });
      worker = await startTestWorker(t);
    });
    after(async () => {
      await worker?.stop();
      await t?.close();
      await s3?.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    const signIn = (role: Role) => signInAs(t, role);
    const api: Api = (...args) => callApi(t, ...args);
    const product = (seller: Who) => publishedProduct(t, seller, 'Teapot', 3000, 2);

    async function requestUpload(seller: Who, productId: string, size: number): Promise<PhotoUpload> {
      const res = await api('POST', `/api/products/${productId}/photos`, seller, {
        contentType: 'image/jpeg',
        size,
      });
      assert.equal(res.statusCode, 201, res.body);
      const asked = res.json() as PhotoUpload;
      assert.equal(asked.upload.method, uploadMethod.toUpperCase());
      assert.ok(asked.upload.url.startsWith(`${s3.endpoint}/${bucket}`), asked.upload.url);
      return asked;
    }

    /** Sends the bytes straight to the bucket, as the browser does. */
    async function send(asked: PhotoUpload, bytes: Buffer): Promise<void> {
      const target = { ...asked.upload, expiresAt: new Date(asked.upload.expiresAt) };
      const sent = await sendUpload(target, s3.endpoint, bytes);
      assert.ok(sent.ok, `upload to the bucket: ${sent.status} ${await sent.text()}`);
    }

    async function photoOf(productId: string, seller: Who, photoId: string): Promise<Photo> {
      const res = await api('GET', `/api/products/${productId}/photos`, seller);
      const photo = (res.json() as { items: Photo[] }).items.find((p) => p.id === photoId);
      assert.ok(photo, res.body);
      return photo;
    }

    /** Uploads to the bucket, then `/complete` (twice: idempotent); returns the photo once processed. */
    async function uploadAndComplete(seller: Who, productId: string, asked: PhotoUpload, bytes: Buffer) {
      await send(asked, bytes);
      const done = await api('POST', `/api/photos/${asked.photoId}/complete`, seller);
      assert.equal(done.statusCode, 200, done.body);
      assert.equal((done.json() as Photo).status, 'processing');
      const again = await api('POST', `/api/photos/${asked.photoId}/complete`, seller);
      assert.equal(again.statusCode, 200, 'idempotent');
      await worker.drain();
      return photoOf(productId, seller, asked.photoId);
    }

    it('when a seller uploads to the bucket and completes, then the photo is ready on the product and in listings, its variants immutable in the bucket', async () => {
      const seller = await signIn('seller');
      const p = await product(seller);
      const jpeg = await photoJpeg(true);
      const asked = await requestUpload(seller, p.id, jpeg.length);

      const early = await api('POST', `/api/photos/${asked.photoId}/complete`, seller);
      assert.equal(early.statusCode, 409, early.body);
      assert.equal(early.json().code, 'UPLOAD_MISSING');
      const stranger = await signIn('seller');
      assert.equal((await api('POST', `/api/photos/${asked.photoId}/complete`, stranger)).statusCode, 403);

      const photo = await uploadAndComplete(seller, p.id, asked, jpeg);
      assert.equal(photo.status, 'ready', photo.failureReason ?? '');
      assert.deepEqual(
        photo.variants.map((v) => [v.width, v.height, v.format]),
        VARIANTS_OF_4_BY_3,
      );
      for (const v of photo.variants) {
        assert.match(v.url, /^https:\/\/cdn\.example\.test\/[0-9a-f]{32}-\d+w\.(webp|jpg)$/);
        const key = `media/${v.url.slice(CDN.length + 1)}`;
        const got = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        assert.equal(got.CacheControl, 'public, max-age=31536000, immutable', key);
        assert.equal(got.ContentType, v.format === 'webp' ? 'image/webp' : 'image/jpeg', key);
        const meta = await sharp(Buffer.from(await got.Body!.transformToByteArray())).metadata();
        assert.equal(meta.width, v.width, key);
        assert.equal(meta.format, v.format, key);
        assert.equal(meta.exif, undefined, `${key} has no EXIF (the source had GPS)`);
      }

      const detail = (await api('GET', `/api/products/${p.id}`)).json() as Product;
      assert.deepEqual(detail.photos, [{ id: asked.photoId, variants: photo.variants }]);
      const listing = (await api('GET', `/api/products?seller=${seller.userId}`)).json() as ProductPage;
      assert.deepEqual(listing.items[0]?.photo, { id: asked.photoId, variants: photo.variants });
      const buyer = await signIn('buyer');
      const seen = (await api('GET', `/api/products/${p.id}/photos`, buyer)).json() as { items: Photo[] };
      assert.deepEqual(
        seen.items.map((x) => [x.id, x.status, x.failureReason]),
        [[asked.photoId, 'ready', null]],
      );
    });

    it('when the bytes sent to the bucket are text, larger than declared or over 20 MB, then a 413 or a failed photo with the reason, never a 5xx', async () => {
      const seller = await signIn('seller');
      const p = await product(seller);
      const text = Buffer.from('just some text, not a picture\n'.repeat(20));
      const notImage = await uploadAndComplete(
        seller,
        p.id,
        await requestUpload(seller, p.id, text.length),
        text,
      );
      assert.equal(notImage.status, 'failed');
      assert.match(notImage.failureReason ?? '', /not an image/);

      // 25 MB sent to a target declared 1 MB: a presigned PUT cannot bound the size and s3rver
      // ignores POST policies (AWS S3 refuses such a POST with 400 EntityTooLarge), so /complete does.
      const big = Buffer.alloc(25 * MB, 1);
      big.set([0xff, 0xd8, 0xff, 0xe0]);
      const asked = await requestUpload(seller, p.id, 1 * MB);
      await send(asked, big);
      const refused = await api('POST', `/api/photos/${asked.photoId}/complete`, seller);
      assert.equal(refused.statusCode, 413, refused.body);
      assert.equal(refused.json().code, 'PAYLOAD_TOO_LARGE');
      assert.equal(await t.platform.objects.head(`uploads/${asked.photoId}`), null, 'the upload is removed');
      assert.equal((await photoOf(p.id, seller, asked.photoId)).status, 'awaiting_upload');

      // The same bytes signalled without /complete (AWS: bucket notification → SQS → objectCreated):
      // the job refuses them from their stored size.
      await send(asked, big);
      const media = createMediaService({ platform: t.platform });
      assert.equal(await media.objectCreated(`uploads/${asked.photoId}`), true);
      await worker.drain();
      const tooBig = await photoOf(p.id, seller, asked.photoId);
      assert.equal(tooBig.status, 'failed');
      assert.equal(tooBig.failureReason, 'the file is 25 MB; the limit is 20 MB');
      assert.deepEqual(tooBig.variants, []);

      assert.deepEqual(((await api('GET', `/api/products/${p.id}`)).json() as Product).photos, []);
    });
  });
}

describe('demo photos', { skip: BACKENDS[0]!.skip }, () => {
  it('when the demo seed adds photos, then the worker makes them ready through the same job, each its own picture, shown in listings and on the product', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'bazaar-media-seed-'));
    const t = await startTestApp(BACKENDS[0]!, { DATA_DIR: dataDir });
    const worker = await startTestWorker(t);
    try {
      const options = { products: 12, sellers: 2, buyers: 0, photos: 4 };
      const report = await seedDemo(t.platform, t.config, options);
      assert.equal(report.photosAdded, 4);
      await worker.drain();

      const listing = (
        await t.app.inject({ method: 'GET', url: '/api/products?limit=100' })
      ).json() as ProductPage;
      const shown = listing.items.filter((p) => p.photo !== null);
      assert.equal(shown.length, 4, 'four listed products show their first ready photo');
      const originals = new Set<string>();
      for (const item of shown) {
        const detail = (
          await t.app.inject({ method: 'GET', url: `/api/products/${item.id}` })
        ).json() as Product;
        assert.deepEqual(detail.photos, [item.photo]);
        assert.equal(detail.photos[0]!.variants.length, 6);
        const jpeg = detail.photos[0]!.variants.find((v) => v.format === 'jpeg' && v.width === 1200)!;
        const served = await t.app.inject({ method: 'GET', url: jpeg.url });
        assert.equal(served.statusCode, 200);
        assert.equal((await sharp(served.rawPayload).metadata()).width, 1200);
        originals.add(jpeg.url);
      }
      assert.equal(originals.size, 4, 'each product has its own generated picture');
      assert.equal((await seedDemo(t.platform, t.config, options)).photosAdded, 0, 'a second run adds none');
    } finally {
      await worker.stop();
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
