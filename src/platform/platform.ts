/**
 * The only place where adapters are chosen, once, from typed configuration. Everything else
 * receives the ports it needs.
 */
import type { Config } from '../config/config.ts';
import type { SessionStore } from './sessions/sessions.ts';
import { createSqlSessionStore } from './sessions/sql/sql-sessions.ts';
import { createPgliteSql } from './sql/pglite/pglite-sql.ts';
import { createPostgresSql } from './sql/postgres/postgres-sql.ts';
import type { SqlPort } from './sql/sql.ts';

export type Platform = Readonly<{
  sql: SqlPort;
  sessions: SessionStore;
  /** Closes every adapter; idempotent. */
  close(): Promise<void>;
}>;

export type PlatformOptions = Readonly<{
  /** PGlite in memory instead of under DATA_DIR (tests). Ignored when DATABASE_URL is set. */
  inMemory?: boolean;
  /** Names this process in the database's activity views (`web`, `worker`, `cli`). */
  processName?: string;
}>;

export async function createPlatform(config: Config, options: PlatformOptions = {}): Promise<Platform> {
  const sql = config.databaseUrl
    ? await createPostgresSql({
        url: config.databaseUrl,
        poolSize: config.databasePoolSize,
        applicationName: `bazaar-${options.processName ?? 'web'}`,
      })
    : await createPgliteSql({ dataDir: options.inMemory ? undefined : config.dataDir });

  const sessions = createSqlSessionStore(sql, {
    idleMs: config.sessionIdleTtlMs,
    absoluteMs: config.sessionAbsoluteTtlMs,
  });

  return Object.freeze({ sql, sessions, close: () => sql.close() });
}
