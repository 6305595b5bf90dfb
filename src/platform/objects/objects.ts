/**
 * Objects port: named blobs (photos and their variants) in a flat key space, streamed in and
 * out, plus upload targets a browser can send bytes to directly (the upload never passes
 * through business logic) and the public URL of a key. Adapters: `local/` (a directory under
 * DATA_DIR/objects; uploads go to a signed route of our own API), `s3/` (any S3-compatible
 * server; uploads go straight to the bucket). Chosen by `OBJECT_STORE` in platform.ts.
 *
 * Keys: 1..512 characters of `[A-Za-z0-9._/-]`, no `..`, no leading `/`, no empty or `.`
 * segment (`a//b`, `a/./b`, trailing `/`), at most 200 characters between slashes (a segment
 * is a file name on the local disk); anything else is a RangeError before any I/O
 * (`object-checks.ts`). Only keys under `media/` are public (served by `GET /media/*` and by
 * the CDN); everything else (e.g. uploaded originals) is private.
 */
import type { Readable } from 'node:stream';

export type ObjectInfo = Readonly<{
  key: string;
  /** Bytes of the whole object (also when a range was read). */
  size: number;
  /** As given to `put` or to the upload target, e.g. `image/webp`. */
  contentType: string;
  /** Strong ETag with its quotes, `"<md5 hex>"`: the same bytes always give the same etag. */
  etag: string;
  lastModified: Date;
}>;

export type UploadTarget = Readonly<{
  /** PUT: send the raw bytes with `headers`. POST: a multipart form of `fields`, then the file as the last field `file`. */
  method: 'PUT' | 'POST';
  /** Absolute for S3; relative to the API's origin (`/uploads/<token>`) for the local adapter. */
  url: string;
  /** Headers the request must carry exactly (Content-Type for PUT). */
  headers?: Record<string, string>;
  /** Form fields of a POST, in order, before the file. */
  fields?: Record<string, string>;
  /** The target is refused after this instant. */
  expiresAt: Date;
}>;

export interface ObjectStore {
  /** Stores `body` under `key` (replacing any object there) atomically: readers see the old or the new object, never part of one; a failing body stores nothing. */
  put(
    key: string,
    body: Readable | Buffer,
    options: { contentType: string; cacheControl?: string },
  ): Promise<ObjectInfo>;
  /** The object's info and bytes (`range`: inclusive byte offsets, `end` clamped to the last byte; `start` past the end is a RangeError); null when absent. Consume or destroy `body`. */
  get(
    key: string,
    options?: { range?: { start: number; end?: number } },
  ): Promise<{ info: ObjectInfo; body: Readable } | null>;
  /** The object's info without its bytes; null when absent. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Removes the object; absent keys are fine (idempotent). */
  delete(key: string): Promise<void>;
  /** Objects whose key starts with `prefix`, in key order (bytewise), after the key `after` when given, at most `limit` (1..1000, default 1000). */
  list(prefix: string, options?: { limit?: number; after?: string }): Promise<ObjectInfo[]>;
  /** A short-lived target for one upload to `key`, bound to `contentType`, `maxBytes` (1..5 GiB; how strictly depends on the adapter) and `expiresInSeconds` (1..604800). */
  signUpload(
    key: string,
    options: { contentType: string; maxBytes: number; expiresInSeconds: number },
  ): Promise<UploadTarget>;
  /** The public URL of a `media/` key: `${MEDIA_BASE_URL}/${key without "media/"}`; other keys are a RangeError. */
  publicUrl(key: string): string;
}
