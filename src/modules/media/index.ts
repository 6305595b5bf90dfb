/** media: product photos, their uploads and the image job. Other modules import only this file. */
import { fileURLToPath } from 'node:url';
import type { WebModule } from '../module.ts';
import { processPhotoConsumer } from './media.jobs.ts';
import { mediaRoutes } from './media.routes.ts';
import { createMediaService } from './media.service.ts';

export const mediaModule: WebModule = {
  name: 'media',
  migrations: {
    domain: 'media',
    dir: fileURLToPath(new URL('../../../migrations/media/', import.meta.url)),
  },
  routes: (app, { platform }) => mediaRoutes(app, createMediaService({ platform })),
  consumers: (deps) => [processPhotoConsumer(deps)],
  onObjectCreated: ({ platform }) => {
    const media = createMediaService({ platform });
    return async (key) => {
      await media.objectCreated(key);
    };
  },
};

export type { PhotoUploaded } from './media.jobs.ts';
export { PROCESS_PHOTO, processPhoto, VARIANT_CACHE_CONTROL } from './media.jobs.ts';
export type { Photo, PhotoUpload } from './media.schema.ts';
export { ACCEPTED_TYPES, MEDIA_LIMITS } from './media.schema.ts';
export { createMediaService, type MediaService } from './media.service.ts';
export type { StoredVariant } from './media.tables.ts';
