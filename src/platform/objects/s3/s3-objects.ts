/**
 * S3 objects adapter: one bucket of any S3-compatible server (AWS S3, MinIO, Ceph, R2…) through
 * @aws-sdk/client-s3. Keys are object keys as they are; public `media/` keys are meant to be
 * served by a CDN whose origin is this bucket with origin path `/media` (MEDIA_BASE_URL).
 *
 * Uploads (`signUpload`), chosen by `S3_UPLOAD_METHOD`:
 * - `post` (default): a presigned POST form whose signed policy carries
 *   `content-length-range 1..maxBytes`, `Content-Type` equal to the declared type, the key and
 *   the expiry. AWS S3 refuses anything else: the strongest bound S3 offers.
 * - `put`: a presigned PUT URL with `Content-Type` among the signed headers and `X-Amz-Expires`.
 *   S3 refuses another content type or a late request, but a presigned PUT **cannot bound the
 *   size** (it could only pin one exact Content-Length); check the size with `head` after the
 *   upload and delete what is too big. Use it with servers that lack POST uploads (R2).
 *
 * Limits: `put` reads a streamed body into memory first (S3 needs the length and the MD5 up
 * front): at most `maxPutBytes` (default 64 MiB); large uploads go through `signUpload`.
 * `list` uses ListObjects (v1, with Marker) and one HEAD per listed object (the listing carries
 * no content type). The ETag is S3's: the MD5 of the bytes for single-part uploads without
 * SSE-KMS; with SSE-KMS or multipart uploads it is still strong but no longer an MD5.
 * Failures of the server are AppError UNAVAILABLE naming the bucket, the operation and the key.
 */
import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AppError } from '../../../shared/errors.ts';
import {
  assertCacheControl,
  assertContentType,
  assertKey,
  assertPrefix,
  assertRange,
  assertUploadOptions,
  isValidKey,
  listLimit,
  mediaPublicUrl,
  quoteEtag,
} from '../object-checks.ts';
import type { ObjectInfo, ObjectStore, UploadTarget } from '../objects.ts';

export type S3ObjectsOptions = Readonly<{
  /** Built in platform.ts from S3_* settings (endpoint, region, path style, credentials). */
  client: S3Client;
  bucket: string;
  /** `MEDIA_BASE_URL`. */
  mediaBaseUrl: string;
  uploadMethod?: 'post' | 'put';
  maxPutBytes?: number;
  now?: () => number;
}>;

const HEAD_CONCURRENCY = 16;

