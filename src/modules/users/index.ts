/** users: accounts, sign-up, sign-in, roles. Other modules import only this file. */
import { fileURLToPath } from 'node:url';
import type { WebModule } from '../module.ts';
import { usersRoutes } from './users.routes.ts';

export const usersModule: WebModule = {
  name: 'users',
  migrations: { domain: 'users', dir: fileURLToPath(new URL('../../../migrations/users/', import.meta.url)) },
  routes: usersRoutes,
};

export {
  createUsersService,
  EMAIL_MAX_LENGTH,
  emailProblem,
  type LogInInput,
  type NewAdminInput,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  type SignedIn,
  type SignUpInput,
  type User,
  type UsersService,
  type UsersServiceDeps,
} from './users.service.ts';
