/**
 * Which real engines the tests can reach. PGlite always; PostgreSQL when DATABASE_URL is set
 * (each test file gets a fresh database of its own on that server, dropped afterwards). With
 * BAZAAR_REQUIRE_ENGINES=1 (CI) a missing engine fails the run instead of skipping.
 *
 * With DATABASE_REPLICA_URLS also set (streaming replicas of DATABASE_URL's server, as
 * scripts/test-with-replicas.sh makes them), every fresh database is read through those
 * replicas too: `createDatabase` waits until each replica has the new database and returns
 * their URLs for it, which the test app and `openPlatformSql` configure.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createPgliteSql } from '../../src/platform/sql/pglite/pglite-sql.ts';
import { createPostgresSql } from '../../src/platform/sql/postgres/postgres-sql.ts';
import type { SqlPort } from '../../src/platform/sql/sql.ts';

export type Backend = Readonly<{
  name: 'pglite' | 'postgres';
  /** A reason to skip, or undefined when this backend can run. */
  skip: string | undefined;
  /**
   * Creates an empty database and returns its URL (undefined for PGlite: in memory) and, when
   * replicas are configured, the replicas' URLs of the same database.
   */
  createDatabase(): Promise<{ url: string | undefined; replicaUrls?: string; drop(): Promise<void> }>;
}>;

const required = process.env['BAZAAR_REQUIRE_ENGINES'] === '1';
const adminUrl = process.env['DATABASE_URL'];
const replicaUrls = (process.env['DATABASE_REPLICA_URLS'] ?? '')
  .split(',')
  .map((u) => u.trim())
  .filter(Boolean);

/** `url` with its database name replaced. */
function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Waits (up to 30 s) until every replica has replayed the creation of database `name`. */
async function replicasHave(name: string): Promise<void> {
  const end = Date.now() + 30_000;
  for (const replica of replicaUrls) {
    for (;;) {
      const c = new pg.Client({
        connectionString: withDatabase(replica, name),
        connectionTimeoutMillis: 3000,
      });
      c.on('error', () => {});
      try {
        await c.connect();
        break;
      } catch (err) {
        if (Date.now() > end)
          throw new Error(
            `replica ${new URL(replica).host} never got database ${name}: ${(err as Error).message}`,
          );
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        await c.end().catch(() => {});
      }
    }
  }
}

async function reachable(url: string): Promise<string | undefined> {
  // Generous: an absent server refuses at once; a present one on a loaded machine may be slow.
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL at DATABASE_URL is not reachable (${(err as Error).message})`;
  } finally {
    await client.end().catch(() => {});
  }
}

const postgresSkip: string | undefined = adminUrl
  ? await reachable(adminUrl)
  : 'DATABASE_URL is not set; set it to run the PostgreSQL suites (CI always does)';

if (postgresSkip && required) {
  throw new Error(`BAZAAR_REQUIRE_ENGINES=1 but ${postgresSkip}`);
}

export const pglite: Backend = {
  name: 'pglite',
  skip: undefined,
  createDatabase: async () => ({ url: undefined, drop: async () => {} }),
};

export const postgres: Backend = {
  name: 'postgres',
  skip: postgresSkip,
  async createDatabase() {
    const name = `bazaar_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`create database ${name}`);
    } finally {
      await admin.end();
    }
    if (replicaUrls.length > 0) await replicasHave(name);
    return {
      url: withDatabase(adminUrl!, name),
      ...(replicaUrls.length > 0
        ? { replicaUrls: replicaUrls.map((r) => withDatabase(r, name)).join(',') }
        : {}),
      async drop() {
        const c = new pg.Client({ connectionString: adminUrl });
        await c.connect();
        try {
          await c.query(`drop database if exists ${name} with (force)`);
        } finally {
          await c.end();
        }
      },
    };
  },
};

/** Every SQL backend; suites run once per entry and skip with the printed reason. */
export const BACKENDS: readonly Backend[] = [pglite, postgres];

const redisUrl = process.env['REDIS_URL'];

async function redisReachable(url: string): Promise<string | undefined> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (err) {
    return `Redis at REDIS_URL is not reachable (${(err as Error).message})`;
  } finally {
    client.disconnect();
  }
}

const redisSkip: string | undefined = redisUrl
  ? await redisReachable(redisUrl)
  : 'REDIS_URL is not set; set it to run the Redis suites (CI always does)';

if (redisSkip && required) {
  throw new Error(`BAZAAR_REQUIRE_ENGINES=1 but ${redisSkip}`);
}

/**
 * Redis, when REDIS_URL is set and answers. Suites share the server: each test works under its
 * own random key prefix and deletes only those keys (never FLUSHALL/FLUSHDB).
 */
export const redis: Readonly<{ url: string | undefined; skip: string | undefined; prefix(): string }> = {
  url: redisUrl,
  skip: redisSkip,
  prefix: () => `bazaar-test:${randomBytes(6).toString('hex')}:`,
};

/**
 * A fresh database on `backend` with the platform schema migrated, for the contract suites of
 * ports whose SQL adapters keep their tables there (sessions, kv, stream).
 */
export async function openPlatformSql(
  backend: Backend,
  poolSize = 4,
): Promise<{ port: SqlPort; teardown(): Promise<void> }> {
  const db = await backend.createDatabase();
  const port = db.url
    ? await createPostgresSql({
        url: db.url,
        poolSize,
        ...(db.replicaUrls
          ? {
              replicas: {
                urls: db.replicaUrls.split(','),
                poolSize,
                policy: 'least-lag' as const,
                maxLagMs: 1000,
                checkIntervalMs: 1000,
              },
            }
          : {}),
      })
    : await createPgliteSql();
  await port.migrate([
    { domain: 'platform', dir: fileURLToPath(new URL('../../migrations/platform/', import.meta.url)) },
  ]);
  return {
    port,
    async teardown() {
      await port.close();
      await db.drop();
    },
  };
}
