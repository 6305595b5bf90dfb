/** catalog: categories, products, listing and search. Other modules import only this file. */
import { fileURLToPath } from 'node:url';
import type { WebModule } from '../../http/app.ts';

export const catalogModule: WebModule = {
  name: 'catalog',
  migrations: {
    domain: 'catalog',
    dir: fileURLToPath(new URL('../../../migrations/catalog/', import.meta.url)),
  },
};
