/**
 * The replica router's read handle: a Kysely driver that picks a node per connection
 * acquisition (a statement, or a whole `read` transaction).
 *
 * - **Choice.** Healthy replicas that have replayed the request's `minLsn` (read-your-writes,
 *   see read-context.ts) are candidates; `least-lag` takes the one with the least lag (ties in
 *   turn), `round-robin` takes them in turn. A request that wrote reads from the primary. No
 *   candidate: the primary (a stickiness hit when replicas were healthy but behind the request's
 *   position, else a fallback).
 * - **Retries.** A read whose connection or query fails with a node error (failover-errors.ts),
 *   outside a transaction, is retried on another node after 25, 50, 100 ms, the failed replica
 *   taken out; the primary last. Otherwise the error becomes 503 (`unavailable`).
 */
import type { CompiledQuery, DatabaseConnection, Driver, QueryResult, TransactionSettings } from 'kysely';
import { sleep, unavailable } from './driver-support.ts';
import { isNodeFailure } from './failover-errors.ts';
import type { PrimaryList } from './primary-list.ts';
import { currentReadContext } from './read-context.ts';
import type { Replica, ReplicaPoller } from './replica-poller.ts';

export type ReadPolicy = 'least-lag' | 'round-robin';

/** The node a connection was taken from. */
export type Target = Readonly<{
  name: string;
  role: 'primary' | 'replica';
  driver: Driver;
  replica?: Replica;
}>;

export type ReadDriverOptions = Readonly<{
  primaries: PrimaryList;
  poller: ReplicaPoller;
  policy: ReadPolicy;
  /** One statement is about to run on `target`. */
  count(target: Target): void;
  /** A read went to the primary because replicas were behind the request (`stickiness`) or none was healthy. */
  onPrimaryRead(why: 'stickiness' | 'fallback'): void;
  /** A read is tried again on another node. */
  onRetry(): void;
}>;

const BACKOFF_MS = [25, 50, 100];

export function createReadDriver(options: ReadDriverOptions): Driver {
  const { primaries, poller, count } = options;
  let turn = 0;
  const primaryTarget = (): Target => ({
    name: 'primary',
    role: 'primary',
    driver: primaries.current().driver,
  });

  /** The node for the next read, skipping `tried`. */
  function pick(tried: ReadonlySet<string>): Target {
    const ctx = currentReadContext();
    const healthy = poller.replicas.filter((r) => r.up && !tried.has(r.name));
    if (ctx?.wrote) {
      options.onPrimaryRead('stickiness');
      return primaryTarget();
    }
    const min = ctx?.minLsn;
    const caughtUp =
      min === undefined ? healthy : healthy.filter((r) => r.replayLsn !== undefined && r.replayLsn >= min);
    if (caughtUp.length === 0) {
      options.onPrimaryRead(healthy.length > 0 ? 'stickiness' : 'fallback');
      return primaryTarget();
    }
    let chosen: Replica;
    if (options.policy === 'round-robin') {
      chosen = caughtUp[turn++ % caughtUp.length]!;
    } else {
      const least = Math.min(...caughtUp.map((r) => r.lagMs ?? 0));
      const best = caughtUp.filter((r) => (r.lagMs ?? 0) === least);
      chosen = best[turn++ % best.length]!;
    }
    return { name: chosen.name, role: 'replica', driver: chosen.driver, replica: chosen };
  }

  /**
   * A connection of the read handle. Outside a transaction a query that fails with a node error
   * moves to another node (the failed one is taken out) and runs again there.
   */
  class RoutedConnection implements DatabaseConnection {
    target: Target;
    inner: DatabaseConnection;
    inTransaction = false;
    constructor(target: Target, inner: DatabaseConnection) {
      this.target = target;
      this.inner = inner;
    }
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      const tried = new Set<string>();
      for (let attempt = 0; ; attempt++) {
        count(this.target);
        try {
          return await this.inner.executeQuery<R>(query);
        } catch (err) {
          if (!isNodeFailure(err)) throw err;
          if (this.target.role === 'primary') primaries.suspect((err as Error).message);
          if (this.inTransaction || attempt >= BACKOFF_MS.length) throw unavailable(err);
          if (this.target.replica)
            poller.takeOut(this.target.replica, `query failed: ${(err as Error).message}`);
          tried.add(this.target.name);
          options.onRetry();
          await sleep(BACKOFF_MS[attempt]!);
          await this.target.driver.releaseConnection(this.inner).catch(() => {});
          const next = pick(tried);
          try {
            this.inner = await next.driver.acquireConnection();
            this.target = next;
          } catch (acquireErr) {
            throw unavailable(acquireErr);
          }
        }
      }
    }
    streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
      count(this.target);
      return this.inner.streamQuery<R>(query, chunkSize);
    }
    async begin(settings: TransactionSettings): Promise<void> {
      await this.target.driver.beginTransaction(this.inner, settings);
      this.inTransaction = true;
    }
    async commit(): Promise<void> {
      this.inTransaction = false;
      await this.target.driver.commitTransaction(this.inner);
    }
    async rollback(): Promise<void> {
      this.inTransaction = false;
      await this.target.driver.rollbackTransaction(this.inner);
    }
    release(): Promise<void> {
      return this.target.driver.releaseConnection(this.inner);
    }
  }

  return {
    async init() {},
    async acquireConnection() {
      const tried = new Set<string>();
      for (let attempt = 0; ; attempt++) {
        const target = pick(tried);
        try {
          const inner = await target.driver.acquireConnection();
          return new RoutedConnection(target, inner);
        } catch (err) {
          if (!isNodeFailure(err)) throw err;
          if (target.role === 'primary') primaries.suspect((err as Error).message);
          if (target.role === 'primary' || attempt >= BACKOFF_MS.length) throw unavailable(err);
          poller.takeOut(target.replica!, `query failed: ${(err as Error).message}`);
          tried.add(target.name);
          options.onRetry();
          await sleep(BACKOFF_MS[attempt]!);
        }
      }
    },
    beginTransaction: (c, s) => (c as RoutedConnection).begin(s),
    commitTransaction: (c) => (c as RoutedConnection).commit(),
    rollbackTransaction: (c) => (c as RoutedConnection).rollback(),
    releaseConnection: (c) => (c as RoutedConnection).release(),
    async destroy() {},
  };
}
