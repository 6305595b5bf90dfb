/**
 * What both adapters share: per-domain handles over Kysely instances, migrations, ping and the
 * idempotent-work mark (router/idempotent.ts; only the replica router's write handle acts on it).
 * An adapter supplies the Kysely instances (primary and, later, a read router) and a closer.
 */
import { type Kysely, sql } from 'kysely';
import { AppError } from '../../shared/errors.ts';
import { pendingMigrations, runMigrations } from './migrations.ts';
import { attachQueryCounter, createQueryCounter } from './query-counter.ts';
import { runIdempotent } from './router/idempotent.ts';
import type { Domain, DomainDb, SqlPort } from './sql.ts';

export type KyselySqlPortOptions = Readonly<{
  backend: SqlPort['backend'];
  /** The primary: writes, transactions, migrations. */
  primary: Kysely<unknown>;
  /** Where stale-tolerant reads go; the primary until replicas exist. */
  reader?: Kysely<unknown>;
  /** Releases everything the adapter opened; called once. */
  close: () => Promise<void>;
}>;

export function kyselySqlPort(options: KyselySqlPortOptions): SqlPort {
  const counter = createQueryCounter();
  const primary = options.primary.withPlugin(counter.plugin);
  const reader = (options.reader ?? options.primary).withPlugin(counter.plugin);
  const { backend } = options;
  const handles = new Map<Domain, DomainDb<unknown>>();
  let closing: Promise<void> | undefined;

  const port: SqlPort = {
    backend,
    for<DB>(domain: Domain): DomainDb<DB> {
      let handle = handles.get(domain);
      if (!handle) {
        handle = Object.freeze({ read: reader.withSchema(domain), write: primary.withSchema(domain) });
        handles.set(domain, handle);
      }
      return handle as DomainDb<DB>;
    },
    migrate: (sets, onApplied) => runMigrations(options.primary, sets, onApplied),
    pending: (sets) => pendingMigrations(options.primary, sets),
    idempotent: runIdempotent,
    async ping(timeoutMs = 2000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new AppError('UNAVAILABLE', `database did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([sql`select 1`.execute(options.primary), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      closing ??= options.close();
      return closing;
    },
  };
  attachQueryCounter(port, counter);
  return port;
}
