/**
 * Replica router: decides, per connection acquisition of the `read` handle, which node serves it.
 *
 * - **Health and lag.** A poller asks the primary for `pg_current_wal_lsn()` and every replica for
 *   `pg_is_in_recovery()` and `pg_last_wal_replay_lsn()` every `checkIntervalMs`. The primary's
 *   answers form a history of (time, LSN) samples. A replica's **lag** is the age of the oldest
 *   WAL it has not replayed: 0 when its replay LSN has reached the primary's latest sample,
 *   otherwise now minus the time of the first sample whose LSN it has not reached. Unlike
 *   `now() - pg_last_xact_replay_timestamp()` this stays 0 on an idle system, and it needs no
 *   clock agreement between servers; its resolution is the poll interval.
 * - A replica is **healthy** when its last poll succeeded, it is in recovery, it follows the
 *   current primary, and its lag is at most `maxLagMs`. One that fails a poll, or fails a query
 *   with a node error, is taken out at once and put back by the next successful poll.
 * - **Following the primary.** After a promotion, a replica still pointed at the old primary
 *   (or one that replayed WAL the new primary never had, and cannot switch timelines) replays
 *   nothing more, and its replay position may even be past the new primary's: by lag alone it
 *   would look current. So the poll also reads the primary's timeline (from its current WAL file
 *   name) and the replica's WAL receiver (`pg_stat_wal_receiver`): a replica receiving another
 *   timeline is out at once; one with no streaming receiver while the primary answers is out
 *   from its second such poll (a receiver restarting is not a reason). The receiver's columns
 *   need `pg_read_all_stats` (or superuser); without them only the lag rule applies.
 * - **Choice.** Healthy replicas that have replayed the request's `minLsn` (read-your-writes,
 *   see read-context.ts) are candidates; `least-lag` takes the one with the least lag (ties in
 *   turn), `round-robin` takes them in turn. A request that wrote reads from the primary. No
 *   candidate: the primary (a stickiness hit when replicas were healthy but behind the request's
 *   position, else a fallback).
 * - **Retries.** A read whose connection or query fails with a node error (failover-errors.ts),
 *   outside a transaction, is retried on another node after 25, 50, 100 ms; the primary last.
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
  PostgresDriver,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type pg from 'pg';
import { AppError } from '../../../shared/errors.ts';
import { isNodeFailure } from './failover-errors.ts';
import { isIdempotent } from './idempotent.ts';
import { formatLsn, parseLsn } from './lsn.ts';
import type { PrimaryList } from './primary-list.ts';
import { currentReadContext } from './read-context.ts';

export type ReadPolicy = 'least-lag' | 'round-robin';

export type RouterOptions = Readonly<{
  /** The primary and its failover hosts (primary-list.ts). */
  primary: PrimaryList;
  replicas: readonly Readonly<{ name: string; pool: pg.Pool }>[];
  policy: ReadPolicy;
  maxLagMs: number;
  checkIntervalMs: number;
  /** Time source (tests). */
  now?: () => number;
}>;

export type NodeStatus = Readonly<{
  name: string;
  role: 'primary' | 'replica';
  healthy: boolean;
  /** Lag as defined above; null when unknown (never polled or unreachable). */
  lagMs: number | null;
  /** Last replayed (replica) or current (primary) WAL position, `16/B374D848`. */
  lsn: string | null;
  /** Why the node is out, when it is. */
  reason: string | null;
  /** host:port of the node (for the primary: the host currently acting as primary). */
  host?: string;
}>;

export type RouterCounters = {
  /** Queries run through the read handle and the write handle, by role. */
  queries: { primary: number; replica: number };
  /** Queries by node name (`primary`, `replica1`…), both handles. */
  byNode: Record<string, number>;
  /** Reads sent to the primary because replicas had not replayed the client's last write. */
  stickinessHits: number;
  /** Reads sent to the primary because no replica was healthy. */
  fallbacks: number;
  /** Reads retried on another node after a node failure. */
  retries: number;
  /** Times a replica was taken out (failed poll, failed query, lag over the limit). */
  takenOut: number;
  /** Times the write handle switched to another host of the primary list. */
  readonly failovers: number;
  /** Probe rounds over the primary list (re-resolutions). */
  readonly primaryResolutions: number;
  /** Idempotent transactions run again after a node failure (idempotent.ts). */
  transactionRetries: number;
};

export type ReplicaRouter = Readonly<{
  /** The read handle: each connection acquisition is routed as described above. */
  reader: Kysely<unknown>;
  /** The write handle: the primary, recording writes in the request's read context. */
  writer: Kysely<unknown>;
  /** The primary's current WAL position (one query). */
  primaryLsn(): Promise<bigint>;
  /** The primary's latest polled position: an upper bound for a client-supplied LSN. */
  knownPrimaryLsn(): bigint | undefined;
  /** Role, health and lag of every node, primary first. */
  status(): NodeStatus[];
  counters: RouterCounters;
  /** Polls every node now (tests, start-up). */
  refresh(): Promise<void>;
  /** Stops polling and closes every pool. */
  close(): Promise<void>;
}>;

