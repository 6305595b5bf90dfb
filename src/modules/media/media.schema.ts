/** The media module's wire format and limits (docs/modules/media.md lists them). */
import { type Static, Type } from 'typebox';
import { Text, Uuid } from '../../shared/schemas.ts';

export const MEDIA_LIMITS = {
  /** Bytes of one upload. */
  maxBytes: 20 * 1024 * 1024,
  /** Pixels of one image (width x height of one frame). */
  maxPixels: 40_000_000,
  /** Photos of one product that are not failed. */
  photosPerProduct: 10,
  /** Photo requests per seller per window. */
  requestsPerWindow: 60,
  windowSeconds: 600,
  /** Lifetime of an upload target. */
  uploadExpiresInSeconds: 600,
} as const;

export const ACCEPTED_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif'] as const;

export const PhotoRequestBody = Type.Object(
  {
    contentType: Text({
      minLength: 1,
      maxLength: 100,
      description: `The file's type: ${ACCEPTED_TYPES.join(', ')}`,
    }),
    size: Type.Integer({
      minimum: 1,
      description: `The file's size in bytes, at most ${MEDIA_LIMITS.maxBytes}; the upload may not exceed it`,
    }),
  },
  { additionalProperties: false },
);
export type PhotoRequest = Static<typeof PhotoRequestBody>;

export const UploadTargetSchema = Type.Object({
  method: Type.Union([Type.Literal('PUT'), Type.Literal('POST')]),
  url: Type.String({ description: 'Absolute (S3) or relative to this API (local store)' }),
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  fields: Type.Optional(Type.Record(Type.String(), Type.String())),
  expiresAt: Type.String({ format: 'date-time' }),
});

export const PhotoUploadSchema = Type.Object({ photoId: Uuid, upload: UploadTargetSchema });
export type PhotoUpload = Static<typeof PhotoUploadSchema>;

export const PhotoVariantSchema = Type.Object({
  width: Type.Integer(),
  height: Type.Integer(),
  format: Type.Union([Type.Literal('webp'), Type.Literal('jpeg')]),
  url: Type.String(),
});

export const PhotoSchema = Type.Object({
  id: Uuid,
  productId: Uuid,
  position: Type.Integer(),
  status: Type.Union(
    [
      Type.Literal('awaiting_upload'),
      Type.Literal('processing'),
      Type.Literal('ready'),
      Type.Literal('failed'),
    ],
    { description: 'awaiting_upload → processing → ready | failed' },
  ),
  failureReason: Type.Union([Type.String(), Type.Null()], {
    description: 'Why the image was refused, for the seller (owner and admins only)',
  }),
  variants: Type.Array(PhotoVariantSchema),
  createdAt: Type.String({ format: 'date-time' }),
});
export type Photo = Static<typeof PhotoSchema>;

export const PhotoListSchema = Type.Object({ items: Type.Array(PhotoSchema) });

export const PhotoIdParams = Type.Object({ photoId: Uuid }, { additionalProperties: false });
