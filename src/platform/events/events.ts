/**
 * Events port: domain events, fanned out to consumers. A module never publishes directly: it
 * appends events to its outbox in the transaction of the change (outbox.ts); the outbox relay
 * (outbox-relay.ts) publishes them here. Each consumer has its own durable queue, so one slow or
 * failing consumer holds up no other, and each delivery is retried on its own.
 *
 * Guarantees: delivery is at least once (a consumer may see an event again after a crash or a
 * lease expiry); there is no order between events; a consumer's effect happens exactly once when
 * it records the event id in the same transaction as its writes (handle-once.ts).
 * Adapters: on the jobs port (pg-boss) now; SNS → SQS or EventBridge later.
 */
import type { SqlExecutor } from '../jobs/jobs.ts';
import type { Domain } from '../sql/sql.ts';

export type DomainEvent<P = Record<string, unknown>> = Readonly<{
  /** The outbox row id (UUIDv7): deduplicate by it. */
  id: string;
  /** e.g. `user.registered`, `order.placed`. */
  type: string;
  /** The domain whose outbox held the event. */
  source: Domain;
  /** Partition/shard key given by the emitter (e.g. the buyer id), or null. */
  key: string | null;
  payload: P;
  /** ISO 8601 time of the change. */
  occurredAt: string;
}>;

export type EventContext = Readonly<{
  /** The consumer's name; with `event.id` it identifies this delivery (see handleOnce). */
  consumer: string;
  /** 1 on the first delivery, 2 on the first retry… */
  attempt: number;
  /** Aborted when the worker stops before the handler finished. */
  signal: AbortSignal;
}>;

/** A module's reaction to events; declared by the module, run by the worker. */
export type Consumer = Readonly<{
  /**
   * Unique and stable: it names the consumer's queue and its processed-event records, so
   * renaming a consumer replays nothing but loses its backlog. `<module>.<what-it-does>`, e.g.
   * `notifications.welcome-email`; letters, digits, `.`, `-`, `_`.
   */
  name: string;
  /** Event types it receives. */
  types: readonly string[];
  /** Resolves when the event is handled; throwing retries it with backoff (see JOBS_RETRY_LIMIT). */
  handle(event: DomainEvent, context: EventContext): Promise<void>;
  /** Events handled at once by this consumer in one worker process (default 1). */
  concurrency?: number;
  /** Overrides JOBS_RETRY_LIMIT for this consumer. */
  retryLimit?: number;
  /** Overrides JOBS_LEASE for this consumer, in seconds. */
  leaseSeconds?: number;
}>;

export interface EventsPort {
  /**
   * Delivers each event to every consumer subscribed to its type, as one job per (consumer,
   * event) whose id derives from both: publishing an event again delivers nothing new. Events no
   * consumer subscribes to are dropped. With `tx`, the deliveries are written in that SQL
   * transaction (the relay's), so they exist if and only if it commits.
   */
  publish(events: readonly DomainEvent[], options?: { tx?: SqlExecutor }): Promise<void>;
  /**
   * Records the consumer's subscriptions durably (every relay, in any process, sees them; types
   * no longer listed are dropped) and starts handling its deliveries in this process.
   */
  subscribe(consumer: Consumer): Promise<void>;
}

export const CONSUMER_NAME = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$/;
