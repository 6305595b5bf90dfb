/**
 * Jobs on pg-boss, in the `pgboss` schema of the application's own database: PostgreSQL through
 * pg-boss's own small pool, or PGlite through the SQL port's single connection. On PGlite every
 * pg-boss statement borrows that connection from the Kysely driver, so it waits for an open
 * transaction to end instead of slipping into it; a send enlisted in a caller's transaction
 * (`tx`) runs every statement of that send on the transaction instead (AsyncLocalStorage), so it
 * never waits for the connection its own caller holds.
 *
 * Leases are pg-boss's expiry: a job active for longer than its lease is failed by the
 * supervisor (every `reclaimIntervalSeconds`) and retried like any failure, which is how the job
 * of a worker killed mid-run is picked up again. New jobs wake workers through LISTEN/NOTIFY
 * (in-process on PGlite); polling every `pollIntervalMs` remains the floor, and is what notices
 * retries whose backoff has passed.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, type Kysely } from 'kysely';
import { type Db, fromPglite, PgBoss } from 'pg-boss';
import { AppError } from '../../../shared/errors.ts';
import { isUuid } from '../../../shared/ids.ts';
import type {
  Job,
  JobHandler,
  JobReadPosition,
  JobState,
  JobsPort,
  SendOptions,
  SqlExecutor,
  WorkOptions,
} from '../jobs.ts';
import { createPrimaryDb } from './primary-db.ts';

export type PgBossConnection =
  | Readonly<{
      kind: 'postgres';
      /**
       * The primary, then the hosts that may become it (DATABASE_FAILOVER_URLS): statements and
       * LISTEN follow a promotion as the SQL port does (primary-db.ts).
       */
      urls: readonly string[];
      poolSize: number;
      applicationName: string;
      /**
       * `pgbouncer-transaction`: `urls` lead to PgBouncer in transaction mode. pg-boss's statements
       * are fine there (unnamed; its locks are `pg_advisory_xact_lock` inside BEGIN…COMMIT
       * batches, its settings `SET LOCAL`), but LISTEN is not: a listen registered on a pooled
       * server connection is lost to the client. Its LISTEN connection then goes to `directUrl`,
       * or, without one, workers poll only (every JOBS_POLL_INTERVAL).
       */
      pooler?: 'none' | 'pgbouncer-transaction';
      directUrl?: string | undefined;
    }>
  /** `primary` is the SQL port's Kysely instance on the same PGlite: its driver lends the connection. */
  | Readonly<{ kind: 'pglite'; pglite: PGlite; primary: Kysely<unknown> }>;

export type PgBossJobsOptions = Readonly<{
  connection: PgBossConnection;
  /** Queue defaults (JOBS_RETRY_LIMIT, JOBS_LEASE). */
  retryLimit: number;
  leaseSeconds: number;
  retryDelaySeconds?: number;
  retryBackoff?: boolean;
  /** How often idle workers look for jobs; at least 500 ms. */
  pollIntervalMs: number;
  /** How often expired leases are reclaimed; default a quarter of the lease, 1..60 s. */
  reclaimIntervalSeconds?: number;
  /** Errors pg-boss reports in the background (a failed poll, maintenance). */
  onError?: (
    err: Error,
  ) => void /** Read-your-writes for handlers (replicas): captured at send, restored around each run. */;
  readPosition?: JobReadPosition;
}>;

const SCHEMA = 'pgboss';
/** Where a job's read position travels inside its data; handlers never see it. */
const READ_AFTER = '__bazaar_read_after';
const INTERNAL_QUEUE_PREFIX = '__pgboss';

type JobRow = {
  id: string;
  name: string;
  state: JobState;
  data: unknown;
  retry_count: number;
  retry_limit: number;
  created_on: Date;
  start_after: Date;
  started_on: Date | null;
  completed_on: Date | null;
  output: unknown;
};

const JOB_COLUMNS = `id, name, state::text as state, data, retry_count, retry_limit, created_on, start_after,
  started_on, completed_on, output`;

