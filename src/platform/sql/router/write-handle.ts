/**
 * The replica router's write handle: the current primary of the primary list, as a Kysely
 * instance that
 *
 * - marks the request as a writer (read-context.ts) when a statement changes a domain's data
 *   (at commit, inside a transaction), so its later reads and its read-your-writes cookie follow;
 * - turns a node failure into 503 (`unavailable`) and marks the primary suspect (re-resolution);
 * - inside `runIdempotent` (idempotent.ts), runs a statement or a whole transaction callback
 *   again after a node failure before commit, once the primary list has re-resolved: at most 3
 *   tries within 10 s. A failure at commit is never retried (the commit may have happened).
 */
import {
  type CompiledQuery,
  type ConnectionProvider,
  type DatabaseConnection,
  DefaultConnectionProvider,
  DefaultQueryExecutor,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresQueryCompiler,
  type QueryResult,
} from 'kysely';
import { dialectOf, unavailable } from './driver-support.ts';
import { isNodeFailure } from './failover-errors.ts';
import { isIdempotent } from './idempotent.ts';
import type { PrimaryList } from './primary-list.ts';
import { currentReadContext } from './read-context.ts';

export type WriteHandleOptions = Readonly<{
  primaries: PrimaryList;
  /** One statement is about to run on the primary. */
  count(): void;
  /** An idempotent statement or transaction runs again after a node failure. */
  onTransactionRetry(): void;
}>;

/** Idempotent work: tries and the time they may take in all. */
const IDEMPOTENT_TRIES = 3;
const IDEMPOTENT_WINDOW_MS = 10_000;

/** Errors the write path made from node failures, and those of them raised at commit. */
const nodeErrors = new WeakSet<object>();
const commitErrors = new WeakSet<object>();

export function createWriteHandle(options: WriteHandleOptions): Kysely<unknown> {
  const { primaries, count } = options;

  /** A node error on the write path: the primary is suspect, the caller gets 503 (or a retry). */
  function writeFailure(err: unknown, atCommit = false): unknown {
    if (!isNodeFailure(err)) return err;
    primaries.suspect((err as Error).message);
    const e = unavailable(err);
    nodeErrors.add(e);
    if (atCommit) commitErrors.add(e);
    return e;
  }

  /** A connection of the write handle: counts queries and marks the request as a writer. */
  class WriteConnection implements DatabaseConnection {
    driver: Driver;
    inner: DatabaseConnection;
    inTransaction = false;
    wroteInTransaction = false;
    constructor(driver: Driver, inner: DatabaseConnection) {
      this.driver = driver;
      this.inner = inner;
    }
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      count();
      const text = query.sql.trimStart().slice(0, 16).toLowerCase();
      if (text.startsWith('begin') || text.startsWith('start transaction')) this.inTransaction = true;
      let result: QueryResult<R>;
      try {
        result = await this.inner.executeQuery<R>(query);
      } catch (err) {
        throw writeFailure(err, text.startsWith('commit'));
      }
      if (text.startsWith('commit') || text.startsWith('rollback')) {
        if (text.startsWith('commit') && this.wroteInTransaction) markWrote();
        this.inTransaction = false;
        this.wroteInTransaction = false;
      } else if (isDomainWrite(query)) {
        if (this.inTransaction) this.wroteInTransaction = true;
        else markWrote();
      }
      return result;
    }
    streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
      count();
      return this.inner.streamQuery<R>(query, chunkSize);
    }
  }

  const writeDriver: Driver = {
    async init() {},
    async acquireConnection() {
      const driver = primaries.current().driver;
      try {
        return new WriteConnection(driver, await driver.acquireConnection());
      } catch (err) {
        throw writeFailure(err);
      }
    },
    async beginTransaction(c, s) {
      const conn = c as WriteConnection;
      try {
        await conn.driver.beginTransaction(conn.inner, s);
      } catch (err) {
        throw writeFailure(err);
      }
      conn.inTransaction = true;
    },
    async commitTransaction(c) {
      const conn = c as WriteConnection;
      try {
        await conn.driver.commitTransaction(conn.inner);
      } catch (err) {
        throw writeFailure(err, true);
      }
      if (conn.wroteInTransaction) markWrote();
      conn.inTransaction = false;
      conn.wroteInTransaction = false;
    },
    async rollbackTransaction(c) {
      const conn = c as WriteConnection;
      conn.inTransaction = false;
      conn.wroteInTransaction = false;
      try {
        await conn.driver.rollbackTransaction(conn.inner);
      } catch (err) {
        // A dead connection: the server rolled the transaction back; keep the original error.
        if (!isNodeFailure(err)) throw err;
      }
    },
    releaseConnection: (c) => (c as WriteConnection).driver.releaseConnection((c as WriteConnection).inner),
    async destroy() {},
  };

  /**
   * Every statement and transaction of the write handle acquires its connection here. Inside
   * `runIdempotent` a node failure before commit waits for the primary list to re-resolve and
   * runs the whole consumer (the transaction callback, or the statement) again.
   */
  const inner = new DefaultConnectionProvider(writeDriver);
  const retrying: ConnectionProvider = {
    async provideConnection(consumer, opts) {
      if (!isIdempotent()) return inner.provideConnection(consumer, opts);
      const deadline = Date.now() + IDEMPOTENT_WINDOW_MS;
      for (let attempt = 1; ; attempt++) {
        try {
          return await inner.provideConnection(consumer, opts);
        } catch (err) {
          const retryable =
            typeof err === 'object' && err !== null && nodeErrors.has(err) && !commitErrors.has(err);
          if (!retryable || attempt >= IDEMPOTENT_TRIES || Date.now() >= deadline) throw err;
          if (!(await primaries.waitForPrimary(deadline))) throw err;
          options.onTransactionRetry();
        }
      }
    },
  };

  const dialect = dialectOf(writeDriver);
  return new Kysely<unknown>({
    config: { dialect },
    dialect,
    driver: writeDriver,
    executor: new DefaultQueryExecutor(new PostgresQueryCompiler(), new PostgresAdapter(), retrying, []),
  });
}

/** A request wrote: its later reads go to the primary, and the edge records the new position. */
function markWrote(): void {
  const ctx = currentReadContext();
  if (ctx) ctx.wrote = true;
}

const WRITE_NODES = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);
const RAW_WRITE =
  /^\s*(insert|update|delete|merge)\b|^\s*with\b[\s\S]*\b(insert\s+into|update|delete\s+from)\b/i;
/** Writes to the `platform` schema (sessions, kv, jobs, clickstream) are not domain data. */
const PLATFORM_WRITE = /^\s*(insert\s+into|update|delete\s+from|merge\s+into)\s+"?platform"?\./i;

/** True when the statement changes a domain's data (not the platform's bookkeeping). */
function isDomainWrite(query: CompiledQuery): boolean {
  const kind = query.query.kind;
  const write = WRITE_NODES.has(kind) || (kind === 'RawNode' && RAW_WRITE.test(query.sql));
  return write && !PLATFORM_WRITE.test(query.sql);
}
