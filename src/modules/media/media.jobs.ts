/**
 * The image job: the consumer `media.process-photo` on `photo.uploaded`. Fetches the original
 * from the objects port, checks it from its bytes (inspectImage: 40 MP, 20 MB, whatever the
 * declared type), writes every variant under its content-addressed key, then in ONE media
 * transaction (handleOnce) marks the photo ready with its variants and emits `photo.ready`.
 *
 * - A refused image is not an error: the photo becomes `failed` with the seller's reason and
 *   `photo.failed` is emitted; nothing is retried.
 * - Any other error (objects port, database) throws, so the jobs port retries with backoff; a
 *   worker killed mid-job is retried after its lease. Variant keys derive from the bytes, which
 *   derive from the original, so a re-run writes the same keys; the status change is
 *   conditional on `processing`, so the photo becomes ready once and `photo.ready` is emitted
 *   once, however often the job runs.
 */
import type { Readable } from 'node:stream';
import type { Consumer, DomainEvent } from '../../platform/events/events.ts';
import { handleOnce, isProcessed } from '../../platform/events/handle-once.ts';
import { appendEvents } from '../../platform/events/outbox.ts';
import type { ObjectStore } from '../../platform/objects/objects.ts';
import type { SqlPort } from '../../platform/sql/sql.ts';
import { AppError } from '../../shared/errors.ts';
import type { ModuleDeps } from '../module.ts';
import type { ImageVariant } from './images.ts';
import { MEDIA_LIMITS } from './media.schema.ts';
import type { MediaDb, StoredVariant } from './media.tables.ts';

export const PROCESS_PHOTO = 'media.process-photo';
export const VARIANT_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export type PhotoUploaded = Readonly<{ photoId: string; productId: string; sellerId: string; key: string }>;

export function processPhotoConsumer({ platform }: Pick<ModuleDeps, 'platform'>): Consumer {
  return {
    name: PROCESS_PHOTO,
    types: ['photo.uploaded'],
    concurrency: 2,
    handle: (event, { consumer }) => processPhoto(platform, consumer, event),
  };
}

/** One run of the job for one `photo.uploaded` delivery; exported for tests and the benchmark. */
export async function processPhoto(
  platform: Readonly<{ sql: SqlPort; objects: ObjectStore }>,
  consumer: string,
  event: DomainEvent,
): Promise<void> {
  const db = platform.sql.for<MediaDb>('media').write;
  const delivery = { consumer, eventId: event.id };
  if (await isProcessed(db, delivery)) return;
  const { photoId } = event.payload as PhotoUploaded;
  const photo = await db
    .selectFrom('photos')
    .select(['id', 'product_id', 'seller_id', 'position', 'status', 'original_key'])
    .where('id', '=', photoId)
    .executeTakeFirst();
  if (photo?.status !== 'processing') {
    await handleOnce(db, delivery, async () => {});
    return;
  }

  const outcome = await makePhotoVariants(platform.objects, photo.original_key);

  await handleOnce(db, delivery, async (trx) => {
    const at = new Date();
    const done = await trx
      .updateTable('photos')
      .set(
        outcome.ok
          ? { status: 'ready', variants: JSON.stringify(outcome.variants), updated_at: at }
          : { status: 'failed', failure_reason: outcome.reason, updated_at: at },
      )
      .where('id', '=', photo.id)
      .where('status', '=', 'processing')
      .returning('id')
      .executeTakeFirst();
    if (!done) return;
    await appendEvents(trx, [
      outcome.ok
        ? {
            type: 'photo.ready',
            key: photo.product_id,
            payload: {
              photoId: photo.id,
              productId: photo.product_id,
              position: photo.position,
              variants: outcome.variants,
            },
          }
        : {
            type: 'photo.failed',
            key: photo.product_id,
            payload: {
              photoId: photo.id,
              productId: photo.product_id,
              sellerId: photo.seller_id,
              reason: outcome.reason,
            },
          },
    ]);
  });
}

type Outcome = { ok: true; variants: StoredVariant[] } | { ok: false; reason: string };

/** Reads, checks and resizes the original, storing every variant; a refusal is an outcome, not an error. */
async function makePhotoVariants(objects: ObjectStore, key: string): Promise<Outcome> {
  // sharp (libvips) is loaded by the first photo, not by every process that imports the module.
  const { inspectImage, makeVariants, tooLargeReason, variantKey } = await import('./images.ts');
  const got = await objects.get(key);
  if (!got) return { ok: false, reason: 'the upload was not found; please upload the photo again' };
  // The stored size first: an S3 presigned PUT cannot bound it, and the reason names the real size.
  if (got.info.size > MEDIA_LIMITS.maxBytes) {
    got.body.destroy();
    return { ok: false, reason: tooLargeReason(got.info.size, MEDIA_LIMITS.maxBytes) };
  }
  const bytes = await readAtMost(got.body, MEDIA_LIMITS.maxBytes);
  const inspection = await inspectImage(bytes, {
    maxPixels: MEDIA_LIMITS.maxPixels,
    maxBytes: MEDIA_LIMITS.maxBytes,
  });
  if (!inspection.ok) return { ok: false, reason: inspection.reason };
  let made: ImageVariant[];
  try {
    made = await makeVariants(bytes, { maxPixels: MEDIA_LIMITS.maxPixels });
  } catch (err) {
    if (err instanceof AppError && err.code === 'INVALID_INPUT') return { ok: false, reason: err.message };
    throw err;
  }
  const variants: StoredVariant[] = [];
  for (const v of made) {
    const vkey = variantKey(v);
    await objects.put(vkey, v.bytes, { contentType: v.contentType, cacheControl: VARIANT_CACHE_CONTROL });
    variants.push({ width: v.width, height: v.height, format: v.format, key: vkey });
  }
  return { ok: true, variants };
}

/** The stream's bytes, stopping after `max` + 1 (enough for inspectImage to refuse the size). */
async function readAtMost(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total > max) break;
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks);
}
