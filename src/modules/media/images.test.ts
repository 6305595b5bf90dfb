import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import sharp, { type Region, type Sharp } from 'sharp';
import { AppError } from '../../shared/errors.ts';
import {
  type ImageVariant,
  inspectImage,
  makeVariants,
  VARIANT_FORMATS,
  VARIANT_WIDTHS,
  variantKey,
} from './images.ts';

const LIMITS = { maxPixels: 40_000_000, maxBytes: 20 * 2 ** 20 };

/** A JPEG whose left half is red and right half blue, as stored (before orientation). */
async function halves(width: number, height: number): Promise<Sharp> {
  const half = (colour: string) =>
    sharp({ create: { width: width / 2, height, channels: 3, background: colour } })
      .png()
      .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: '#000' } }).composite([
    { input: await half('#ff0000'), left: 0, top: 0 },
    { input: await half('#0000ff'), left: width / 2, top: 0 },
  ]);
}

/** Inserts a JPEG comment (COM) segment right after the SOI marker. */
function withComment(jpeg: Buffer, text: string): Buffer {
  const body = Buffer.from(text, 'latin1');
  const segment = Buffer.alloc(4 + body.length);
  segment.writeUInt16BE(0xfffe, 0);
  segment.writeUInt16BE(2 + body.length, 2);
  body.copy(segment, 4);
  return Buffer.concat([jpeg.subarray(0, 2), segment, jpeg.subarray(2)]);
}

/** Tags of the first IFD of a TIFF-structured EXIF block (as sharp's `metadata().exif` gives it). */
function ifd0Tags(exif: Buffer): number[] {
  const tiff = exif.subarray(exif.indexOf('Exif\0\0') + 6);
  const little = tiff.toString('latin1', 0, 2) === 'II';
  const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  const ifd = u32(4);
  return Array.from({ length: u16(ifd) }, (_, i) => u16(ifd + 2 + i * 12));
}

const GPS_IFD_POINTER = 0x8825;

/** A valid 1-bit greyscale PNG of side x side pixels: a few tens of KB that inflate to 50 MB. */
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
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale, deflate, no filter, no interlace
  const rows = Buffer.alloc((1 + Math.ceil(side / 8)) * side);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, 'INVALID_INPUT');
    return error;
  }
  assert.fail('expected a refusal');
}

/** Mean of each channel over a region (stats() reads its input, so extract into a PNG first). */
const meanOf = async (bytes: Buffer, region: Region) =>
  (await sharp(await sharp(bytes).extract(region).png().toBuffer()).stats()).channels.map((c) =>
    Math.round(c.mean),
  );

