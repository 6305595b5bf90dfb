/**
 * Embedded adapter: PGlite, real Postgres (the same SQL, full-text search and JSONB) in this
 * process. File-backed under `<dataDir>/pglite`, or in memory when `dataDir` is undefined (tests).
 * Limits: one connection, so queries run one at a time; one process may open a data directory
 * (enforced: data-dir-lock.ts); a buffer cache of SHARED_BUFFERS (pages beyond it are read
 * again through the OS page cache).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import { kyselySqlPort } from '../kysely-sql-port.ts';
import type { SqlPort } from '../sql.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { PgliteDialect } from './pglite-dialect.ts';

/**
 * PostgreSQL's default of 128 MB is resident in the process from the start (PGlite clears it when
 * it opens); a solo shop's hot pages fit in far less, and a miss costs a read from the OS cache.
 */
const SHARED_BUFFERS = '16MB';

export async function createPgliteSql(options: { dataDir?: string | undefined } = {}): Promise<SqlPort> {
  return (await openPglite(options)).sql;
}

/**
 * The port together with what an adapter of another port on the same database needs (pg-boss):
 * the PGlite instance, and the Kysely instance whose driver lends its single connection
 * (`primary.connection().execute(…)` holds it). Never handed to modules.
 */
export async function openPglite(
  options: { dataDir?: string | undefined } = {},
): Promise<{ sql: SqlPort; pglite: PGlite; primary: Kysely<unknown> }> {
  let dir: string | undefined;
  let unlock = () => {};
  if (options.dataDir !== undefined) {
    dir = join(options.dataDir, 'pglite');
    await mkdir(dir, { recursive: true });
    unlock = lockDataDir(dir);
  }
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(dir, {
      startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`],
    });
  } catch (err) {
    unlock();
    throw err;
  }
  const primary = new Kysely<unknown>({ dialect: new PgliteDialect(pglite) });
  const sql = kyselySqlPort({
    backend: 'pglite',
    primary,
    close: async () => {
      try {
        await primary.destroy();
      } finally {
        unlock();
      }
    },
  });
  return { sql, pglite, primary };
}
