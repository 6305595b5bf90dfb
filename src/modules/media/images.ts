/**
 * Image processing for product photos: pure functions over bytes (no database, no HTTP, no
 * objects port). The media job fetches an upload, asks `inspectImage` whether it may be
 * processed, then stores the outputs of `makeVariants` under `variantKey`.
 *
 * - **What is accepted** is decided from the bytes, never from a declared type or file name:
 *   JPEG, PNG, WebP, GIF and AVIF, recognised by their signatures before sharp sees them, so
 *   sharp's other loaders (SVG, TIFF, PDF, HEIC…) are never reached with seller input.
 * - **Decompression bombs** are refused from the header (width x height over `maxPixels`)
 *   before any pixel is decoded; sharp's `limitInputPixels` is set to the same limit behind it.
 * - **Damaged files** (truncated, corrupt) are found by decoding with `failOn: 'error'`: decoder
 *   errors and truncation refuse, mere warnings (e.g. extraneous bytes in a camera JPEG, which
 *   browsers show) do not.
 * - Refusals are sentences a seller can read, starting "the file is…" or "the image is…".
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import sharp, { type Metadata, type OutputInfo, type SharpOptions } from 'sharp';
import { AppError } from '../../shared/errors.ts';

/** Target widths in pixels, smallest first. A narrower source caps them (see `makeVariants`). */
export const VARIANT_WIDTHS = [160, 480, 1200] as const;
/** Output formats of every width; WebP first (smaller), JPEG as the universal fallback. */
export const VARIANT_FORMATS = ['webp', 'jpeg'] as const;

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif';

export type ImageVariant = {
  width: number;
  height: number;
  format: (typeof VARIANT_FORMATS)[number];
  bytes: Buffer;
  contentType: string;
  /** sha256 of `bytes`, lowercase hex. */
  hash: string;
};

export type ImageInspection =
  | { ok: true; format: ImageFormat; width: number; height: number }
  | { ok: false; reason: string };

/** Default pixel limit of `makeVariants` (40 megapixels: a 7,746 x 5,164 photo). */
export const DEFAULT_MAX_PIXELS = 40_000_000;

/**
 * Encoder settings, fixed so that the same input always gives the same bytes. JPEG: quality 82,
 * progressive (the 1200 px variant paints early), 4:2:0, optimised Huffman tables, no mozjpeg
 * (trellis quantisation costs about 3x the encode time for about 10% fewer bytes). WebP:
 * quality 80, effort 4 (libwebp's default balance of speed and size).
 */
export const VARIANT_ENCODING = {
  jpeg: { quality: 82, progressive: true, optimiseCoding: true },
  webp: { quality: 80, effort: 4 },
} as const;
const CONTENT_TYPES = { webp: 'image/webp', jpeg: 'image/jpeg' } as const;
const EXTENSIONS = { webp: 'webp', jpeg: 'jpg' } as const;
const WHITE = { r: 255, g: 255, b: 255 };

const ACCEPTED = 'JPEG, PNG, WebP, GIF or AVIF';
const NOT_AN_IMAGE = `the file is not an image in a format we accept (${ACCEPTED})`;
const DAMAGED =
  'the image is damaged or incomplete and cannot be read; please upload the original file again';

/**
 * Inspects an upload without trusting its declared type: size, signature, header dimensions,
 * then a decode of the pixels (JPEG and WebP decode at reduced scale, so this costs a few
 * milliseconds per photo) to find truncated or corrupt files. A stream is read up to
 * `maxBytes` + 1 bytes and destroyed if longer. Never throws for bad input; `reason` is a
 * sentence for the seller.
 */
export async function inspectImage(
  input: Buffer | Readable,
  limits: { maxPixels: number; maxBytes: number },
): Promise<ImageInspection> {
  const bytes = Buffer.isBuffer(input) ? input : await readAtMost(input, limits.maxBytes);
  if (bytes === null) {
    return { ok: false, reason: `the file is larger than ${megabytes(limits.maxBytes)}, the limit` };
  }
  if (bytes.length > limits.maxBytes)
    return { ok: false, reason: tooLargeReason(bytes.length, limits.maxBytes) };
  try {
    const header = await readHeader(bytes, limits.maxPixels);
    await sharp(bytes, decodeOptions(limits.maxPixels))
      .resize({ width: 64, height: 64, fit: 'inside' })
      .raw()
      .toBuffer();
    return { ok: true, ...header };
  } catch (error) {
    if (error instanceof AppError) return { ok: false, reason: error.message };
    return { ok: false, reason: DAMAGED };
  }
}

/** The seller's reason for a file of `size` bytes over `maxBytes`: `the file is 25 MB; the limit is 20 MB`. */
export function tooLargeReason(size: number, maxBytes: number): string {
  return `the file is ${megabytes(size)}; the limit is ${megabytes(maxBytes)}`;
}

