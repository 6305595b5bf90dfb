/**
 * Jobs port: durable background work in named queues. A job is at-least-once: it runs until its
 * handler resolves, is retried with exponential backoff when the handler throws or its worker
 * dies (the lease expires), and ends in the `failed` state (the dead letter: kept, listed,
 * retryable by hand) after its retry limit. Handlers must therefore be idempotent (see
 * events/handle-once.ts). Adapters: pg-boss on the SQL database (PGlite or PostgreSQL) now;
 * SQS with a dead-letter queue later.
 */
import type { Kysely } from 'kysely';

/**
 * `created` waits for a worker, `retry` waits for its backoff to pass, `active` is running (or its
 * worker died and the lease has not expired yet), `completed` succeeded, `failed` exhausted its
 * retries (the dead-letter state), `cancelled` was withdrawn.
 */
export type JobState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';
export const JOB_STATES: readonly JobState[] = [
  'created',
  'retry',
  'active',
  'completed',
  'cancelled',
  'failed',
];

export type Job<T = unknown> = Readonly<{
  id: string;
  queue: string;
  state: JobState;
  data: T;
  /** Runs started so far, the current one included (0 before the first). */
  attempts: number;
  /** Retries allowed after the first run; the job fails for good after `retryLimit + 1` runs. */
  retryLimit: number;
  createdAt: Date;
  /** Not run before this time (backoff of the next retry, or a deferred start). */
  runAfter: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  /** The last failure's message while retrying or failed; null otherwise. */
  error: string | null;
}>;

/** What a handler receives: one job, while its lease runs. */
export type RunningJob<T = unknown> = Readonly<{
  id: string;
  queue: string;
  data: T;
  /** 1 on the first run, 2 on the first retry… */
  attempt: number;
  /** Aborted when the worker stops before the handler finished. */
  signal: AbortSignal;
}>;

export type JobHandler<T = unknown> = (job: RunningJob<T>) => Promise<void>;

/** A transaction (or handle) of the SQL port; only `executeQuery` is used. */
export type SqlExecutor = Pick<Kysely<unknown>, 'executeQuery'>;

/**
 * Read-your-writes across a queue: a token taken when a job is sent and restored around its
 * handler, so the handler's reads see what its sender had written. With read replicas the SQL
 * router provides it (sql/router/job-read-position.ts): the token is the primary's WAL
 * position, and the handler's reads use a replica only once it has replayed it.
 */
export type JobReadPosition = Readonly<{
  /** The token for a job sent now (inside `tx` when given); undefined when none is needed. */
  capture(tx?: SqlExecutor): Promise<string | undefined>;
  /** Runs `fn` (a handler) so that its reads observe `token`. */
  run<T>(token: string | undefined, fn: () => Promise<T>): Promise<T>;
}>;

export type SendOptions = Readonly<{
  /** A UUID chosen by the caller: sending again with the same id (same queue) creates nothing. */
  id?: string;
  /** Retries after the first run (default: JOBS_RETRY_LIMIT). */
  retryLimit?: number;
  /** Delay before the first retry, in whole seconds (default 1). */
  retryDelaySeconds?: number;
  /** Doubles the delay at each retry, with jitter (default true). */
  retryBackoff?: boolean;
  /** The lease: a run not finished within it counts as failed and is retried (default JOBS_LEASE). */
  leaseSeconds?: number;
  /** Not run before this many seconds from now. */
  delaySeconds?: number;
  /**
   * Writes the job inside this SQL transaction, so it exists if and only if the transaction
   * commits. Only queues already created (by `work`, or an earlier `send` outside a
   * transaction) may be targeted. An adapter outside the database sends at once instead.
   */
  tx?: SqlExecutor;
}>;

export type WorkOptions = Readonly<{
  /** Jobs of this queue run at once in this process (default 1). */
  concurrency?: number;
  /** Queue defaults for jobs sent without their own (see SendOptions). */
  retryLimit?: number;
  retryDelaySeconds?: number;
  retryBackoff?: boolean;
  leaseSeconds?: number;
}>;

export type ListOptions = Readonly<{ state?: JobState; queue?: string; limit: number }>;

export interface JobsPort {
  /**
   * Queues a job (creating the queue on first use outside a transaction); returns its id. With
   * an `id` that already exists in the queue, nothing changes and that id is returned.
   */
  send(queue: string, data: Record<string, unknown>, options?: SendOptions): Promise<string>;
  /**
   * Runs `handler` for every job of `queue` in this process until `stop`: a handler that
   * resolves completes its job; one that throws (or outlives its lease) schedules a retry, or
   * fails the job after its retry limit. Resolves once the worker is polling.
   */
  work<T = unknown>(queue: string, handler: JobHandler<T>, options?: WorkOptions): Promise<void>;
  /** Jobs, newest first, at most `limit`, optionally of one state and/or one queue. */
  list(options: ListOptions): Promise<Job[]>;
  /** One job; null when no job has this id (completed jobs are kept 7 days). */
  get(id: string): Promise<Job | null>;
  /**
   * Sends a failed job back for one more run; returns it. Throws AppError NOT_FOUND for an unknown
   * id and CONFLICT when the job is not in the failed state.
   */
  retry(id: string): Promise<Job>;
  /** Connects and installs the adapter's schema when missing; idempotent; other members call it. */
  start(): Promise<void>;
  /**
   * Stops taking jobs, lets running handlers finish for up to `graceMs` (then aborts them; their
   * jobs are retried), and releases connections. Idempotent.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}
