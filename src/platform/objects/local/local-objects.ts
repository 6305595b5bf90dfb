/**
 * Local objects adapter (solo): one file per object under a directory (`DATA_DIR/objects`).
 * Key `media/p/a.webp` is the file `media/p/a.webp~obj`; `~` never occurs in a key, so a key
 * and the "directory" of longer keys (`a` and `a/b`) never collide, and the temporary folder
 * `~tmp/` is never a key. Each file starts with a 1 KiB JSON header (content type, cache control,
 * etag = MD5 of the bytes, size, time) padded with spaces, then the bytes: object and metadata
 * are one file, so a put is one rename (written aside in `~tmp/`, fsynced, renamed into place)
 * and a reader holding the file open keeps reading the version it opened even while a put
 * replaces it. A failing body leaves nothing behind but its temporary file's removal.
 *
 * Uploads: `signUpload` returns `PUT /uploads/<token>` on our own API (upload-tokens.ts); the
 * route (src/http/media-serving.ts) enforces content type, size and expiry, then calls `put`.
 *
 * Limits: local disk belongs to one machine, so this is for one web process (solo), not a web
 * fleet; `list` walks the directory under the prefix and sorts in memory (fine for thousands
 * of objects, not millions); empty directories are pruned on delete, best effort.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertCacheControl,
  assertContentType,
  assertKey,
  assertPrefix,
  assertRange,
  assertUploadOptions,
  listLimit,
  mediaPublicUrl,
  quoteEtag,
} from '../object-checks.ts';
import type { ObjectInfo, ObjectStore, UploadTarget } from '../objects.ts';
import type { UploadTokens } from './upload-tokens.ts';

export type LocalObjectsOptions = Readonly<{
  /** The store's root, e.g. `DATA_DIR/objects` (created on first put). */
  dir: string;
  /** Signs the `/uploads/<token>` targets; the upload route verifies with the same secret. */
  tokens: UploadTokens;
  /** `MEDIA_BASE_URL`: `/media` or a CDN origin. */
  mediaBaseUrl: string;
  /** Path of the upload route, relative to the API origin. */
  uploadPath?: string;
  now?: () => number;
}>;

const SUFFIX = '~obj';
const TMP = '~tmp';
const HEADER = 1024;

type Header = {
  v: 1;
  contentType: string;
  cacheControl?: string;
  etag: string;
  size: number;
  lastModified: number;
};

