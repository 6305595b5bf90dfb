/**
 * The app's own catalog statements, captured for bench/baseline-server.ts's `sql` mode: a
 * catalog repository function runs once against a Kysely whose driver records what it would send.
 */
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import * as repo from '../src/modules/catalog/catalog.repo.ts';
import type { CatalogDb } from '../src/modules/catalog/catalog.tables.ts';
import { toPrefixTsQuery } from '../src/modules/catalog/search.ts';

export { repo, toPrefixTsQuery };

/** The first page's size the app asks the database for: the default page of 20, plus one to see whether more follow. */
export const FIRST_PAGE_ROWS = 21;

/** The one statement `run` sends through the app's catalog repository, with `SLOT` where the request's value goes. */
export async function captured(run: (db: repo.Db) => Promise<unknown>): Promise<CompiledQuery> {
  const sent: CompiledQuery[] = [];
  const connection: DatabaseConnection = {
    executeQuery: async (query) => {
      sent.push(query);
      return { rows: [] };
    },
    // biome-ignore lint/correctness/useYield: never streamed; the type wants a generator
    streamQuery: async function* () {
      throw new Error('not streamed');
    },
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  const db = new Kysely<CatalogDb>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  await run(db.withSchema('catalog'));
  await db.destroy();
  if (sent.length !== 1) throw new Error(`expected one statement, the repository sent ${sent.length}`);
  return sent[0]!;
}

export const SLOT = '<the request value>';