type Replica = {
  name: string;
  pool: pg.Pool;
  driver: Driver;
  up: boolean;
  replayLsn: bigint | undefined;
  lagMs: number | null;
  reason: string | null;
  /** Consecutive polls that found no streaming WAL receiver. */
  notStreaming: number;
};

const POLL_TIMEOUT_MS = 1000;
const HISTORY_MS = 120_000;
const BACKOFF_MS = [25, 50, 100];
/** Idempotent work: tries and the time they may take in all. */
const IDEMPOTENT_TRIES = 3;
const IDEMPOTENT_WINDOW_MS = 10_000;

/** Errors the write path made from node failures, and those of them raised at commit. */
const nodeErrors = new WeakSet<object>();
const commitErrors = new WeakSet<object>();

export async function createReplicaRouter(options: RouterOptions): Promise<ReplicaRouter> {
  const now = options.now ?? Date.now;
  const primaries = options.primary;
  const primaryDriver = (): Driver => primaries.current().driver;
  const replicas: Replica[] = [];
  for (const r of options.replicas) {
    const driver: Driver = new PostgresDriver({ pool: r.pool });
    await driver.init();
    replicas.push({
      ...r,
      driver,
      up: false,
      replayLsn: undefined,
      lagMs: null,
      reason: 'not polled yet',
      notStreaming: 0,
    });
  }
  const counters: RouterCounters = {
    queries: { primary: 0, replica: 0 },
    byNode: { primary: 0 },
    stickinessHits: 0,
    fallbacks: 0,
    retries: 0,
    takenOut: 0,
    get failovers() {
      return primaries.counters.failovers;
    },
    get primaryResolutions() {
      return primaries.counters.resolutions;
    },
    transactionRetries: 0,
  };
  for (const r of replicas) counters.byNode[r.name] = 0;
  const history: { t: number; lsn: bigint }[] = [];
  let primaryReason: string | null = null;
  /** The primary's timeline, from its last successful poll. */
  let primaryTimeline: number | undefined;
  let turn = 0;

  function takeOut(r: Replica, reason: string): void {
    if (r.up) counters.takenOut++;
    r.up = false;
    r.reason = reason;
  }

  function lagOf(replay: bigint): number {
    const latest = history.at(-1);
    if (!latest || replay >= latest.lsn) return 0;
    const first = history.find((s) => s.lsn > replay) ?? history[0]!;
    return Math.max(0, now() - first.t);
  }

  async function pollPrimary(): Promise<void> {
    try {
      const res = await withTimeout(
        primaries
          .current()
          .pool.query<{ lsn: string; walfile: string }>(
            'select pg_current_wal_lsn()::text as lsn, pg_walfile_name(pg_current_wal_lsn()) as walfile',
          ),
      );
      const lsn = parseLsn(res.rows[0]?.lsn);
      if (lsn === undefined) throw new Error('the primary reported no WAL position');
      primaryTimeline = Number.parseInt(res.rows[0]!.walfile.slice(0, 8), 16);
      const t = now();
      if (history.length === 0 || history.at(-1)!.lsn !== lsn) history.push({ t, lsn });
      while (history.length > 1 && history[0]!.t < t - HISTORY_MS) history.shift();
      primaryReason = null;
    } catch (err) {
      primaryReason = (err as Error).message;
      primaries.suspect(`poll failed: ${primaryReason}`);
    }
  }

  async function pollReplica(r: Replica): Promise<void> {
    try {
      const res = await withTimeout(
        r.pool.query<{
          recovering: boolean;
          lsn: string | null;
          receivers: number;
          status: string | null;
          timeline: number | null;
        }>(REPLICA_POLL),
      );
      const row = res.rows[0]!;
      const replay = parseLsn(row.lsn);
      if (!row.recovering || replay === undefined) {
        r.replayLsn = undefined;
        r.lagMs = null;
        return takeOut(r, 'not a replica (promoted, or not in recovery)');
      }
      r.replayLsn = replay;
      r.lagMs = lagOf(replay);
      const visible = row.receivers === 0 || row.status !== null;
      r.notStreaming = visible && row.status !== 'streaming' ? r.notStreaming + 1 : 0;
      if (primaryReason === null && primaryTimeline !== undefined && visible) {
        if (row.timeline !== null && row.status === 'streaming' && row.timeline !== primaryTimeline) {
          return takeOut(
            r,
            `not following the primary: it receives timeline ${row.timeline}, the primary is on ${primaryTimeline}`,
          );
        }
        if (r.notStreaming >= 2) {
          return takeOut(r, 'not following the primary: no WAL receiver streaming from it');
        }
      }
      if (r.lagMs > options.maxLagMs) return takeOut(r, `lag ${r.lagMs} ms over ${options.maxLagMs} ms`);
      r.up = true;
      r.reason = null;
    } catch (err) {
      r.lagMs = null;
      takeOut(r, `unreachable: ${(err as Error).message}`);
    }
  }

  async function refresh(): Promise<void> {
    await pollPrimary();
    await Promise.all(replicas.map(pollReplica));
  }

  let polling: Promise<void> | undefined;
  const timer = setInterval(() => {
    polling ??= refresh().finally(() => {
      polling = undefined;
    });
  }, options.checkIntervalMs);
  timer.unref();
  await refresh();

  type Target = { name: string; role: 'primary' | 'replica'; driver: Driver; replica?: Replica };
  const primaryTarget = (): Target => ({ name: 'primary', role: 'primary', driver: primaryDriver() });

  /** The node for the next read, skipping `tried`. */
  function pick(tried: ReadonlySet<string>): Target {
    const ctx = currentReadContext();
    const healthy = replicas.filter((r) => r.up && !tried.has(r.name));
    if (ctx?.wrote) {
      counters.stickinessHits++;
      return primaryTarget();
    }
    const min = ctx?.minLsn;
    const caughtUp =
      min === undefined ? healthy : healthy.filter((r) => r.replayLsn !== undefined && r.replayLsn >= min);
    if (caughtUp.length === 0) {
      if (healthy.length > 0) counters.stickinessHits++;
      else counters.fallbacks++;
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

  function count(target: Target): void {
    counters.queries[target.role]++;
    counters.byNode[target.name] = (counters.byNode[target.name] ?? 0) + 1;
  }

  const readDriver: Driver = {
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
          takeOut(target.replica!, `query failed: ${(err as Error).message}`);
          tried.add(target.name);
          counters.retries++;
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
          if (this.target.replica) takeOut(this.target.replica, `query failed: ${(err as Error).message}`);
          tried.add(this.target.name);
          counters.retries++;
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

  /** A node error on the write path: the primary is suspect, the caller gets 503 (or a retry). */
  function writeFailure(err: unknown, atCommit = false): unknown {
    if (!isNodeFailure(err)) return err;
    primaries.suspect((err as Error).message);
    const e = unavailable(err);
    nodeErrors.add(e);
    if (atCommit) commitErrors.add(e);
    return e;
  }

  const writeDriver: Driver = {
    async init() {},
    async acquireConnection() {
      const driver = primaryDriver();
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
      count(primaryTarget());
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
      count(primaryTarget());
      return this.inner.streamQuery<R>(query, chunkSize);
    }
  }

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
          counters.transactionRetries++;
        }
      }
    },
  };

  const reader = new Kysely<unknown>({ dialect: dialectOf(readDriver) });
  const writeDialect = dialectOf(writeDriver);
  const writer = new Kysely<unknown>({
    config: { dialect: writeDialect },
    dialect: writeDialect,
    driver: writeDriver,
    executor: new DefaultQueryExecutor(new PostgresQueryCompiler(), new PostgresAdapter(), retrying, []),
  });

  return Object.freeze({
    reader,
    writer,
    counters,
    refresh,
    primaryLsn: () => queryLsn(primaries.current().pool, PRIMARY_LSN),
    knownPrimaryLsn: () => history.at(-1)?.lsn,
    status(): NodeStatus[] {
      const latest = history.at(-1);
      return [
        {
          name: 'primary',
          role: 'primary',
          healthy: primaryReason === null,
          lagMs: 0,
          lsn: latest === undefined ? null : formatLsn(latest.lsn),
          reason: primaryReason ?? primaries.suspectReason(),
          host: primaries.current().host,
        },
        ...replicas.map((r) => ({
          name: r.name,
          role: 'replica' as const,
          healthy: r.up,
          lagMs: r.lagMs,
          lsn: r.replayLsn === undefined ? null : formatLsn(r.replayLsn),
          reason: r.reason,
        })),
      ];
    },
    async close() {
      clearInterval(timer);
      await polling;
      await Promise.all([primaries.close(), ...replicas.map((r) => r.pool.end())]);
    },
  });
}

