/**
 * The objects port at the HTTP edge:
 *
 * - `PUT /uploads/<token>` receives a browser's direct upload for the local adapter. The token
 *   (platform/objects/local/upload-tokens.ts) names the key, content type, size bound and
 *   expiry. Tampered or expired: 403 `UPLOAD_URL_INVALID`; another Content-Type: 415; a body
 *   larger than the bound: 413 (refused from Content-Length before reading, else counted while
 *   streaming to the store and cut off). The body streams to `objects.put`, which keeps nothing
 *   of a failed body; then `onUploaded(key, info)` (the object-created signal) runs, and its
 *   failure is the request's failure, so the client retries the same URL. Any holder of an
 *   unexpired token may upload again; the object is replaced. Only this route's scope parses
 *   raw bodies: the rest of the API stays JSON-only.
 * - `GET|HEAD /media/<path>` serves the object `media/<path>`: `Cache-Control: public,
 *   max-age=31536000, immutable` (media keys are content-addressed, never rewritten), strong
 *   ETag and 304 on `If-None-Match`, one byte range (`bytes=a-b`, `a-`, `-n`; 206, or 416 when
 *   unsatisfiable; several ranges or a stale `If-Range` get the whole object), 404 problem for
 *   anything else, including every key the port refuses (`..`, encoded slashes, NUL…). With a
 *   CDN in MEDIA_BASE_URL this route receives no traffic.
 */
import { pipeline, Transform } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { UploadTokens } from '../platform/objects/local/upload-tokens.ts';
import { isValidKey, PUBLIC_PREFIX } from '../platform/objects/object-checks.ts';
import type { ObjectInfo, ObjectStore } from '../platform/objects/objects.ts';
import { AppError } from '../shared/errors.ts';
import type { ApiApp } from './api-app.ts';

export type ObjectRoutesOptions = Readonly<{
  objects: ObjectStore;
  /** Verifier of the local adapter's upload URLs; without it there is no `/uploads` route (S3 uploads go to the bucket). */
  uploadTokens?: UploadTokens | undefined;
  /** The object-created signal: runs after an upload is stored, before the response. */
  onUploaded?: ((key: string, info: ObjectInfo) => unknown) | undefined;
}>;

export const MEDIA_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export async function registerObjectRoutes(app: ApiApp, options: ObjectRoutesOptions): Promise<void> {
  const { objects, uploadTokens, onUploaded } = options;

  app.route({
    method: ['GET', 'HEAD'],
    url: '/media/*',
    schema: { hide: true },
    handler: async (request, reply) => {
      const key = PUBLIC_PREFIX + (request.params as { '*': string })['*'];
      const notFound = new AppError('NOT_FOUND', 'no such media');
      if (!isValidKey(key)) throw notFound;
      const info = await objects.head(key);
      if (!info) throw notFound;

      reply.header('cache-control', MEDIA_CACHE_CONTROL);
      reply.header('etag', info.etag);
      reply.header('last-modified', info.lastModified.toUTCString());
      reply.header('accept-ranges', 'bytes');
      if (matchesAny(request.headers['if-none-match'], info.etag)) return reply.code(304).send();

      const ifRange = request.headers['if-range'];
      const range =
        ifRange === undefined || ifRange === info.etag
          ? parseRange(request.headers.range, info.size)
          : undefined;
      if (range === 'unsatisfiable') {
        reply.header('content-range', `bytes */${info.size}`);
        throw new AppError('RANGE_NOT_SATISFIABLE', `the object has ${info.size} bytes`);
      }
      reply.header('content-type', info.contentType);
      reply.header('content-security-policy', "default-src 'none'; sandbox");
      if (range) {
        reply.code(206);
        reply.header('content-range', `bytes ${range.start}-${range.end}/${info.size}`);
      }
      const length = range ? range.end - range.start + 1 : info.size;
      reply.header('content-length', String(length));
      if (request.method === 'HEAD' || length === 0) return reply.send();
      const got = await objects.get(key, range ? { range } : {});
      if (!got) throw notFound;
      return reply.send(got.body);
    },
  });

  if (!uploadTokens) return;

  await app.register(async (scope) => {
    // Raw bodies here only: the handler streams request.raw itself, so no parser reads it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));

    scope.put('/uploads/*', { schema: { hide: true } }, async (request, reply) => {
      const grant = uploadTokens.verify((request.params as { '*': string })['*']);
      if (!grant) {
        closeAfter(reply);
        throw new AppError(
          'UPLOAD_URL_INVALID',
          'this upload URL is invalid or has expired; ask for a new one',
        );
      }
      const declared = request.headers['content-type'];
      if (declared === undefined || mediaType(declared) !== mediaType(grant.contentType)) {
        closeAfter(reply);
        throw new AppError(
          'UNSUPPORTED_MEDIA_TYPE',
          `this upload URL accepts only Content-Type: ${grant.contentType}`,
        );
      }
      const tooLarge = () => {
        closeAfter(reply);
        return new AppError('PAYLOAD_TOO_LARGE', `this upload URL accepts at most ${grant.maxBytes} bytes`);
      };
      const declaredLength = Number(request.headers['content-length'] ?? 0);
      if (declaredLength > grant.maxBytes) throw tooLarge();

      let received = 0;
      const limit = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          received += chunk.length;
          done(received > grant.maxBytes ? tooLarge() : null, chunk);
        },
      });
      const body = pipeline(request.raw, limit, () => {});
      const info = await objects.put(grant.key, body, { contentType: grant.contentType });
      if (info.size === 0) {
        await objects.delete(grant.key);
        throw new AppError('INVALID_INPUT', 'the upload is empty');
      }
      await onUploaded?.(grant.key, info);
      reply.header('etag', info.etag);
      return { key: info.key, size: info.size, contentType: info.contentType, etag: info.etag };
    });
  });
}

/** `If-None-Match`: `*` or a list of (weak or strong) tags; weak comparison, as RFC 9110 asks. */
export function matchesAny(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** One range of `bytes=`; undefined (serve all) for no, malformed or multiple ranges. */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) };
}

const mediaType = (value: string): string => value.split(';')[0]!.trim().toLowerCase();

/** Do not read the rest of a body we refuse: answer, then close the connection. */
function closeAfter(reply: FastifyReply): void {
  reply.header('connection', 'close');
}
