/**
 * Counts the SQL statements run through the domain handles of a SQL port: a Kysely plugin that
 * `kyselySqlPort` puts on both handles (read and write, transactions included), so every adapter
 * (PGlite, PostgreSQL, the replica router) is counted at this one seam. A statement is counted
 * when it completes; transaction begin/commit/rollback, migrations and pings are not. Each count
 * goes to the port's total and to the running HTTP request's counts (request-counters.ts).
 */
import type { KyselyPlugin } from 'kysely';
import { currentRequestCounts } from '../telemetry/request-counters.ts';
import type { SqlPort } from './sql.ts';

export type QueryCounter = Readonly<{
  plugin: KyselyPlugin;
  /** Statements completed since the port opened. */
  total(): number;
}>;

export function createQueryCounter(): QueryCounter {
  let total = 0;
  return {
    plugin: {
      transformQuery: (args) => args.node,
      async transformResult(args) {
        total++;
        const counts = currentRequestCounts();
        if (counts) counts.dbQueries++;
        return args.result;
      },
    },
    total: () => total,
  };
}

const counters = new WeakMap<SqlPort, QueryCounter>();

/** Records the counter of a port (kyselySqlPort does). */
export function attachQueryCounter(sql: SqlPort, counter: QueryCounter): void {
  counters.set(sql, counter);
}

/** Statements completed through `sql`'s domain handles since it opened; 0 for a port without a counter. */
export function queryCountOf(sql: SqlPort): number {
  return counters.get(sql)?.total() ?? 0;
}