/** A request wrote: its later reads go to the primary, and the edge records the new position. */
function markWrote(): void {
  const ctx = currentReadContext();
  if (ctx) ctx.wrote = true;
}

const PRIMARY_LSN = 'select pg_current_wal_lsn()::text as lsn';
/** `receivers` 0: no WAL receiver runs; a row with a null status: its details are not visible to us. */
const REPLICA_POLL = `select pg_is_in_recovery() as recovering, pg_last_wal_replay_lsn()::text as lsn,
  (select count(*)::int from pg_stat_wal_receiver) as receivers,
  (select status from pg_stat_wal_receiver limit 1) as status,
  (select received_tli from pg_stat_wal_receiver limit 1)::int as timeline`;

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

function dialectOf(driver: Driver) {
  return {
    createDriver: () => driver,
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createAdapter: () => new PostgresAdapter(),
    createIntrospector: (db: Kysely<unknown>) => new PostgresIntrospector(db),
  };
}

function unavailable(err: unknown): AppError {
  return new AppError('UNAVAILABLE', 'the database is failing over; retry shortly', {
    cause: err,
    retryAfterSeconds: 1,
  });
}

async function queryLsn(pool: pg.Pool, text: string): Promise<bigint> {
  const res = await pool.query<{ lsn: string }>(text);
  const lsn = parseLsn(res.rows[0]?.lsn);
  if (lsn === undefined) throw new Error(`no WAL position from "${text}"`);
  return lsn;
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${POLL_TIMEOUT_MS} ms`)), POLL_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