export function createPgBossJobs(options: PgBossJobsOptions): JobsPort {
  const defaults = {
    retryLimit: options.retryLimit,
    retryDelay: options.retryDelaySeconds ?? 1,
    retryBackoff: options.retryBackoff ?? true,
    expireInSeconds: options.leaseSeconds,
  };
  const pollSeconds = Math.max(0.5, options.pollIntervalMs / 1000);
  const reclaimSeconds =
    options.reclaimIntervalSeconds ?? Math.min(60, Math.max(1, Math.round(options.leaseSeconds / 4)));
  const enlisted = new AsyncLocalStorage<Db>();
  const c = options.connection;
  const server =
    c.kind === 'postgres'
      ? createPrimaryDb({
          urls: c.urls,
          poolSize: c.poolSize,
          applicationName: c.applicationName,
          listen:
            c.pooler !== 'pgbouncer-transaction' ? 'follow' : c.directUrl ? { url: c.directUrl } : 'none',
        })
      : undefined;
  const connection =
    c.kind === 'pglite' ? { db: pgliteDb(c, enlisted), backend: 'pglite' as const } : { db: server!.db };
  const readPosition = options.readPosition;

  const boss = new PgBoss({
    ...connection,
    schema: SCHEMA,
    schedule: false,
    useListenNotify: true,
    superviseIntervalSeconds: reclaimSeconds,
    monitorIntervalSeconds: reclaimSeconds,
  });
  const report = options.onError ?? (() => {});
  boss.on('error', (err) => report(err));
  // LISTEN/NOTIFY unavailable is not an error: polling carries on.
  boss.on('warning', () => {});

  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  const queues = new Map<string, Promise<void>>();

  function start(): Promise<void> {
    if (stopping) return Promise.reject(new AppError('UNAVAILABLE', 'the jobs port is stopped'));
    // A start that failed (no database reachable) is undone and tried again by the next call.
    starting ??= boss.start().then(
      () => undefined,
      async (err: unknown) => {
        await boss.stop({ graceful: false, close: false }).catch(() => {});
        starting = undefined;
        throw err;
      },
    );
    return starting;
  }

  /** Creates the queue once per process, and brings its defaults in line with this process's. */
  function ensureQueue(name: string, overrides: WorkOptions = {}): Promise<void> {
    let ready = queues.get(name);
    if (!ready) {
      const settings = {
        retryLimit: overrides.retryLimit ?? defaults.retryLimit,
        retryDelay: overrides.retryDelaySeconds ?? defaults.retryDelay,
        retryBackoff: overrides.retryBackoff ?? defaults.retryBackoff,
        expireInSeconds: overrides.leaseSeconds ?? defaults.expireInSeconds,
        notify: true,
      };
      ready = (async () => {
        await start();
        await boss.createQueue(name, settings);
        await boss.updateQueue(name, settings);
        // Loads pg-boss's queue cache, so a later send inside a transaction needs no lookup.
        await boss.findJobs(name, { id: '00000000-0000-0000-0000-000000000000' });
      })();
      ready.catch(() => queues.delete(name));
      queues.set(name, ready);
    }
    return ready;
  }

  async function query<R>(text: string, values: unknown[]): Promise<R[]> {
    await start();
    const { rows } = await boss.getDb().executeSql(text, values);
    return rows as R[];
  }

  async function get(id: string): Promise<Job | null> {
    if (!isUuid(id)) return null;
    const rows = await query<JobRow>(`select ${JOB_COLUMNS} from ${SCHEMA}.job where id = $1`, [id]);
    return rows[0] ? toJob(rows[0]) : null;
  }

  return {
    async send(queue, data, sendOptions: SendOptions = {}) {
      await start();
      const { tx, ...rest } = sendOptions;
      const jobOptions = {
        ...(rest.id !== undefined ? { id: rest.id } : {}),
        ...(rest.retryLimit !== undefined ? { retryLimit: rest.retryLimit } : {}),
        ...(rest.retryDelaySeconds !== undefined ? { retryDelay: rest.retryDelaySeconds } : {}),
        ...(rest.retryBackoff !== undefined ? { retryBackoff: rest.retryBackoff } : {}),
        ...(rest.leaseSeconds !== undefined ? { expireInSeconds: rest.leaseSeconds } : {}),
        ...(rest.delaySeconds !== undefined ? { startAfter: rest.delaySeconds } : {}),
      };
      if (rest.id !== undefined && !isUuid(rest.id)) {
        throw new AppError('INVALID_INPUT', `job id "${rest.id}" is not a UUID`);
      }
      const position = await readPosition?.capture(tx);
      const payload = position === undefined ? data : { ...data, [READ_AFTER]: position };
      let id: string | null;
      if (tx) {
        const txDb = executorDb(tx);
        id = await enlisted.run(txDb, () => boss.send(queue, payload, { ...jobOptions, db: txDb }));
      } else {
        await ensureQueue(queue);
        id = await boss.send(queue, payload, jobOptions);
      }
      if (id) return id;
      if (rest.id !== undefined) return rest.id;
      throw new AppError('INTERNAL', `pg-boss created no job in queue ${queue}`);
    },

    async work<T>(queue: string, handler: JobHandler<T>, workOptions: WorkOptions = {}) {
      await start();
      await ensureQueue(queue, workOptions);
      await boss.work(
        queue,
        {
          batchSize: 1,
          includeMetadata: true,
          localConcurrency: Math.max(1, workOptions.concurrency ?? 1),
          pollingIntervalSeconds: pollSeconds,
          notifyPollingIntervalSeconds: pollSeconds,
        },
        async (jobs) => {
          try {
            for (const job of jobs) {
              const { data, position } = unwrap(job.data);
              const running = {
                id: job.id,
                queue: job.name,
                data: data as T,
                attempt: job.retryCount + 1,
                signal: job.signal,
              };
              await (readPosition ? readPosition.run(position, () => handler(running)) : handler(running));
            }
          } finally {
            // pg-boss waits a polling interval after every fetch, even a fruitful one: fetch
            // again at once instead, so a backlog drains at the handlers' pace.
            for (const worker of boss.getWipData()) if (worker.name === queue) boss.notifyWorker(worker.id);
          }
        },
      );
    },

    async list({ state, queue, limit }) {
      const rows = await query<JobRow>(
        `select ${JOB_COLUMNS} from ${SCHEMA}.job
         where ($1::text is null or state::text = $1::text)
           and ($2::text is null or name = $2::text)
           and name not like '${INTERNAL_QUEUE_PREFIX}%'
         order by created_on desc, id desc
         limit $3`,
        [state ?? null, queue ?? null, limit],
      );
      return rows.map(toJob);
    },

    get,

    async retry(id) {
      const job = await get(id);
      if (!job) throw new AppError('NOT_FOUND', `no job has the id ${id}`);
      if (job.state !== 'failed') {
        throw new AppError('CONFLICT', `job ${id} is ${job.state}; only failed jobs can be retried`);
      }
      await boss.retry(job.queue, id);
      const after = await get(id);
      if (!after) throw new AppError('NOT_FOUND', `job ${id} was deleted meanwhile`);
      return after;
    },

    start,

    stop({ graceMs = 0 } = {}) {
      stopping ??= (async () => {
        if (!starting) return;
        await starting.catch(() => {});
        await boss.stop({ graceful: true, timeout: graceMs, close: true });
        await server?.close();
      })();
      return stopping;
    },
  };
}

