/**
 * Product photos: who may add them, upload targets, the object-created signal, listing. The
 * bytes never pass through here: the seller gets an upload target on the objects port, the
 * upload's arrival (the local store's signal, or `/complete` after an S3 upload) moves the photo
 * to `processing` and emits `photo.uploaded` in the same media transaction; the image job
 * (media.jobs.ts) does the rest. Product ownership comes from the catalog's public service.
 */
import { type Kysely, sql } from 'kysely';
import { appendEvents } from '../../platform/events/outbox.ts';
import type { Kv } from '../../platform/kv/kv.ts';
import type { ObjectStore } from '../../platform/objects/objects.ts';
import type { SqlPort } from '../../platform/sql/sql.ts';
import { type Actor, requireRole } from '../../shared/actor.ts';
import { AppError, forbidden, notFound } from '../../shared/errors.ts';
import { isUuid, uuidv7 } from '../../shared/ids.ts';
import { type CatalogService, createCatalogService } from '../catalog/index.ts';
import {
  ACCEPTED_TYPES,
  MEDIA_LIMITS,
  type Photo,
  type PhotoRequest,
  type PhotoUpload,
} from './media.schema.ts';
import type { MediaDb, PhotosTable } from './media.tables.ts';

export const UPLOAD_PREFIX = 'uploads/';

export interface MediaService {
  /**
   * A new photo of product `productId` awaiting its upload, and the target to upload it to.
   * Owner of the product or admin. UNSUPPORTED_MEDIA_TYPE, PAYLOAD_TOO_LARGE, TOO_MANY_PHOTOS,
   * RATE_LIMITED (with retryAfterSeconds) as docs/modules/media.md says.
   */
  requestUpload(actor: Actor | null, productId: string, input: PhotoRequest): Promise<PhotoUpload>;
  /**
   * The client says its upload is done: UPLOAD_MISSING when the object is absent,
   * PAYLOAD_TOO_LARGE (and the object removed) when it is larger than declared; idempotent.
   */
  complete(actor: Actor | null, photoId: string): Promise<Photo>;
  /**
   * The object-created signal: `uploads/<photoId>` arrived. Moves the photo from awaiting_upload
   * to processing and emits `photo.uploaded`, once; other keys and unknown photos are ignored.
   * Returns whether this call made the transition.
   */
  objectCreated(key: string): Promise<boolean>;
  /** A product's photos by position: all with status for its owner and admins, ready ones for others. */
  listPhotos(actor: Actor | null, productId: string): Promise<Photo[]>;
}

type PhotoRow = Pick<
  PhotosTable,
  | 'id'
  | 'product_id'
  | 'seller_id'
  | 'position'
  | 'status'
  | 'original_key'
  | 'declared_size'
  | 'failure_reason'
> & { variants: { width: number; height: number; format: 'webp' | 'jpeg'; key: string }[]; created_at: Date };

const PHOTO_COLUMNS = [
  'id',
  'product_id',
  'seller_id',
  'position',
  'status',
  'original_key',
  'declared_size',
  'failure_reason',
  'variants',
  'created_at',
] as const;

export type MediaServiceDeps = Readonly<{
  platform: Readonly<{ sql: SqlPort; objects: ObjectStore; kv: Kv }>;
  catalog?: CatalogService;
  now?: () => Date;
}>;

