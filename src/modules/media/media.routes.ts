/** /api/products/:id/photos and /api/photos/:photoId/complete. Thin: the service decides. */
import type { ApiApp } from '../../http/api-app.ts';
import { currentActor, publicActor } from '../../http/auth.ts';
import { OPTIONAL_SESSION_SECURITY } from '../../http/openapi.ts';
import { IdParams, problems } from '../../http/schemas.ts';
import {
  PhotoIdParams,
  PhotoListSchema,
  PhotoRequestBody,
  PhotoSchema,
  PhotoUploadSchema,
} from './media.schema.ts';
import type { MediaService } from './media.service.ts';

const tags = ['media'];
const session = [{ session: [] }];

export function mediaRoutes(app: ApiApp, media: MediaService): void {
  app.post(
    '/api/products/:id/photos',
    {
      schema: {
        tags,
        operationId: 'requestPhotoUpload',
        summary: 'Ask to add a photo: returns the photo id and where to upload its bytes (sellers)',
        description:
          'Upload the file to `upload` (PUT with `headers`, or a POST form of `fields` then `file`) ' +
          'before `expiresAt`. With the local store the upload itself signals its arrival; after ' +
          'an upload straight to S3, call POST /api/photos/:photoId/complete.',
        security: session,
        params: IdParams,
        body: PhotoRequestBody,
        response: { 201: PhotoUploadSchema, ...problems(400, 401, 403, 404, 409, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const result = await media.requestUpload(await currentActor(request), request.params.id, request.body);
      return reply.status(201).send(result);
    },
  );

  app.get(
    '/api/products/:id/photos',
    {
      schema: {
        tags,
        operationId: 'listProductPhotos',
        security: OPTIONAL_SESSION_SECURITY,
        summary: "A product's photos: all with status for its seller, ready ones for everyone else",
        params: IdParams,
        response: { 200: PhotoListSchema, ...problems(400, 404) },
      },
    },
    async (request) => ({ items: await media.listPhotos(await publicActor(request), request.params.id) }),
  );

  app.post(
    '/api/photos/:photoId/complete',
    {
      schema: {
        tags,
        operationId: 'completePhotoUpload',
        summary: 'Say an upload is done, so the photo is processed (idempotent)',
        security: session,
        params: PhotoIdParams,
        response: { 200: PhotoSchema, ...problems(400, 401, 403, 404, 409, 413) },
      },
    },
    async (request) => media.complete(await currentActor(request), request.params.photoId),
  );
}