/** pg-boss's database on PGlite: each statement holds the SQL port's single connection. */
type PgliteConnection = Extract<PgBossConnection, { kind: 'pglite' }>;

function pgliteDb(connection: PgliteConnection, enlisted: AsyncLocalStorage<Db>): Db {
  const raw = fromPglite(connection.pglite);
  const { pglite, primary } = connection;
  const hold = <T>(fn: () => Promise<T>): Promise<T> => primary.connection().execute(fn);
  return {
    executeSql(text, values) {
      const tx = enlisted.getStore();
      if (tx) return tx.executeSql(text, values);
      return hold(() => raw.executeSql(text, values));
    },
    async listen(channel, onNotification, onReconnect) {
      const unsubscribe = await hold(() => pglite.listen(channel, onNotification));
      onReconnect();
      return { close: () => hold(() => unsubscribe()) };
    },
  };
}

/** A job's data as its handler sees it, and the read position its sender attached. */
function unwrap(raw: unknown): { data: unknown; position: string | undefined } {
  if (raw === null || typeof raw !== 'object' || !(READ_AFTER in raw))
    return { data: raw, position: undefined };
  const { [READ_AFTER]: position, ...data } = raw as Record<string, unknown>;
  return { data, position: typeof position === 'string' ? position : undefined };
}

/** pg-boss's database inside a caller's transaction. */
function executorDb(tx: SqlExecutor): Db {
  return {
    async executeSql(text, values) {
      const result = await tx.executeQuery(CompiledQuery.raw(text, values ?? []));
      return { rows: [...result.rows] };
    },
  };
}

function toJob(row: JobRow): Job {
  const failedRun = row.state === 'failed' || row.state === 'retry';
  return {
    id: row.id,
    queue: row.name,
    state: row.state,
    data: unwrap(row.data).data,
    attempts: row.started_on ? row.retry_count + 1 : 0,
    retryLimit: row.retry_limit,
    createdAt: new Date(row.created_on),
    runAfter: new Date(row.start_after),
    startedAt: row.started_on ? new Date(row.started_on) : null,
    completedAt: row.completed_on ? new Date(row.completed_on) : null,
    error: failedRun ? errorMessage(row.output) : null,
  };
}

function errorMessage(output: unknown): string | null {
  if (output && typeof output === 'object') {
    const o = output as { message?: unknown; value?: { message?: unknown } };
    if (typeof o.message === 'string') return o.message;
    if (typeof o.value?.message === 'string') return o.value.message;
  }
  return output == null ? null : JSON.stringify(output);
}
