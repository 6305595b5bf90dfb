/**
 * The replica router's view of its nodes, refreshed by a poller every `checkIntervalMs`.
 *
 * - **Health and lag.** The poller asks the primary for `pg_current_wal_lsn()` and every replica
 *   for `pg_is_in_recovery()` and `pg_last_wal_replay_lsn()`. The primary's answers form a
 *   history of (time, LSN) samples. A replica's **lag** is the age of the oldest WAL it has not
 *   replayed: 0 when its replay LSN has reached the primary's latest sample, otherwise now minus
 *   the time of the first sample whose LSN it has not reached. Unlike
 *   `now() - pg_last_xact_replay_timestamp()` this stays 0 on an idle system, and it needs no
 *   clock agreement between servers; its resolution is the poll interval.
 * - A replica is **healthy** when its last poll succeeded, it is in recovery, it follows the
 *   current primary, and its lag is at most `maxLagMs`. One that fails a poll, or fails a query
 *   with a node error (`takeOut`), is out at once and put back by the next successful poll.
 * - **Following the primary.** After a promotion, a replica still pointed at the old primary
 *   (or one that replayed WAL the new primary never had, and cannot switch timelines) replays
 *   nothing more, and its replay position may even be past the new primary's: by lag alone it
 *   would look current. So the poll also reads the primary's timeline (from its current WAL file
 *   name) and the replica's WAL receiver (`pg_stat_wal_receiver`): a replica receiving another
 *   timeline is out at once; one with no streaming receiver while the primary answers is out
 *   from its second such poll (a receiver restarting is not a reason). The receiver's columns
 *   need `pg_read_all_stats` (or superuser); without them only the lag rule applies.
 * - A failed poll of the primary marks it suspect in the primary list (re-resolution).
 */
import { type Driver, PostgresDriver } from 'kysely';
import type pg from 'pg';
import { formatLsn, parseLsn } from './lsn.ts';
import type { PrimaryList } from './primary-list.ts';

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

export type Replica = {
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

export type ReplicaPollerOptions = Readonly<{
  primary: PrimaryList;
  replicas: readonly Readonly<{ name: string; pool: pg.Pool }>[];
  maxLagMs: number;
  checkIntervalMs: number;
  now: () => number;
  /** A healthy replica was taken out. */
  onTakenOut: () => void;
}>;

export type ReplicaPoller = Readonly<{
  replicas: readonly Replica[];
  /** Takes a replica out of reads until its next good poll. */
  takeOut(replica: Replica, reason: string): void;
  /** Polls every node now. */
  refresh(): Promise<void>;
  /** The primary's latest polled position. */
  knownPrimaryLsn(): bigint | undefined;
  /** Role, health and lag of every node, primary first. */
  status(): NodeStatus[];
  /** Stops polling (waits for a poll in flight). */
  stop(): Promise<void>;
}>;

const POLL_TIMEOUT_MS = 1000;
const HISTORY_MS = 120_000;

/** `receivers` 0: no WAL receiver runs; a row with a null status: its details are not visible to us. */
const REPLICA_POLL = `select pg_is_in_recovery() as recovering, pg_last_wal_replay_lsn()::text as lsn,
  (select count(*)::int from pg_stat_wal_receiver) as receivers,
  (select status from pg_stat_wal_receiver limit 1) as status,
  (select received_tli from pg_stat_wal_receiver limit 1)::int as timeline`;

/** Starts polling; resolves after the first poll of every node. */
export async function createReplicaPoller(options: ReplicaPollerOptions): Promise<ReplicaPoller> {
  const { now, primary: primaries } = options;
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
  const history: { t: number; lsn: bigint }[] = [];
  let primaryReason: string | null = null;
  /** The primary's timeline, from its last successful poll. */
  let primaryTimeline: number | undefined;

  function takeOut(r: Replica, reason: string): void {
    if (r.up) options.onTakenOut();
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

  return {
    replicas,
    takeOut,
    refresh,
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
    async stop() {
      clearInterval(timer);
      await polling;
    },
  };
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
