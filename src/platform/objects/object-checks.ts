/**
 * Checks every objects adapter applies the same way, before any I/O: each failure is a
 * RangeError naming what is wrong. Also the key ↔ public URL mapping of MEDIA_BASE_URL.
 */

export const OBJECT_LIMITS = {
  keyMaxChars: 512,
  /** Per `/`-separated segment: a file name on the local disk (and on file-backed S3 servers). */
  segmentMaxChars: 200,
  listMax: 1000,
  /** S3's limit for one PUT; uploads beyond it need multipart, which the port does not offer. */
  uploadMaxBytes: 5 * 1024 ** 3,
  /** S3's limit for a presigned URL. */
  uploadMaxSeconds: 604_800,
  headerValueMaxChars: 200,
} as const;

/** Public keys live under this prefix; `GET /media/*` and the CDN serve only these. */
export const PUBLIC_PREFIX = 'media/';

const KEY = /^[A-Za-z0-9._/-]+$/;

export function isValidKey(key: unknown): key is string {
  return (
    typeof key === 'string' &&
    key.length >= 1 &&
    key.length <= OBJECT_LIMITS.keyMaxChars &&
    KEY.test(key) &&
    !key.includes('..') &&
    key
      .split('/')
      .every(
        (segment) => segment !== '' && segment !== '.' && segment.length <= OBJECT_LIMITS.segmentMaxChars,
      )
  );
}

export function assertKey(key: unknown): asserts key is string {
  if (!isValidKey(key)) {
    throw new RangeError(
      `invalid object key ${JSON.stringify(String(key).slice(0, 80))}: 1..512 characters of A-Z a-z 0-9 . _ / -, ` +
        'no "..", no leading, trailing or doubled "/", no "." segment, segments of at most 200',
    );
  }
}

/** A prefix may be empty or end in `/`; otherwise it follows the key rules. */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (prefix === '') return;
  if (typeof prefix !== 'string' || !isValidKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix)) {
    throw new RangeError(`invalid object key prefix ${JSON.stringify(String(prefix).slice(0, 80))}`);
  }
}

const MEDIA_TYPE =
  /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*(\s*;\s*[a-z0-9_.+-]+=("[^"\r\n]*"|[a-z0-9_.+-]+))*$/i;

export function assertContentType(contentType: unknown): asserts contentType is string {
  if (
    typeof contentType !== 'string' ||
    contentType.length > OBJECT_LIMITS.headerValueMaxChars ||
    !MEDIA_TYPE.test(contentType)
  ) {
    throw new RangeError(
      `invalid content type ${JSON.stringify(String(contentType).slice(0, 80))}: expected a media type such as image/jpeg`,
    );
  }
}

export function assertCacheControl(value: unknown): void {
  if (value === undefined) return;
  if (
    typeof value !== 'string' ||
    value.length > OBJECT_LIMITS.headerValueMaxChars ||
    !/^[\x20-\x7e]+$/.test(value)
  ) {
    throw new RangeError('invalid cache control: 1..200 printable ASCII characters');
  }
}

export function listLimit(limit: number | undefined): number {
  if (limit === undefined) return OBJECT_LIMITS.listMax;
  if (!Number.isInteger(limit) || limit < 1 || limit > OBJECT_LIMITS.listMax) {
    throw new RangeError(`list limit must be a whole number from 1 to ${OBJECT_LIMITS.listMax}`);
  }
  return limit;
}

export function assertRange(range: { start: number; end?: number } | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0)
    throw new RangeError('range start must be a whole number ≥ 0');
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw new RangeError('range end must be a whole number ≥ start');
  }
}

export function assertUploadOptions(options: {
  contentType: string;
  maxBytes: number;
  expiresInSeconds: number;
}): void {
  assertContentType(options.contentType);
  if (
    !Number.isSafeInteger(options.maxBytes) ||
    options.maxBytes < 1 ||
    options.maxBytes > OBJECT_LIMITS.uploadMaxBytes
  ) {
    throw new RangeError(`maxBytes must be a whole number from 1 to ${OBJECT_LIMITS.uploadMaxBytes}`);
  }
  if (
    !Number.isSafeInteger(options.expiresInSeconds) ||
    options.expiresInSeconds < 1 ||
    options.expiresInSeconds > OBJECT_LIMITS.uploadMaxSeconds
  ) {
    throw new RangeError(
      `expiresInSeconds must be a whole number from 1 to ${OBJECT_LIMITS.uploadMaxSeconds}`,
    );
  }
}

/**
 * `media/p/abc.webp` → `${base}/p/abc.webp`. With the default base `/media` that is the app's
 * own route; with a CDN domain the CDN's origin is the bucket with origin path `/media`, so the
 * same suffix finds the same key and the app serves no media bytes.
 */
export function mediaPublicUrl(baseUrl: string, key: string): string {
  assertKey(key);
  if (!key.startsWith(PUBLIC_PREFIX)) {
    throw new RangeError(`object key "${key}" is not public: only keys under "${PUBLIC_PREFIX}" have a URL`);
  }
  return `${baseUrl.replace(/\/+$/, '')}/${key.slice(PUBLIC_PREFIX.length)}`;
}

export const quoteEtag = (md5Hex: string): string => `"${md5Hex}"`;