describe('images', () => {
  test('when a JPEG carries EXIF GPS, XMP, a comment and orientation 6, then every variant is upright and has no metadata', async () => {
    const source = withComment(
      await (await halves(400, 200))
        .jpeg()
        .withExif({
          IFD0: { Make: 'Bazaar Camera', ImageDescription: 'at home' },
          IFD3: {
            GPSLatitudeRef: 'N',
            GPSLatitude: '48/1 51/1 24/1',
            GPSLongitudeRef: 'E',
            GPSLongitude: '2/1 21/1 3/1',
          },
        })
        .withMetadata({ orientation: 6 })
        .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>')
        .toBuffer(),
      'secret-comment-home-address',
    );
    const before = await sharp(source).metadata();
    assert.equal(before.orientation, 6);
    assert.ok(ifd0Tags(before.exif!).includes(GPS_IFD_POINTER), 'the source has a GPS IFD');
    assert.ok(before.xmp && source.includes('secret-comment-home-address'));

    assert.deepEqual(await inspectImage(source, LIMITS), {
      ok: true,
      format: 'jpeg',
      width: 200,
      height: 400,
    });
    const variants = await makeVariants(source);
    assert.deepEqual(
      variants.map((v) => [v.format, v.width, v.height]),
      [
        ['webp', 160, 320],
        ['jpeg', 160, 320],
        ['webp', 200, 400],
        ['jpeg', 200, 400],
      ],
    );
    for (const v of variants) {
      const m = await sharp(v.bytes).metadata();
      assert.equal(m.orientation, undefined);
      assert.equal(m.exif, undefined);
      assert.equal(m.xmp, undefined);
      assert.equal(m.iptc, undefined);
      assert.equal(m.icc, undefined);
      assert.equal(m.comments, undefined);
      for (const marker of ['Exif', 'EXIF', 'XMP', 'xmpmeta', 'ICC', 'secret-comment', 'Bazaar Camera']) {
        assert.ok(!v.bytes.includes(marker), `${v.format} ${v.width}w contains ${marker}`);
      }
      // Orientation 6 turns the stored left half (red) to the top.
      const [top, bottom] = [
        await meanOf(v.bytes, { left: 0, top: 0, width: v.width, height: v.height / 4 }),
        await meanOf(v.bytes, { left: 0, top: (v.height * 3) / 4, width: v.width, height: v.height / 4 }),
      ];
      assert.ok(top[0]! > 200 && top[2]! < 60, `top is red: ${top}`);
      assert.ok(bottom[2]! > 200 && bottom[0]! < 60, `bottom is blue: ${bottom}`);
    }
  });

  test('when the source is 2400 px wide, then it gives 3 widths x 2 formats with the right types, hashes and keys', async () => {
    const source = await (await halves(2400, 1800)).jpeg().toBuffer();
    const variants = await makeVariants(source);
    const expected = VARIANT_WIDTHS.flatMap((w) => VARIANT_FORMATS.map((f) => [w, (w * 3) / 4, f]));
    assert.deepEqual(
      variants.map((v) => [v.width, v.height, v.format]),
      expected,
    );
    for (const v of variants) {
      const m = await sharp(v.bytes).metadata();
      assert.equal(m.format, v.format);
      assert.equal(m.width, v.width);
      assert.equal(m.height, v.height);
      assert.equal(v.contentType, v.format === 'webp' ? 'image/webp' : 'image/jpeg');
      assert.equal(v.hash, createHash('sha256').update(v.bytes).digest('hex'));
      assert.equal(
        variantKey(v),
        `media/${v.hash.slice(0, 32)}-${v.width}w.${v.format === 'webp' ? 'webp' : 'jpg'}`,
      );
      assert.match(variantKey(v), /^media\/[0-9a-f]{32}-\d+w\.(webp|jpg)$/);
    }
    assert.equal(new Set(variants.map(variantKey)).size, 6);
  });

  test('when the source is narrower than a target width, then outputs are capped at its width and never enlarged', async () => {
    const widthsOf = (vs: ImageVariant[]) => vs.map((v) => `${v.format}:${v.width}x${v.height}`);
    const small = await sharp({ create: { width: 300, height: 150, channels: 3, background: '#3a6' } })
      .png()
      .toBuffer();
    assert.deepEqual(widthsOf(await makeVariants(small)), [
      'webp:160x80',
      'jpeg:160x80',
      'webp:300x150',
      'jpeg:300x150',
    ]);
    const tiny = await sharp({ create: { width: 100, height: 40, channels: 3, background: '#3a6' } })
      .webp()
      .toBuffer();
    assert.deepEqual(widthsOf(await makeVariants(tiny)), ['webp:100x40', 'jpeg:100x40']);
  });

  test('when a text file is named .jpg, then it is not an image', async () => {
    const text = Buffer.from('name,price\nmug,24\n'.repeat(50));
    const result = await inspectImage(text, LIMITS);
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.reason : '', /^the file is not an image/);
    assert.match((await refusal(makeVariants(text))).message, /^the file is not an image/);
  });

  test('when the file is an SVG or a TIFF, then it is refused before sharp parses it', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    const tiff = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#000' } })
      .tiff()
      .toBuffer();
    for (const bytes of [svg, tiff]) {
      const result = await inspectImage(bytes, LIMITS);
      assert.match(!result.ok ? result.reason : 'accepted', /^the file is not an image/);
    }
  });

  test('when a JPEG or a PNG is truncated, then the image is damaged', async () => {
    const photo = await (await halves(800, 600)).jpeg().toBuffer();
    const png = await (await halves(800, 600)).png().toBuffer();
    for (const bytes of [photo.subarray(0, photo.length / 2), png.subarray(0, png.length / 2)]) {
      const result = await inspectImage(bytes, LIMITS);
      assert.match(!result.ok ? result.reason : 'accepted', /^the image is damaged/);
      assert.match((await refusal(makeVariants(bytes))).message, /^the image is damaged/);
    }
  });

  test('when a PNG claims 20,000 x 20,000 pixels, then it is refused from its header without decoding', async () => {
    const bomb = pngBomb(20_000);
    assert.ok(bomb.length < 200_000, `the bomb is small on disk: ${bomb.length} bytes`);
    const rssBefore = process.resourceUsage().maxRSS;
    const started = performance.now();
    const result = await inspectImage(bomb, LIMITS);
    const error = await refusal(makeVariants(bomb, { maxPixels: LIMITS.maxPixels }));
    const elapsed = performance.now() - started;
    const grownMiB = (process.resourceUsage().maxRSS - rssBefore) / 1024;
    assert.deepEqual(result, {
      ok: false,
      reason: 'the image is 20000 x 20000 pixels; the limit is 40 megapixels',
    });
    assert.equal(error.message, 'the image is 20000 x 20000 pixels; the limit is 40 megapixels');
    assert.ok(elapsed < 500, `refused in ${Math.round(elapsed)} ms`);
    assert.ok(grownMiB < 100, `peak RSS grew by ${Math.round(grownMiB)} MiB`);
  });

  test('when the file is 25 MB, then it is over the 20 MB limit, as a buffer or as a stream', async () => {
    const big = Buffer.alloc(25 * 2 ** 20);
    big.set([0xff, 0xd8, 0xff, 0xe0]);
    assert.deepEqual(await inspectImage(big, LIMITS), {
      ok: false,
      reason: 'the file is 25 MB; the limit is 20 MB',
    });
    let served = 0;
    const stream = Readable.from(
      (function* () {
        for (let i = 0; i < 25; i++) {
          served++;
          yield big.subarray(i * 2 ** 20, (i + 1) * 2 ** 20);
        }
      })(),
    );
    assert.deepEqual(await inspectImage(stream, LIMITS), {
      ok: false,
      reason: 'the file is larger than 20 MB, the limit',
    });
    assert.ok(served <= 22, `stopped reading after ${served} MiB`);
    assert.ok(stream.destroyed);
  });

  test('when an image arrives as a stream, then it is inspected like a buffer', async () => {
    const gif = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#123' } })
      .gif()
      .toBuffer();
    assert.deepEqual(await inspectImage(Readable.from([gif.subarray(0, 10), gif.subarray(10)]), LIMITS), {
      ok: true,
      format: 'gif',
      width: 30,
      height: 20,
    });
  });

  test('when images are JPEG, PNG, WebP, GIF or AVIF, then each is recognised by its bytes', async () => {
    const base = () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#a52' } });
    const files = {
      jpeg: await base().jpeg().toBuffer(),
      png: await base().png().toBuffer(),
      webp: await base().webp().toBuffer(),
      gif: await base().gif().toBuffer(),
      avif: await base().avif().toBuffer(),
    };
    for (const [format, bytes] of Object.entries(files)) {
      assert.deepEqual(await inspectImage(bytes, LIMITS), { ok: true, format, width: 64, height: 48 });
      assert.equal((await makeVariants(bytes)).length, 2);
    }
  });

  test('when the same image is processed twice, then the bytes and hashes are identical', async () => {
    const source = await (await halves(1600, 1200)).jpeg({ quality: 90 }).toBuffer();
    const [a, b] = await Promise.all([makeVariants(source), makeVariants(source)]);
    const c = await makeVariants(Buffer.from(source));
    assert.deepEqual(
      a.map((v) => v.hash),
      b.map((v) => v.hash),
    );
    assert.deepEqual(
      a.map((v) => v.hash),
      c.map((v) => v.hash),
    );
    assert.deepEqual(a.map(variantKey), c.map(variantKey));
  });

  test('when a PNG has transparency, then the JPEG variants are flattened on white and WebP keeps alpha', async () => {
    const source = await sharp({
      create: { width: 600, height: 400, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .composite([
        {
          input: await sharp({ create: { width: 300, height: 400, channels: 3, background: '#0a0' } })
            .png()
            .toBuffer(),
          left: 300,
          top: 0,
        },
      ])
      .png()
      .toBuffer();
    for (const v of await makeVariants(source)) {
      const m = await sharp(v.bytes).metadata();
      const left = await meanOf(v.bytes, { left: 0, top: 0, width: v.width / 4, height: v.height });
      if (v.format === 'jpeg') {
        assert.equal(m.hasAlpha, false);
        assert.ok(
          left.every((c) => c > 245),
          `transparent became white: ${left}`,
        );
      } else {
        assert.equal(m.hasAlpha, true);
        assert.ok(left[3]! < 10, `transparent stays transparent: ${left}`);
      }
    }
  });
});
