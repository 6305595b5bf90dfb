/**
 * SQL port. Each business domain reaches its tables only through its own handle,
 * `sql.for('<domain>')`, whose queries resolve unqualified table names in the domain's Postgres
 * schema. Today every handle may point at the same database; federation later maps domains to
 * different databases, and replicas give `read` its own nodes, without any change in modules.
 */
import type { Kysely } from 'kysely';

export const DOMAINS = [
  'platform',
  'users',
  'catalog',
  'media',
  'reviews',
  'cart',
  'orders',
  'analytics',
  'notifications',
] as const;
export type Domain = (typeof DOMAINS)[number];

/** One domain's database, split by intent so that replicas can take the reads later. */
export interface DomainDb<DB> {
  /** Reads that tolerate staleness: catalog pages, listings, search. May be served by a replica. */
  readonly read: Kysely<DB>;
  /** Writes, transactions, and reads that must see the latest committed state. Always the primary. */
  readonly write: Kysely<DB>;
}

/** A domain's migrations: `NNNN_name.sql` files in `dir`, applied in name order, each once. */
export type MigrationSet = Readonly<{ domain: Domain; dir: string }>;

export type MigrationReport = Readonly<{ domain: Domain; applied: readonly string[] }>;

export interface SqlPort {
  /** Which adapter serves this port (`pglite` embedded, `postgres` a server). */
  readonly backend: 'pglite' | 'postgres';
  /** The handle of one domain; cheap, may be called per request; the same object for a domain. */
  for<DB>(domain: Domain): DomainDb<DB>;
  /**
   * Applies every pending migration of the given sets, each set in its own schema; a set's
   * pending migrations apply in one transaction, all or none. Safe to run from several processes
   * at once (advisory lock); calls `onApplied` per migration. Throws, naming the failing file.
   */
  migrate(
    sets: readonly MigrationSet[],
    onApplied?: (domain: Domain, name: string) => void,
  ): Promise<MigrationReport[]>;
  /** Names of migrations of the given sets not yet applied; empty when the schema is current. */
  pending(sets: readonly MigrationSet[]): Promise<string[]>;
  /**
   * Runs `fn` (and everything it starts) as work that is safe to run twice, such as checkout under
   * its Idempotency-Key, and returns what it returns. Behind the replica router a write-handle
   * transaction or statement in it that fails with a node error before commit runs again on the
   * re-resolved primary (at most 3 tries within 10 s) instead of failing with UNAVAILABLE; never
   * after a failure at commit. Elsewhere it only runs `fn`.
   */
  idempotent<T>(fn: () => T): T;
  /** Resolves when the database answers a trivial query within `timeoutMs`; rejects otherwise. */
  ping(timeoutMs?: number): Promise<void>;
  /** Closes every connection; pending queries finish first. Idempotent. */
  close(): Promise<void>;
}
