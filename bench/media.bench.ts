/**
 * npm run bench:media — thumbnails per second, in one run, on one machine:
 *   (a) bare sharp: per image, 3 widths x 2 formats as 6 independent pipelines from the source
 *       (each with its own decode, JPEG shrink-on-load included), same encoder settings;
 *   (b) makeVariants (src/modules/media/images.ts): header checks, one decode, 6 outputs;
 *   (c) the whole media job path: originals in the objects port, `photo.uploaded` in the outbox,
 *       then the worker relays, dequeues, fetches, makes the 6 variants, stores and records them.
 * The images are made once (seeded, so every run makes the same ones) into a temporary folder.
 * Each measurement runs in its own child process that reads them into memory, so its peak RSS
 * (process.resourceUsage().maxRSS) is its own; rounds alternate a, b, a, b… and the best round
 * of each counts. A thumbnail is one output file (6 per image).
 *
 * Settings: BENCH_IMAGES (default 60) varied 2400 x 1800 JPEGs made in memory with sharp,
 * BENCH_CONCURRENCY images in flight (default os.availableParallelism()), BENCH_ROUNDS (default 3).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { prng } from '../src/apps/seed-data.ts';
import {
  makeVariants,
  VARIANT_ENCODING,
  VARIANT_FORMATS,
  VARIANT_WIDTHS,
} from '../src/modules/media/images.ts';
import { machine, ROOT, table, writeResult } from './support.ts';

const IMAGES = Number(process.env['BENCH_IMAGES'] ?? 60);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? availableParallelism());
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const THUMBS_PER_IMAGE = VARIANT_WIDTHS.length * VARIANT_FORMATS.length;

type Path = 'bare' | 'variants' | 'job';
type Measured = {
  path: Path;
  seconds: number;
  thumbnails: number;
  rssAfterInputsMiB: number;
  peakRssMiB: number;
};

/** A photo-like 2400 x 1800 JPEG: smooth noise, shapes in varied colours and a caption. */
async function makePhoto(i: number): Promise<Buffer> {
  const rnd = prng(i + 1); // deterministic, so every child makes the same images
  const [w, h] = [240, 180];
  const noise = Buffer.alloc(w * h * 3);
  const base = [rnd() * 255, rnd() * 255, rnd() * 255];
  for (let p = 0; p < w * h; p++) {
    for (let c = 0; c < 3; c++) noise[p * 3 + c] = Math.max(0, Math.min(255, base[c]! + (rnd() - 0.5) * 120));
  }
  const hue = () =>
    `hsl(${Math.floor(rnd() * 360)},${40 + Math.floor(rnd() * 50)}%,${30 + Math.floor(rnd() * 40)}%)`;
  const shapes = Array.from({ length: 12 }, () => {
    const [x, y, r] = [rnd() * 2400, rnd() * 1800, 80 + rnd() * 400];
    return rnd() < 0.5
      ? `<circle cx="${x}" cy="${y}" r="${r}" fill="${hue()}" fill-opacity="0.8"/>`
      : `<rect x="${x}" y="${y}" width="${r * 1.5}" height="${r}" fill="${hue()}" transform="rotate(${rnd() * 90} ${x} ${y})"/>`;
  }).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="2400" height="1800">${shapes}
    <text x="120" y="1650" font-size="160" font-family="sans-serif" fill="white">Bazaar item ${i}</text></svg>`;
  return sharp(noise, { raw: { width: w, height: h, channels: 3 } })
    .resize(2400, 1800, { kernel: 'cubic' })
    .composite([{ input: Buffer.from(svg) }])
    .jpeg({ quality: 88 })
    .toBuffer();
}

/** The baseline: what a developer would write with sharp alone for the same outputs. */
async function bare(input: Buffer): Promise<number> {
  const outs = VARIANT_WIDTHS.flatMap((width) =>
    VARIANT_FORMATS.map((format) => {
      const p = sharp(input).resize({ width, withoutEnlargement: true });
      return (format === 'jpeg' ? p.jpeg(VARIANT_ENCODING.jpeg) : p.webp(VARIANT_ENCODING.webp)).toBuffer();
    }),
  );
  return (await Promise.all(outs)).length;
}

const variants = async (input: Buffer): Promise<number> => (await makeVariants(input)).length;

/** Runs `work` over every input with `CONCURRENCY` in flight; returns seconds and outputs. */
async function pool(inputs: Buffer[], work: (b: Buffer) => Promise<number>) {
  let next = 0;
  let thumbnails = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, inputs.length) }, async () => {
      while (next < inputs.length) thumbnails += await work(inputs[next++]!);
    }),
  );
  return { seconds: (performance.now() - started) / 1000, thumbnails };
}

const mib = (kib: number) => Math.round(kib / 1024);

/**
 * The whole job path on the embedded stack (PGlite, local objects, pg-boss): uploads are put in
 * the objects port and signalled (outbox rows), then a worker with every module's consumers
 * starts and the clock runs until the last photo is recorded ready.
 */
async function jobPath(inputs: Buffer[]): Promise<{ seconds: number; thumbnails: number }> {
  const { loadConfig } = await import('../src/config/config.ts');
  const { createPlatform } = await import('../src/platform/platform.ts');
  const { MODULES } = await import('../src/apps/modules.ts');
  const { startWorker } = await import('../src/apps/worker-runtime.ts');
  const { createCatalogSeeder, createCatalogService } = await import('../src/modules/catalog/index.ts');
  const { createMediaService } = await import('../src/modules/media/index.ts');
  const { uuidv7 } = await import('../src/shared/ids.ts');
  const dataDir = await mkdtemp(join(tmpdir(), 'bazaar-bench-job-'));
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', SEED: 'false' });
  const platform = await createPlatform(config, { inMemory: true, processName: 'bench' });
  try {
    await platform.sql.migrate(MODULES.map((m) => m.migrations));
    const catalog = createCatalogService(platform);
    const seeder = createCatalogSeeder(platform);
    const media = createMediaService({ platform, catalog });
    const categoryId = (await catalog.listCategories())[0]!.id;
    const keys: string[] = [];
    // At most 10 photos per product and a per-seller request limit: one seller and product per 10.
    for (let i = 0; i < inputs.length; i += 10) {
      const actor = { userId: uuidv7(), role: 'seller' as const };
      const productId = uuidv7();
      await seeder.insertProducts([
        {
          id: productId,
          sellerId: actor.userId,
          categoryId,
          title: `Bench ${i}`,
          priceMinor: 100,
          status: 'published',
        },
      ]);
      for (const input of inputs.slice(i, i + 10)) {
        const { photoId } = await media.requestUpload(actor, productId, {
          contentType: 'image/jpeg',
          size: input.length,
        });
        await platform.objects.put(`uploads/${photoId}`, input, { contentType: 'image/jpeg' });
        keys.push(`uploads/${photoId}`);
      }
    }
    const silent = { info() {}, error() {} };
    const started = performance.now();
    for (const key of keys) await media.objectCreated(key);
    const worker = await startWorker({
      config,
      platform,
      modules: MODULES,
      log: silent,
      relayIntervalMs: 50,
    });
    await worker.drain({ timeoutMs: 600_000 });
    const seconds = (performance.now() - started) / 1000;
    await worker.stop({ graceMs: 1000 });
    const { rows } = await (await import('kysely')).sql<{ n: number; v: number }>`
      select count(*)::int as n, coalesce(sum(jsonb_array_length(variants)), 0)::int as v
      from media.photos where status = 'ready'`.execute(platform.sql.for('media').write);
    if (rows[0]!.n !== inputs.length)
      throw new Error(`only ${rows[0]!.n} of ${inputs.length} photos became ready`);
    return { seconds, thumbnails: rows[0]!.v };
  } finally {
    await platform.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Child: read the images, warm up, measure one path, print one JSON line. */
async function child(path: Path, dir: string): Promise<void> {
  const inputs: Buffer[] = [];
  for (let i = 0; i < IMAGES; i++) inputs.push(await readFile(join(dir, `${i}.jpg`)));
  const rssAfterInputsMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
  if (path === 'job') {
    const r = await jobPath(inputs);
    console.log(
      JSON.stringify({ path, ...r, rssAfterInputsMiB, peakRssMiB: mib(process.resourceUsage().maxRSS) }),
    );
    return;
  }
  const work = path === 'bare' ? bare : variants;
  await pool(inputs.slice(0, Math.min(6, inputs.length)), work);
  const r = await pool(inputs, work);
  const measured: Measured = {
    path,
    ...r,
    rssAfterInputsMiB,
    peakRssMiB: mib(process.resourceUsage().maxRSS),
  };
  console.log(JSON.stringify(measured));
}

async function measureIn(path: Path, dir: string): Promise<Measured> {
  const args = [`${ROOT}bench/media.bench.ts`, '--child', path, dir];
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    env: process.env,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Measured;
}

async function main(): Promise<void> {
  console.log(
    `bench:media on ${machine()}; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, ` +
      `sharp.concurrency() ${sharp.concurrency()}, UV_THREADPOOL_SIZE ${process.env['UV_THREADPOOL_SIZE'] ?? '4 (default)'}`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'bazaar-bench-media-'));
  const runs: Measured[] = [];
  try {
    let bytes = 0;
    for (let i = 0; i < IMAGES; i++) {
      const photo = await makePhoto(i);
      bytes += photo.length;
      await writeFile(join(dir, `${i}.jpg`), photo);
    }
    console.log(
      `${IMAGES} images of 2400 x 1800 (JPEG, ~${Math.round(bytes / IMAGES / 1024)} KiB each), ` +
        `${CONCURRENCY} in flight, ${ROUNDS} rounds, ${THUMBS_PER_IMAGE} thumbnails per image`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const path of ['bare', 'variants', 'job'] as const) {
        const m = await measureIn(path, dir);
        runs.push(m);
        console.log(`round ${round} ${path}: ${(m.thumbnails / m.seconds).toFixed(1)} thumbnails/s`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const best = (path: Path) =>
    runs
      .filter((r) => r.path === path)
      .reduce((a, b) => (b.thumbnails / b.seconds > a.thumbnails / a.seconds ? b : a));
  const baseline = best('bare');
  const rate = (m: Measured) => m.thumbnails / m.seconds;
  const headers = [
    'path',
    'thumbnails/s',
    'images/s',
    'vs bare sharp',
    'peak RSS MiB',
    'RSS with inputs MiB',
  ];
  const row = (label: string, m: Measured) => [
    label,
    rate(m).toFixed(1),
    (rate(m) / THUMBS_PER_IMAGE).toFixed(1),
    (rate(m) / rate(baseline)).toFixed(2),
    m.peakRssMiB,
    m.rssAfterInputsMiB,
  ];
  const rows = [
    row('(a) bare sharp, 6 pipelines', baseline),
    row('(b) makeVariants', best('variants')),
    row('(c) whole job path (relay, dequeue, fetch, 6 variants, store, record)', best('job')),
  ];
  const jobNote =
    '(c) runs the worker on PGlite with local objects in one process, one job at a time per consumer';
  console.log(`\n${table(headers, rows)}\n${jobNote}`);
  const file = await writeResult('media', {
    machine: machine(),
    sharp: sharp.versions.sharp,
    vips: sharp.versions.vips,
    images: IMAGES,
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    rows: rows.map((r) => Object.fromEntries(headers.map((h, i) => [h, r[i]]))),
    runs,
    note: jobNote,
  });
  console.log(`\nwritten ${file}`);
}

const at = process.argv.indexOf('--child');
if (at >= 0) await child(process.argv[at + 1] as Path, process.argv[at + 2]!);
else await main();