export function createMediaService(deps: MediaServiceDeps): MediaService {
  const { platform } = deps;
  const db = platform.sql.for<MediaDb>('media');
  const catalog = deps.catalog ?? createCatalogService(platform);
  const now = deps.now ?? (() => new Date());

  const toPhoto = (row: PhotoRow, full: boolean): Photo => ({
    id: row.id,
    productId: row.product_id,
    position: row.position,
    status: row.status,
    failureReason: full ? row.failure_reason : null,
    variants: row.variants.map((v) => ({
      width: v.width,
      height: v.height,
      format: v.format,
      url: platform.objects.publicUrl(v.key),
    })),
    createdAt: row.created_at.toISOString(),
  });

  async function findPhoto(handle: Kysely<MediaDb>, id: string): Promise<PhotoRow | undefined> {
    if (!isUuid(id)) return undefined;
    return handle.selectFrom('photos').select(PHOTO_COLUMNS).where('id', '=', id).executeTakeFirst();
  }

  async function ownedPhoto(actor: Actor | null, photoId: string): Promise<PhotoRow> {
    const user = requireRole(actor, 'seller');
    const photo = await findPhoto(db.write, photoId);
    if (!photo) throw notFound(`photo ${photoId}`);
    if (user.role !== 'admin' && photo.seller_id !== user.userId) {
      throw forbidden('only the seller of this photo (or an admin) may do this');
    }
    return photo;
  }

  async function rateLimit(sellerId: string): Promise<void> {
    const windowMs = MEDIA_LIMITS.windowSeconds * 1000;
    const t = now().getTime();
    const window = Math.floor(t / windowMs);
    const count = await platform.kv.incr(`media:photo-requests:${sellerId}:${window}`, 1, {
      ttlMs: windowMs,
    });
    if (count > MEDIA_LIMITS.requestsPerWindow) {
      const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - t) / 1000));
      throw new AppError(
        'RATE_LIMITED',
        `at most ${MEDIA_LIMITS.requestsPerWindow} photo uploads per ${MEDIA_LIMITS.windowSeconds / 60} minutes; retry in ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      );
    }
  }

  async function objectCreated(key: string): Promise<boolean> {
    if (!key.startsWith(UPLOAD_PREFIX)) return false;
    const photoId = key.slice(UPLOAD_PREFIX.length);
    if (!isUuid(photoId)) return false;
    return db.write.transaction().execute(async (trx) => {
      const moved = await trx
        .updateTable('photos')
        .set({ status: 'processing', updated_at: now() })
        .where('id', '=', photoId)
        .where('status', '=', 'awaiting_upload')
        .returning(['id', 'product_id', 'seller_id', 'original_key'])
        .executeTakeFirst();
      if (!moved) return false;
      await appendEvents(trx, [
        {
          type: 'photo.uploaded',
          key: moved.product_id,
          payload: {
            photoId: moved.id,
            productId: moved.product_id,
            sellerId: moved.seller_id,
            key: moved.original_key,
          },
        },
      ]);
      return true;
    });
  }

  return {
    async requestUpload(actor, productId, input) {
      const user = requireRole(actor, 'seller');
      const contentType = input.contentType.split(';')[0]!.trim().toLowerCase();
      if (!(ACCEPTED_TYPES as readonly string[]).includes(contentType)) {
        throw new AppError(
          'UNSUPPORTED_MEDIA_TYPE',
          `photos must be one of ${ACCEPTED_TYPES.join(', ')}; got ${input.contentType}`,
        );
      }
      if (input.size > MEDIA_LIMITS.maxBytes) {
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          `a photo may have at most ${MEDIA_LIMITS.maxBytes / 1024 / 1024} MB; this one has ${(input.size / 1024 / 1024).toFixed(1)} MB`,
        );
      }
      const product = await catalog.getProduct(user, productId);
      if (user.role !== 'admin' && product.sellerId !== user.userId) {
        throw forbidden('only the seller of this product (or an admin) may add photos to it');
      }
      await rateLimit(product.sellerId);

      const id = uuidv7();
      const key = UPLOAD_PREFIX + id;
      const at = now();
      await db.write.transaction().execute(async (trx) => {
        // Serialises photo requests of one product, so two at once cannot both take the 10th place.
        await sql`select pg_advisory_xact_lock(hashtextextended(${`media:product:${product.id}`}, 0))`.execute(
          trx,
        );
        const { n, last } = await trx
          .selectFrom('photos')
          .select((eb) => [
            eb.fn.countAll<string>().filterWhere('status', '!=', 'failed').as('n'),
            eb.fn.max('position').as('last'),
          ])
          .where('product_id', '=', product.id)
          .executeTakeFirstOrThrow();
        if (Number(n) >= MEDIA_LIMITS.photosPerProduct) {
          throw new AppError(
            'TOO_MANY_PHOTOS',
            `a product may have at most ${MEDIA_LIMITS.photosPerProduct} photos; delete one first`,
          );
        }
        await trx
          .insertInto('photos')
          .values({
            id,
            product_id: product.id,
            seller_id: product.sellerId,
            position: last === null ? 0 : Number(last) + 1,
            status: 'awaiting_upload',
            original_key: key,
            content_type: contentType,
            declared_size: input.size,
            failure_reason: null,
            created_at: at,
            updated_at: at,
          })
          .execute();
      });
      const target = await platform.objects.signUpload(key, {
        contentType,
        maxBytes: input.size,
        expiresInSeconds: MEDIA_LIMITS.uploadExpiresInSeconds,
      });
      return {
        photoId: id,
        upload: {
          method: target.method,
          url: target.url,
          ...(target.headers ? { headers: target.headers } : {}),
          ...(target.fields ? { fields: target.fields } : {}),
          expiresAt: target.expiresAt.toISOString(),
        },
      };
    },

    async complete(actor, photoId) {
      const photo = await ownedPhoto(actor, photoId);
      if (photo.status === 'awaiting_upload') {
        const uploaded = await platform.objects.head(photo.original_key);
        if (!uploaded) {
          throw new AppError('UPLOAD_MISSING', 'the upload has not arrived; upload the file, then complete');
        }
        // A presigned PUT cannot bound the size (and some S3 servers ignore POST policies): the
        // declared size is enforced here, as the local upload route and AWS's POST policy do.
        if (uploaded.size > photo.declared_size) {
          await platform.objects.delete(photo.original_key);
          throw new AppError(
            'PAYLOAD_TOO_LARGE',
            `the upload has ${uploaded.size} bytes, more than the ${photo.declared_size} declared; it was removed: upload the declared file again, then complete`,
          );
        }
        await objectCreated(photo.original_key);
      }
      return toPhoto((await findPhoto(db.write, photoId))!, true);
    },

    objectCreated,

    async listPhotos(actor, productId) {
      const product = await catalog.getProduct(actor, productId);
      const full = actor !== null && (actor.role === 'admin' || actor.userId === product.sellerId);
      const rows = await (full ? db.write : db.read)
        .selectFrom('photos')
        .select(PHOTO_COLUMNS)
        .where('product_id', '=', product.id)
        .$if(!full, (q) => q.where('status', '=', 'ready'))
        .orderBy('position')
        .execute();
      return rows.map((r) => toPhoto(r, full));
    },
  };
}
