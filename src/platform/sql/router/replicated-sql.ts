/**
 * The PostgreSQL adapter with read replicas and/or failover hosts: `write` is the primary (the
 * first read-write host of the primary list, re-resolved on node failures), `read` the router.
 * `routerOf(sql)` gives the router (status for /readyz, counters, the primary's WAL position for
 * read-your-writes) without widening the SQL port; it is undefined for a port without replicas.
 */
import pg from 'pg';
import { kyselySqlPort } from '../kysely-sql-port.ts';
import type { SqlPort } from '../sql.ts';
import { createPrimaryList } from './primary-list.ts';
import { createReplicaRouter, type ReadPolicy, type ReplicaRouter } from './replica-router.ts';

export type ReplicaSettings = Readonly<{
  urls: readonly string[];
  poolSize: number;
  policy: ReadPolicy;
  maxLagMs: number;
  checkIntervalMs: number;
}>;

export type ReplicatedSqlOptions = Readonly<{
  /** DATABASE_URL, then DATABASE_FAILOVER_URLS (primary-list.ts). */
  primaryUrls: readonly string[];
  replicas: ReplicaSettings;
  poolOptions: pg.PoolConfig;
}>;

const routers = new WeakMap<SqlPort, ReplicaRouter>();

/** The replica router behind `sql`, if it has one. */
export function routerOf(sql: SqlPort): ReplicaRouter | undefined {
  return routers.get(sql);
}

export async function createReplicatedSql(options: ReplicatedSqlOptions): Promise<SqlPort> {
  const replicas = options.replicas.urls.map((url, i) => {
    const pool = new pg.Pool({
      ...options.poolOptions,
      connectionString: url,
      max: options.replicas.poolSize,
      application_name: `${options.poolOptions.application_name ?? 'bazaar'}-replica${i + 1}`,
    });
    pool.on('error', () => {});
    pool.on('connect', quietClient);
    return { name: `replica${i + 1}`, pool };
  });
  const primary = await createPrimaryList(options.primaryUrls, options.poolOptions, quietClient);
  const router = await createReplicaRouter({
    primary,
    replicas,
    policy: options.replicas.policy,
    maxLagMs: options.replicas.maxLagMs,
    checkIntervalMs: options.replicas.checkIntervalMs,
  });
  const port = kyselySqlPort({
    backend: 'postgres',
    primary: router.writer,
    reader: router.reader,
    close: () => router.close(),
  });
  routers.set(port, router);
  return port;
}

/**
 * A checked-out client whose server goes away emits 'error' outside any query; the next query on
 * it fails and the router handles that. Without a listener the event would crash the process.
 */
function quietClient(client: pg.PoolClient): void {
  client.on('error', () => {});
}
