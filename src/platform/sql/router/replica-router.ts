/**
 * Replica router: the `read` and `write` handles of the PostgreSQL adapter when replicas or
 * failover hosts are configured, composed from
 *
 * - replica-poller.ts: health, lag and "following the primary" of every replica, polled;
 * - read-driver.ts: which node serves each read (policy, read-your-writes, retries);
 * - write-handle.ts: the current primary, read-your-writes marking, 503s and idempotent retries;
 * - primary-list.ts: which host is the primary, re-resolved after a failure (failover).
 */
import { Kysely } from 'kysely';
import type pg from 'pg';
import { dialectOf } from './driver-support.ts';
import { parseLsn } from './lsn.ts';
import type { PrimaryList } from './primary-list.ts';
import { createReadDriver, type ReadPolicy, type Target } from './read-driver.ts';
import { createReplicaPoller, type NodeStatus } from './replica-poller.ts';
import { createWriteHandle } from './write-handle.ts';

export type { ReadPolicy } from './read-driver.ts';
export type { NodeStatus } from './replica-poller.ts';

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

const PRIMARY_LSN = 'select pg_current_wal_lsn()::text as lsn';

export async function createReplicaRouter(options: RouterOptions): Promise<ReplicaRouter> {
  const primaries = options.primary;
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
  for (const r of options.replicas) counters.byNode[r.name] = 0;
  const count = (target: Pick<Target, 'name' | 'role'>): void => {
    counters.queries[target.role]++;
    counters.byNode[target.name] = (counters.byNode[target.name] ?? 0) + 1;
  };

  const poller = await createReplicaPoller({
    primary: primaries,
    replicas: options.replicas,
    maxLagMs: options.maxLagMs,
    checkIntervalMs: options.checkIntervalMs,
    now: options.now ?? Date.now,
    onTakenOut: () => counters.takenOut++,
  });
  const reader = new Kysely<unknown>({
    dialect: dialectOf(
      createReadDriver({
        primaries,
        poller,
        policy: options.policy,
        count,
        onPrimaryRead: (why) => (why === 'stickiness' ? counters.stickinessHits++ : counters.fallbacks++),
        onRetry: () => counters.retries++,
      }),
    ),
  });
  const primaryNode = { name: 'primary', role: 'primary' } as const;
  const writer = createWriteHandle({
    primaries,
    count: () => count(primaryNode),
    onTransactionRetry: () => counters.transactionRetries++,
  });

  return Object.freeze({
    reader,
    writer,
    counters,
    refresh: () => poller.refresh(),
    primaryLsn: async () => {
      const res = await primaries.current().pool.query<{ lsn: string }>(PRIMARY_LSN);
      const lsn = parseLsn(res.rows[0]?.lsn);
      if (lsn === undefined) throw new Error('the primary reported no WAL position');
      return lsn;
    },
    knownPrimaryLsn: () => poller.knownPrimaryLsn(),
    status: (): NodeStatus[] => poller.status(),
    async close() {
      await poller.stop();
      await Promise.all([primaries.close(), ...poller.replicas.map((r) => r.pool.end())]);
    },
  });
}
