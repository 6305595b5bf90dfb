/**
 * Per-domain migrations with Kysely's migrator: SQL files under `migrations/<domain>/`, the
 * bookkeeping tables in the domain's own schema (`<domain>.kysely_migration`), so a domain's
 * history moves with it when it gets its own database. The migrator holds a Postgres advisory
 * lock while it works, which makes concurrent `migrate` calls from several processes safe.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
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
    const { error, results = [] } = await migratorFor(root, set).migrateToLatest();
    const applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
    for (const name of applied) onApplied?.(set.domain, name);
    if (error) {
      const failed = results.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new AppError(
        'UNAVAILABLE',
        `migration ${set.domain}/${failed}.sql failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
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
