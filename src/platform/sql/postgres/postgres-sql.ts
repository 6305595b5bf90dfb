/**
 * PostgreSQL adapter: a `pg` pool per database behind Kysely. `int8` values (counts, sums) are
 * returned as JavaScript numbers, as PGlite does, so results are identical on both adapters;
 * the application keeps such values below 2^53.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { kyselySqlPort } from '../kysely-sql-port.ts';
import { createReplicatedSql, type ReplicaSettings } from '../router/replicated-sql.ts';
import type { SqlPort } from '../sql.ts';
import { PreparingClient } from './preparing-client.ts';

pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type PostgresSqlOptions = Readonly<{
  url: string;
  poolSize: number;
  /** Shown in `pg_stat_activity`, so operators can tell processes apart. */
  applicationName?: string;
  /** Read replicas behind the replica router (src/platform/sql/router); none: reads on the primary. */
  replicas?: ReplicaSettings;
  /** More hosts that may become the primary (DATABASE_FAILOVER_URLS): the standby, then others. */
  failoverUrls?: readonly string[];
  /**
   * `pgbouncer-transaction`: the URLs lead to PgBouncer in transaction mode, which refuses
   * startup parameters it does not track (statement_timeout): the timeout is then the server's
   * (`ALTER DATABASE … SET statement_timeout`, which `bazaar stack db --pgbouncer` does).
   * Nor are precompiled queries prepared by name (preparing-client.ts): a statement prepared on
   * one server connection would be unknown on the next. Every domain handle names its schema in
   * the SQL (`withSchema`), never through `SET search_path`.
   */
  pooler?: 'none' | 'pgbouncer-transaction';
}>;

/** What `bazaar stack db --pgbouncer` and the docs set server-side when a pooler drops it. */
export const STATEMENT_TIMEOUT_MS = 30_000;

export async function createPostgresSql(options: PostgresSqlOptions): Promise<SqlPort> {
  const poolOptions: pg.PoolConfig = {
    connectionString: options.url,
    max: options.poolSize,
    application_name: options.applicationName ?? 'bazaar',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    ...(options.pooler === 'pgbouncer-transaction'
      ? {}
      : { statement_timeout: STATEMENT_TIMEOUT_MS, Client: PreparingClient }),
  };
  const failover = options.failoverUrls ?? [];
  if ((options.replicas && options.replicas.urls.length > 0) || failover.length > 0) {
    return createReplicatedSql({
      primaryUrls: [options.url, ...failover],
      replicas: options.replicas ?? {
        urls: [],
        poolSize: options.poolSize,
        policy: 'least-lag',
        maxLagMs: 1000,
        checkIntervalMs: 1000,
      },
      poolOptions,
    });
  }
  const pool = new pg.Pool(poolOptions);
  // An idle client losing its server must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Nor a checked-out one (the pool listens only to idle clients): its query fails instead.
  pool.on('connect', (client) => client.on('error', () => {}));
  const primary = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  return kyselySqlPort({ backend: 'postgres', primary, close: () => primary.destroy() });
}