export function createLocalObjects(options: LocalObjectsOptions): ObjectStore {
  const root = resolve(options.dir);
  const { tokens, mediaBaseUrl, uploadPath = '/uploads', now = Date.now } = options;

  function pathOf(key: string): string {
    assertKey(key);
    const path = join(root, `${key}${SUFFIX}`);
    if (!path.startsWith(root + sep)) throw new RangeError(`object key "${key}" leaves the store`);
    return path;
  }

  async function openObject(key: string): Promise<{ fh: FileHandle; info: ObjectInfo } | null> {
    let fh: FileHandle;
    try {
      fh = await open(pathOf(key), 'r');
    } catch (err) {
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return null;
      throw err;
    }
    try {
      return { fh, info: await readHeader(fh, key) };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async function commit(tmp: string, target: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(dirname(target), { recursive: true });
        await rename(tmp, target);
        return;
      } catch (err) {
        // A concurrent delete may prune the parent between mkdir and rename.
        if (!isCode(err, 'ENOENT') || attempt >= 3) throw err;
      }
    }
  }

  async function head(key: string): Promise<ObjectInfo | null> {
    const opened = await openObject(key);
    if (!opened) return null;
    await opened.fh.close();
    return opened.info;
  }

  return {
    async put(key, body, { contentType, cacheControl }) {
      const target = pathOf(key);
      assertContentType(contentType);
      assertCacheControl(cacheControl);
      const tmp = join(root, TMP, `${randomUUID()}.part`);
      await mkdir(dirname(tmp), { recursive: true });
      try {
        await writeFile(tmp, Buffer.alloc(HEADER, 0x20), { flag: 'wx' });
        const hash = createHash('md5');
        let size = 0;
        const measure = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        });
        const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
        await pipeline(source, measure, createWriteStream(tmp, { flags: 'r+', start: HEADER }));
        const header: Header = {
          v: 1,
          contentType,
          ...(cacheControl ? { cacheControl } : {}),
          etag: quoteEtag(hash.digest('hex')),
          size,
          lastModified: now(),
        };
        const fh = await open(tmp, 'r+');
        try {
          await fh.write(encodeHeader(header), 0, HEADER, 0);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await commit(tmp, target);
        return toInfo(key, header);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },

    async get(key, options = {}) {
      assertRange(options.range);
      const opened = await openObject(key);
      if (!opened) return null;
      const { fh, info } = opened;
      const start = options.range?.start ?? 0;
      const end = Math.min(options.range?.end ?? info.size - 1, info.size - 1);
      if (options.range && start >= info.size) {
        await fh.close();
        throw new RangeError(`range start ${start} is past the end of "${key}" (${info.size} bytes)`);
      }
      if (end < start) {
        await fh.close();
        return { info, body: Readable.from([]) };
      }
      return { info, body: fh.createReadStream({ start: HEADER + start, end: HEADER + end }) };
    },

    head,

    async delete(key) {
      const path = pathOf(key);
      await rm(path, { force: true });
      for (let dir = dirname(path); dir.startsWith(root + sep); dir = dirname(dir)) {
        try {
          await rmdir(dir);
        } catch {
          break; // not empty (or already gone): stop pruning
        }
      }
    },

    async list(prefix, options = {}) {
      assertPrefix(prefix);
      const limit = listLimit(options.limit);
      const after = options.after ?? '';
      const slash = prefix.lastIndexOf('/');
      const keys: string[] = [];
      await walk(root, slash >= 0 ? prefix.slice(0, slash + 1) : '', prefix, keys);
      const page = keys.filter((k) => k > after).sort(compareKeys);
      const infos: ObjectInfo[] = [];
      for (const key of page) {
        if (infos.length >= limit) break;
        const info = await head(key); // gone since the walk: skipped
        if (info) infos.push(info);
      }
      return infos;
    },

    async signUpload(key, { contentType, maxBytes, expiresInSeconds }): Promise<UploadTarget> {
      assertKey(key);
      assertUploadOptions({ contentType, maxBytes, expiresInSeconds });
      const expiresAt = new Date(now() + expiresInSeconds * 1000);
      const token = tokens.sign({ key, contentType, maxBytes, expiresAt });
      return {
        method: 'PUT',
        url: `${uploadPath}/${token}`,
        headers: { 'Content-Type': contentType },
        expiresAt,
      };
    },

    publicUrl: (key) => mediaPublicUrl(mediaBaseUrl, key),
  };
}

/** Collects every key under `dirKey` (`''` or ending in `/`) that starts with `prefix`. */
async function walk(root: string, dirKey: string, prefix: string, out: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(join(root, dirKey), { withFileTypes: true });
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return;
    throw err;
  }
  for (const entry of entries) {
    if (entry.isDirectory()) {
      if (entry.name.includes('~')) continue;
      const sub = `${dirKey}${entry.name}/`;
      if (sub.startsWith(prefix) || prefix.startsWith(sub)) await walk(root, sub, prefix, out);
    } else if (entry.isFile() && entry.name.endsWith(SUFFIX)) {
      const key = dirKey + entry.name.slice(0, -SUFFIX.length);
      if (key.startsWith(prefix) && !key.includes('~')) out.push(key);
    }
  }
}

/** Keys are ASCII, so UTF-16 order is byte order; spelled out so nobody "fixes" it to localeCompare. */
const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function encodeHeader(header: Header): Buffer {
  const json = JSON.stringify(header);
  if (Buffer.byteLength(json) > HEADER - 1) throw new RangeError('object metadata too large');
  return Buffer.from(json.padEnd(HEADER - 1, ' ') + '\n');
}

async function readHeader(fh: FileHandle, key: string): Promise<ObjectInfo> {
  const buffer = Buffer.alloc(HEADER);
  const { bytesRead } = await fh.read(buffer, 0, HEADER, 0);
  let header: Header;
  try {
    header = JSON.parse(buffer.subarray(0, bytesRead).toString('utf8')) as Header;
  } catch (err) {
    throw new Error(`object file of "${key}" has no valid header`, { cause: err });
  }
  if (bytesRead !== HEADER || header.v !== 1) throw new Error(`object file of "${key}" has no valid header`);
  return toInfo(key, header);
}

const toInfo = (key: string, h: Header): ObjectInfo =>
  Object.freeze({
    key,
    size: h.size,
    contentType: h.contentType,
    etag: h.etag,
    lastModified: new Date(h.lastModified),
  });

const isCode = (err: unknown, code: string): boolean => (err as NodeJS.ErrnoException)?.code === code;
