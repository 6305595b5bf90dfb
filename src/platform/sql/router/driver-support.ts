/** What the replica router's read and write drivers share: the Kysely dialect around a driver, the 503 error. */
import {
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import { AppError } from '../../../shared/errors.ts';

export function dialectOf(driver: Driver) {
  return {
    createDriver: () => driver,
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createAdapter: () => new PostgresAdapter(),
    createIntrospector: (db: Kysely<unknown>) => new PostgresIntrospector(db),
  };
}

/** A node failure as the caller sees it: 503 with Retry-After. */
export function unavailable(err: unknown): AppError {
  return new AppError('UNAVAILABLE', 'the database is failing over; retry shortly', {
    cause: err,
    retryAfterSeconds: 1,
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
