/**
 * The crash test: a real worker process SIGKILLed in the middle of a photo job; another
 * worker picks the job up after its lease, and the photo becomes ready exactly once — the same
 * content-addressed keys, one projection entry, one processed-event record. PostgreSQL only
 * (a PGlite data directory belongs to one process).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import sharp from 'sharp';
import { createCatalogSeeder, createCatalogService } from '../src/modules/catalog/index.ts';
import { createMediaService, PROCESS_PHOTO } from '../src/modules/media/index.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { postgres } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const WORKER = fileURLToPath(new URL('../src/apps/worker.ts', import.meta.url));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('media job crash on postgres', { skip: postgres.skip }, () => {
  let t: TestApp;
  let dataDir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bazaar-media-crash-'));
    t = await startTestApp(postgres, { DATA_DIR: dataDir });
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await t?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  function worker(): ChildProcess {
    const child = spawn(process.execPath, [WORKER], {
      env: {
        PATH: process.env['PATH'] ?? '',
        DATABASE_URL: t.config.databaseUrl!,
        DATA_DIR: dataDir,
        JOBS_LEASE: '2s',
        JOBS_POLL_INTERVAL: '500ms',
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    children.push(child);
    return child;
  }

  it('when the worker is killed mid-job, then another finishes it and the photo is ready exactly once', async () => {
    const catalog = createCatalogService(t.platform);
    const media = createMediaService({ platform: t.platform, catalog });
    const seller = { userId: uuidv7(), role: 'seller' as const };
    const productId = uuidv7();
    await createCatalogSeeder(t.platform).insertProducts([
      {
        id: productId,
        sellerId: seller.userId,
        categoryId: (await catalog.listCategories())[0]!.id,
        title: 'Large photo product',
        priceMinor: 100,
        status: 'published',
      },
    ]);
    // A big noisy photo (35 MP), so the job takes long enough to be caught in the middle.
    const [w, h] = [7000, 5000];
    const noise = Buffer.alloc(700 * 500 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    const jpeg = await sharp(noise, { raw: { width: 700, height: 500, channels: 3 } })
      .resize(w, h, { kernel: 'nearest' })
      .jpeg({ quality: 95 })
      .toBuffer();
    const { photoId } = await media.requestUpload(seller, productId, {
      contentType: 'image/jpeg',
      size: jpeg.length,
    });
    await t.platform.objects.put(`uploads/${photoId}`, jpeg, { contentType: 'image/jpeg' });
    assert.equal(await media.objectCreated(`uploads/${photoId}`), true);

    const first = worker();
    await until(
      'the photo job to be running',
      async () =>
        (await t.platform.jobs.list({ state: 'active', queue: PROCESS_PHOTO, limit: 10 })).length > 0
          ? true
          : undefined,
      60_000,
    );
    first.kill('SIGKILL');
    const db = t.platform.sql.for('media').write;
    const statusOf = async () =>
      (await sql<{ status: string }>`select status from media.photos where id = ${photoId}`.execute(db))
        .rows[0]!.status;
    assert.equal(await statusOf(), 'processing', 'killed before it finished');

    worker();
    await until(
      'the photo to be ready',
      async () => ((await statusOf()) === 'ready' ? true : undefined),
      60_000,
    );

    const photo = (await media.listPhotos(null, productId)).find((p) => p.id === photoId)!;
    assert.equal(photo.status, 'ready');
    assert.equal(photo.variants.length, 6);
    const variantObjects = await t.platform.objects.list('media/');
    assert.equal(variantObjects.length, 6, 'no duplicate objects');
    const processed = await sql<{ n: number }>`
      select count(*)::int as n from media.processed_events where consumer = ${PROCESS_PHOTO}`.execute(db);
    assert.equal(processed.rows[0]!.n, 1);
    const product = await until(
      'the catalog projection',
      async () => {
        const p = await catalog.getProduct(null, productId);
        return (p.photos?.length ?? 0) > 0 ? p : undefined;
      },
      30_000,
    );
    assert.equal(product.photos!.length, 1, 'one projection entry');
  });
});