export function createS3Objects(options: S3ObjectsOptions): ObjectStore {
  const { client, bucket, mediaBaseUrl, uploadMethod = 'post', maxPutBytes = 64 * 1024 ** 2 } = options;
  const now = options.now ?? Date.now;

  const unavailable = (operation: string, key: string, err: unknown): AppError =>
    new AppError(
      'UNAVAILABLE',
      `S3 ${operation} of "${key}" in bucket "${bucket}" failed: ${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`,
      { cause: err },
    );

  async function head(key: string): Promise<ObjectInfo | null> {
    assertKey(key);
    try {
      const res = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return toInfo(key, res.ContentLength ?? 0, res.ContentType, res.ETag, res.LastModified);
    } catch (err) {
      if (status(err) === 404) return null;
      throw unavailable('HEAD', key, err);
    }
  }

  return {
    async put(key, body, { contentType, cacheControl }) {
      assertKey(key);
      assertContentType(contentType);
      assertCacheControl(cacheControl);
      const bytes = Buffer.isBuffer(body) ? body : await readAll(body, maxPutBytes);
      if (bytes.length > maxPutBytes) throw new RangeError(`body larger than ${maxPutBytes} bytes`);
      const md5 = createHash('md5').update(bytes).digest();
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: bytes,
            ContentLength: bytes.length,
            ContentMD5: md5.toString('base64'),
            ContentType: contentType,
            ...(cacheControl ? { CacheControl: cacheControl } : {}),
          }),
        );
      } catch (err) {
        throw unavailable('PUT', key, err);
      }
      return (
        (await head(key)) ??
        toInfo(key, bytes.length, contentType, quoteEtag(md5.toString('hex')), new Date())
      );
    },

    async get(key, options = {}) {
      assertKey(key);
      assertRange(options.range);
      const { range } = options;
      try {
        const res = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: key,
            ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
          }),
        );
        const served = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.ContentRange ?? '');
        const size = served ? Number(served[3]) : (res.ContentLength ?? 0);
        const info = toInfo(key, size, res.ContentType, res.ETag, res.LastModified);
        const body = res.Body as Readable;
        if (!range) return { info, body };
        // A server may answer more than asked (the whole object, or a wider range): cut it to size.
        const from = served ? Number(served[1]) : 0;
        const end = Math.min(range.end ?? size - 1, size - 1);
        if (from === range.start && (served ? Number(served[2]) : size - 1) === end) return { info, body };
        if (from > range.start) throw new Error(`S3 answered bytes from ${from}, not ${range.start}`);
        return { info, body: body.pipe(slice(range.start - from, end - range.start + 1)) };
      } catch (err) {
        if (status(err) === 404) return null;
        if (status(err) === 416) {
          throw new RangeError(`range start ${range?.start} is past the end of "${key}"`, { cause: err });
        }
        throw unavailable('GET', key, err);
      }
    },

    head,

    async delete(key) {
      assertKey(key);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (err) {
        if (status(err) === 404) return;
        throw unavailable('DELETE', key, err);
      }
    },

    async list(prefix, options = {}) {
      assertPrefix(prefix);
      const limit = listLimit(options.limit);
      const keys: string[] = [];
      // ListObjects v1: Marker is "start after"; v2's continuation tokens are not needed.
      let marker = options.after ?? '';
      for (;;) {
        let res: Awaited<ReturnType<typeof listPage>>;
        try {
          res = await listPage(marker, limit - keys.length);
        } catch (err) {
          throw unavailable('LIST', prefix, err);
        }
        const page = (res.Contents ?? []).map((c) => c.Key ?? '').filter((k) => k > marker);
        keys.push(...page.filter(isValidKey));
        if (!res.IsTruncated || page.length === 0 || keys.length >= limit) break;
        marker = page[page.length - 1]!;
      }
      const infos: (ObjectInfo | null)[] = [];
      for (let i = 0; i < keys.length && i < limit; i += HEAD_CONCURRENCY) {
        infos.push(...(await Promise.all(keys.slice(i, Math.min(i + HEAD_CONCURRENCY, limit)).map(head))));
      }
      return infos.filter((x): x is ObjectInfo => x !== null);

      function listPage(after: string, max: number) {
        return client.send(
          new ListObjectsCommand({
            Bucket: bucket,
            Prefix: prefix,
            MaxKeys: Math.min(max, 1000),
            ...(after ? { Marker: after } : {}),
          }),
        );
      }
    },

    async signUpload(key, { contentType, maxBytes, expiresInSeconds }): Promise<UploadTarget> {
      assertKey(key);
      assertUploadOptions({ contentType, maxBytes, expiresInSeconds });
      const expiresAt = new Date(now() + expiresInSeconds * 1000);
      try {
        if (uploadMethod === 'put') {
          const url = await getSignedUrl(
            client,
            new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: contentType }),
            { expiresIn: expiresInSeconds, signableHeaders: new Set(['content-type']) },
          );
          return { method: 'PUT', url, headers: { 'Content-Type': contentType }, expiresAt };
        }
        const post = await createPresignedPost(client, {
          Bucket: bucket,
          Key: key,
          Conditions: [
            ['content-length-range', 1, maxBytes],
            ['eq', '$Content-Type', contentType],
          ],
          Fields: { 'Content-Type': contentType },
          Expires: expiresInSeconds,
        });
        return { method: 'POST', url: post.url, fields: post.fields, expiresAt };
      } catch (err) {
        throw unavailable('sign upload', key, err);
      }
    },

    publicUrl: (key) => mediaPublicUrl(mediaBaseUrl, key),
  };
}

function toInfo(
  key: string,
  size: number,
  contentType: string | undefined,
  etag: string | undefined,
  lastModified: Date | undefined,
): ObjectInfo {
  return Object.freeze({
    key,
    size,
    contentType: contentType ?? 'application/octet-stream',
    etag: etag ?? '""',
    lastModified: lastModified ?? new Date(0),
  });
}

const status = (err: unknown): number | undefined =>
  (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

/** Drops the first `skip` bytes, passes `take` bytes, ignores the rest. */
function slice(skip: number, take: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const start = Math.min(skip, chunk.length);
      skip -= start;
      const part = chunk.subarray(start, start + take);
      take -= part.length;
      done(null, part.length > 0 ? part : undefined);
    },
  });
}

async function readAll(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    if (size > max) {
      body.destroy();
      throw new RangeError(`body larger than ${max} bytes; upload it through signUpload instead`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export type S3ClientSettings = Readonly<{
  /** Any S3-compatible endpoint (`http://127.0.0.1:9000`); undefined: AWS's endpoint for the region. */
  endpoint: string | undefined;
  region: string;
  /** `http://host/bucket/key` instead of `http://bucket.host/key` (MinIO, s3rver and most self-hosted servers). */
  forcePathStyle: boolean;
  /** Both or neither; neither: the AWS default chain (environment, profile, ECS/EC2 role). */
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
}>;

/**
 * The S3 client for `createS3Objects`. Checksums only when an operation requires them: the SDK's
 * default (a CRC32 on every request) puts the checksum of an empty body into presigned URLs,
 * which then refuse every real upload, and many S3-compatible servers do not know the headers.
 */
export function createS3Client(settings: S3ClientSettings): S3Client {
  return new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.accessKeyId && settings.secretAccessKey
      ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
      : {}),
  });
}
