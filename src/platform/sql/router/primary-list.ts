/**
 * The primary as a list of hosts: `DATABASE_URL` first, then `DATABASE_FAILOVER_URLS` (the
 * standby, then others). `pg` 8 cannot parse multi-host URLs (libpq's
 * `target_session_attrs=read-write`), so this does the same by hand:
 *
 * - At start, the first host that answers as read-write (`pg_is_in_recovery()` false and
 *   `transaction_read_only` off) becomes the current primary; with one host there is no probe.
 * - When a write or a poll fails with a node error (failover-errors.ts) the current primary is
 *   **suspect**: the list is probed (every 200 ms, single flight) until a read-write host answers.
 *   A read-write host other than the suspect wins (after a promotion the old primary may come
 *   back as a second primary; the promoted one is the one replicas follow); the suspect is kept
 *   only when it is the only read-write host. Switching opens a new `pg.Pool` for the new host;
 *   the old one is ended in the background (its checked-out clients finish or fail first).
 */
import { PostgresDriver } from 'kysely';
import pg from 'pg';

export type PrimaryNode = Readonly<{
  /** Position in the list: 0 is DATABASE_URL. */
  index: number;
  url: string;
  /** host:port, for status pages (no credentials). */
  host: string;
  pool: pg.Pool;
  driver: PostgresDriver;
}>;

export type PrimaryList = Readonly<{
  current(): PrimaryNode;
  /** More than one host: failover is possible. */
  canFailOver: boolean;
  /** Marks the current primary suspect and starts re-resolution (no-op with one host). */
  suspect(reason: string): void;
  /**
   * Resolves once a read-write host is current (true) or at `deadline` (false). Starts a
   * re-resolution when none runs.
   */
  waitForPrimary(deadline: number): Promise<boolean>;
  counters: { failovers: number; resolutions: number };
  /** Why the current primary is suspect; null when it is not. */
  suspectReason(): string | null;
  close(): Promise<void>;
}>;

const PROBE_TIMEOUT_MS = 1000;
const PROBE_EVERY_MS = 200;
/** A background re-resolution gives up after this; the next failure or poll starts another. */
const RESOLVE_FOR_MS = 30_000;

export async function createPrimaryList(
  urls: readonly string[],
  poolOptions: pg.PoolConfig,
  onConnect: (client: pg.PoolClient) => void,
): Promise<PrimaryList> {
  if (urls.length === 0) throw new Error('a primary list needs at least one URL');
  const open = (index: number): PrimaryNode => {
    const url = urls[index]!;
    const pool = new pg.Pool({ ...poolOptions, connectionString: url });
    pool.on('error', () => {});
    pool.on('connect', onConnect);
    return { index, url, host: hostOf(url), pool, driver: new PostgresDriver({ pool }) };
  };
  const counters = { failovers: 0, resolutions: 0 };
  const draining = new Set<Promise<void>>();
  let suspectReason: string | null = null;
  let resolving: Promise<boolean> | undefined;
  let closed = false;

  let start = 0;
  if (urls.length > 1) {
    const states = await Promise.all(urls.map(probe));
    const rw = states.indexOf(true);
    if (rw >= 0) start = rw;
  }
  let node = open(start);
  await node.driver.init();

  async function switchTo(index: number): Promise<void> {
    const next = open(index);
    await next.driver.init();
    const old = node;
    node = next;
    counters.failovers++;
    const ending = old.pool
      .end()
      .catch(() => {})
      .finally(() => draining.delete(ending));
    draining.add(ending);
  }

  /** Probes until a read-write host is current; false after `forMs`. */
  async function resolve(forMs: number): Promise<boolean> {
    const until = Date.now() + forMs;
    while (!closed) {
      counters.resolutions++;
      const states = await Promise.all(urls.map(probe));
      const other = states.findIndex((rw, i) => rw && i !== node.index);
      if (other >= 0) {
        await switchTo(other);
        suspectReason = null;
        return true;
      }
      if (states[node.index]) {
        suspectReason = null;
        return true;
      }
      if (Date.now() >= until) return false;
      await sleep(PROBE_EVERY_MS);
    }
    return false;
  }

  function startResolving(): Promise<boolean> {
    resolving ??= resolve(RESOLVE_FOR_MS).finally(() => {
      resolving = undefined;
    });
    return resolving;
  }

  return {
    current: () => node,
    canFailOver: urls.length > 1,
    counters,
    suspectReason: () => suspectReason,
    suspect(reason) {
      if (urls.length < 2 || closed) return;
      suspectReason ??= reason;
      void startResolving();
    },
    async waitForPrimary(deadline) {
      if (urls.length < 2) {
        await sleep(Math.max(0, Math.min(500, deadline - Date.now())));
        return true;
      }
      if (suspectReason === null && !resolving) return true;
      const wait = Math.max(0, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const found = await Promise.race([
        startResolving(),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(false), wait);
        }),
      ]);
      clearTimeout(timer);
      return found;
    },
    async close() {
      closed = true;
      await resolving?.catch(() => {});
      await Promise.all([node.pool.end().catch(() => {}), ...draining]);
    },
  };
}

/** True when the host at `url` answers as read-write; false when it is read-only or down. */
async function probe(url: string): Promise<boolean> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
    query_timeout: PROBE_TIMEOUT_MS,
    application_name: 'bazaar-probe',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const res = await client.query<{ recovery: boolean; ro: string }>(
      `select pg_is_in_recovery() as recovery, current_setting('transaction_read_only') as ro`,
    );
    const row = res.rows[0];
    return row !== undefined && !row.recovery && row.ro === 'off';
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}`;
  } catch {
    return 'unknown';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
