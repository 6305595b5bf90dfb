/**
 * Per-domain migrations with Kysely's migrator: SQL files under `migrations/<domain>/`, the
 * bookkeeping tables in the domain's own schema (`<domain>.kysely_migration`), so a domain's
 * history moves with it when it gets its own database.
 *
 * Concurrency: each domain's set runs in one transaction that first takes a transaction-level
 * advisory lock (`pg_advisory_xact_lock`), so concurrent `migrate` calls from several processes
 * apply each migration once. Kysely's own lock is a session-level `pg_advisory_lock` taken on a
 * connection outside the transaction: behind PgBouncer in transaction mode the lock, the
 * transaction and the unlock may each land on a different server connection, and a lock left on
 * a pooled server connection blocks every later migration. A transaction-level lock lives and
 * dies with the transaction, whatever pools the connections; Kysely's lock is made a no-op.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Kysely, PostgresAdapter, sql, type Transaction } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import { AppError } from '../../shared/errors.ts';
import type { Domain, MigrationReport, MigrationSet } from './sql.ts';

const FILE = /^\d{4}_[a-z0-9_]+\.sql$/;

class SqlFileProvider implements MigrationProvider {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }
  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.dir)).filter((f) => FILE.test(f)).sort();
    const out: Record<string, Migration> = {};
    for (const file of files) {
      const text = await readFile(join(this.dir, file), 'utf8');
      // No parameters: both adapters send this through the simple protocol, so a file may
      // hold several statements. Files name their tables with the schema (`catalog.products`);
      // the migrator creates the schema itself, safely under concurrency.
      out[file.replace(/\.sql$/, '')] = { up: async (db) => void (await sql.raw(text).execute(db)) };
    }
    return out;
  }
}

/** Any 64-bit constant; the same in every process. */
const LOCK_ID = '3853314791062309108';

/** Kysely's Postgres adapter without its session-level lock: the caller holds the xact lock. */
class XactLockedAdapter extends PostgresAdapter {
  override async acquireMigrationLock(): Promise<void> {}
  override async releaseMigrationLock(): Promise<void> {}
}
const xactLocked = new XactLockedAdapter();

/**
 * `trx` as the migrator sees it: the same transaction, whose executor reports an adapter
 * without the session lock. (A Proxy rather than a subclass: Kysely's classes keep their
 * state in private fields, so methods are bound to the real transaction.)
 */
function withoutSessionLock(trx: Transaction<unknown>): Kysely<unknown> {
  const executor = trx.getExecutor();
  const patchedExecutor = new Proxy(executor, {
    get: (target, prop) => (prop === 'adapter' ? xactLocked : bound(target, prop)),
  });
  return new Proxy(trx, {
    get: (target, prop) => (prop === 'getExecutor' ? () => patchedExecutor : bound(target, prop)),
  });
}

function bound(target: object, prop: string | symbol): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === 'function' ? value.bind(target) : value;
}

function migratorFor(root: Kysely<unknown>, set: MigrationSet): Migrator {
  return new Migrator({
    db: root,
    provider: new SqlFileProvider(set.dir),
    migrationTableSchema: set.domain,
  });
}

export async function runMigrations(
  root: Kysely<unknown>,
  sets: readonly MigrationSet[],
  onApplied?: (domain: Domain, name: string) => void,
): Promise<MigrationReport[]> {
  const reports: MigrationReport[] = [];
  for (const set of sets) {
    const applied = await root.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${sql.raw(LOCK_ID)})`.execute(trx);
      const { error, results = [] } = await migratorFor(withoutSessionLock(trx), set).migrateToLatest();
      if (error) {
        const failed = results.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
        throw new AppError(
          'UNAVAILABLE',
          `migration ${set.domain}/${failed}.sql failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
    });
    for (const name of applied) onApplied?.(set.domain, name);
    reports.push({ domain: set.domain, applied });
  }
  return reports;
}

export async function pendingMigrations(
  root: Kysely<unknown>,
  sets: readonly MigrationSet[],
): Promise<string[]> {
  const pending: string[] = [];
  for (const set of sets) {
    const all = await migratorFor(root, set).getMigrations();
    for (const m of all) if (!m.executedAt) pending.push(`${set.domain}/${m.name}`);
  }
  return pending;
}
