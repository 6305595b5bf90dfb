/**
 * Read-your-writes for jobs and events: the jobs port's read position (jobs.ts,
 * `JobReadPosition`) from the replica router. A job carries the primary's WAL position at the
 * time it was sent; its handler runs in a read context with that `minLsn`, so its reads use a
 * replica only once the replica has replayed it (else the primary), exactly like the next
 * request of a client that wrote (http/read-your-writes.ts).
 *
 * What a job carries:
 * - Sent from a request that wrote: the primary's position now (one query).
 * - Sent from a request that did not write: the position the request itself had to observe
 *   (its read-your-writes cookie), or nothing.
 * - Sent outside any request (worker, CLI: whether they wrote is not tracked): the primary's
 *   position now.
 * - Sent inside a transaction (the outbox relay publishing events): the position read in that
 *   transaction, once per transaction. It covers every change committed before the transaction
 *   read it, which is what a relayed event's consumers need: the rows the relay picked up were
 *   committed by the change that emitted them. It does not cover that transaction's own later
 *   statements.
 */
import { CompiledQuery } from 'kysely';
import type { JobReadPosition, SqlExecutor } from '../../jobs/jobs.ts';
import { formatLsn, parseLsn } from './lsn.ts';
import { currentReadContext, newReadContext, runInReadContext } from './read-context.ts';
import type { ReplicaRouter } from './replica-router.ts';

export function jobReadPosition(router: Pick<ReplicaRouter, 'primaryLsn'>): JobReadPosition {
  const inTransaction = new WeakMap<SqlExecutor, Promise<string | undefined>>();
  return {
    async capture(tx) {
      if (tx) {
        let position = inTransaction.get(tx);
        if (!position) {
          position = tx
            .executeQuery<{ lsn: string }>(CompiledQuery.raw('select pg_current_wal_lsn()::text as lsn'))
            .then((r) => r.rows[0]?.lsn);
          inTransaction.set(tx, position);
        }
        return position;
      }
      const ctx = currentReadContext();
      if (ctx && !ctx.wrote) return ctx.minLsn === undefined ? undefined : formatLsn(ctx.minLsn);
      return formatLsn(await router.primaryLsn());
    },
    run(token, fn) {
      return runInReadContext(newReadContext(parseLsn(token)), fn);
    },
  };
}
