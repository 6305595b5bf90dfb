/** users: accounts, sign-up, sign-in, roles. Other modules import only this file. */
import { fileURLToPath } from 'node:url';
import type { WebModule } from '../../http/app.ts';

export const usersModule: WebModule = {
  name: 'users',
  migrations: { domain: 'users', dir: fileURLToPath(new URL('../../../migrations/users/', import.meta.url)) },
};