/**
 * Makes the variants of an image: every width of `VARIANT_WIDTHS` in every format of
 * `VARIANT_FORMATS`, ordered by width then format.
 *
 * - **Never enlarges; caps and deduplicates.** Each output is `min(target, source width)` wide
 *   (after orientation); targets that collapse to the same width give one output. A 300 px wide
 *   source gives 160 and 300; a 100 px one gives 100 only; anything 1200 px or wider gives all
 *   six. Heights keep the aspect ratio.
 * - **Upright and anonymous.** Rotated/flipped per the EXIF orientation, then written with no
 *   metadata at all: no EXIF (GPS, camera, dates), XMP, IPTC, comments or ICC profile. Colours
 *   are converted to sRGB first (embedded profiles honoured, CMYK converted), so pixels look
 *   the same without a profile. Animated GIF/WebP keep their first frame.
 * - **Alpha.** WebP keeps transparency; JPEG is flattened on white.
 * - **Deterministic.** The same input gives the same bytes (fixed encoder settings, no
 *   timestamps), so keys from `variantKey` are stable across retries and workers.
 * - **Decoded once.** One pipeline decodes the source (JPEG/WebP shrink-on-load when the source
 *   is at least twice the largest width), orients and scales it to the largest output width into
 *   memory; every output is resized and encoded from that, in parallel on libuv's pool with
 *   sharp's default libvips concurrency.
 *
 * Throws AppError `INVALID_INPUT` with a seller-readable message when the input is refused
 * (same rules as `inspectImage`, without its byte limit).
 */
export async function makeVariants(
  input: Buffer,
  options: { maxPixels?: number } = {},
): Promise<ImageVariant[]> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const header = await readHeader(input, maxPixels);
  const widths = [...new Set(VARIANT_WIDTHS.map((w) => Math.min(w, header.width)))];
  const largest = widths[widths.length - 1]!;

  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(input, decodeOptions(maxPixels))
      .resize({ width: largest, withoutEnlargement: true })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new AppError('INVALID_INPUT', DAMAGED, { cause: error });
  }
  const { data, info } = decoded;
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };

  const outputs = widths.flatMap((width) =>
    VARIANT_FORMATS.map(async (format): Promise<ImageVariant> => {
      let pipeline = sharp(data, raw);
      if (width !== info.width) pipeline = pipeline.resize({ width });
      if (format === 'jpeg') pipeline = pipeline.flatten({ background: WHITE }).jpeg(VARIANT_ENCODING.jpeg);
      else pipeline = pipeline.webp(VARIANT_ENCODING.webp);
      const out = await pipeline.toBuffer({ resolveWithObject: true });
      return {
        width: out.info.width,
        height: out.info.height,
        format,
        bytes: out.data,
        contentType: CONTENT_TYPES[format],
        hash: createHash('sha256').update(out.data).digest('hex'),
      };
    }),
  );
  return Promise.all(outputs);
}

/**
 * The object key of a variant: `media/<first 32 hex of sha256>-<width>w.<webp|jpg>`. Derived
 * from the bytes only, so it is immutable (serve with `Cache-Control: immutable`) and a re-run
 * of a job writes the same keys.
 */
export function variantKey(v: ImageVariant): string {
  return `media/${v.hash.slice(0, 32)}-${v.width}w.${EXTENSIONS[v.format]}`;
}

const decodeOptions = (maxPixels: number): SharpOptions => ({
  autoOrient: true,
  failOn: 'error',
  limitInputPixels: maxPixels,
});

type Header = { format: ImageFormat; width: number; height: number };

/**
 * Signature, then sharp's header read (no pixel decoded): format, upright dimensions, pixel
 * limit. Throws AppError INVALID_INPUT with the seller's sentence.
 */
async function readHeader(bytes: Buffer, maxPixels: number): Promise<Header> {
  if (bytes.length === 0) throw new AppError('INVALID_INPUT', 'the file is empty');
  const format = sniff(bytes);
  if (!format) throw new AppError('INVALID_INPUT', NOT_AN_IMAGE);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new AppError('INVALID_INPUT', DAMAGED, { cause: error });
  }
  const decoder = format === 'avif' ? 'heif' : format;
  if (meta.format !== decoder || (format === 'avif' && meta.compression !== 'av1')) {
    throw new AppError('INVALID_INPUT', NOT_AN_IMAGE);
  }
  // One frame is decoded: a GIF or WebP animation counts its page height, not all frames.
  const stored = { width: meta.width, height: meta.pageHeight ?? meta.height };
  if (!(stored.width > 0 && stored.height > 0)) throw new AppError('INVALID_INPUT', DAMAGED);
  if (stored.width * stored.height > maxPixels) {
    throw new AppError(
      'INVALID_INPUT',
      `the image is ${stored.width} x ${stored.height} pixels; the limit is ${megapixels(maxPixels)}`,
    );
  }
  const upright = (meta.orientation ?? 1) >= 5;
  return {
    format,
    width: upright ? stored.height : stored.width,
    height: upright ? stored.width : stored.height,
  };
}

/** The format announced by the file's signature, among the accepted ones. */
function sniff(b: Buffer): ImageFormat | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b.subarray(0, 8).equals(PNG_SIGNATURE)) return 'png';
  const ascii = (from: number, to: number) => b.toString('latin1', from, to);
  if (b.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  // ISO BMFF: a leading `ftyp` box whose major or compatible brands include avif/avis.
  if (b.length >= 16 && ascii(4, 8) === 'ftyp') {
    const end = Math.min(b.readUInt32BE(0), b.length, 256);
    for (let at = 8; at + 4 <= end; at += at === 8 ? 8 : 4) {
      const brand = ascii(at, at + 4);
      if (brand === 'avif' || brand === 'avis') return 'avif';
    }
  }
  return null;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The stream's bytes, or null (and the stream destroyed) once more than `max` arrive. */
async function readAtMost(stream: Readable, max: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > max) {
      stream.destroy();
      return null;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

const trim = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const megabytes = (bytes: number) => `${trim(bytes / 2 ** 20)} MB`;
const megapixels = (pixels: number) => `${trim(pixels / 1e6)} megapixels`;
