/**
 * Outbox relay: publishes each domain's outbox to the events port. For every domain whose schema
 * has an `outbox` table, it takes unpublished rows in id order, a batch at a time, locked
 * `for update skip locked` (so several relays, in several workers, share the work without
 * publishing a row twice), publishes them inside that same transaction and marks them
 * `published_at`. The deliveries and the mark commit together: an event is published once, and
 * a crash before the commit leaves it for the next pass. (When a domain moves to its own
 * database, the deliveries stop being in its transaction: publication becomes at-least-once,
 * still deduplicated by delivery id.)
 */
import { type Kysely, sql } from 'kysely';
import { DOMAINS, type Domain, type SqlPort } from '../sql/sql.ts';
import type { DomainEvent, EventsPort } from './events.ts';
import type { OutboxTable } from './outbox.ts';

export type OutboxRelayOptions = Readonly<{
  sql: SqlPort;
  events: EventsPort;
  /** Rows per transaction (default 100). */
  batchSize?: number;
  /** Pause between passes while running (default 200 ms). */
  intervalMs?: number;
  /** How often the running relay looks for new outbox tables (default 5 s). */
  discoverEveryMs?: number;
  /** A pass failed (the next pass tries again). */
  onError?: (err: unknown) => void;
}>;

export interface OutboxRelay {
  /**
   * One pass over every outbox: publishes batch after batch until nothing unpublished is left
   * (rows another relay holds are skipped); returns how many events it published.
   */
  runOnce(): Promise<number>;
  /** Runs passes every `intervalMs` until `stop`. */
  start(): void;
  /** Stops after the pass in progress. Idempotent. */
  stop(): Promise<void>;
}

export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { sql: sqlPort, events } = options;
  const batchSize = options.batchSize ?? 100;
  const intervalMs = options.intervalMs ?? 200;
  const discoverEveryMs = options.discoverEveryMs ?? 5000;
  let domains: Domain[] = [];
  let discoveredAt = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = true;

  async function discover(): Promise<void> {
    const { rows } = await sql<{ domain: Domain }>`
      select d as domain from unnest(${[...DOMAINS]}::text[]) as d
      where to_regclass(d || '.outbox') is not null`.execute(sqlPort.for('platform').write);
    domains = rows.map((r) => r.domain);
    discoveredAt = Date.now();
  }

  async function relayBatch(domain: Domain): Promise<number> {
    const db = sqlPort.for<OutboxTable>(domain).write as Kysely<OutboxTable>;
    return db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('outbox')
        .select(['id', 'type', 'key', 'payload', 'occurred_at'])
        .where('published_at', 'is', null)
        .orderBy('id')
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return 0;
      const batch: DomainEvent[] = rows.map((r) => ({
        id: r.id,
        type: r.type,
        source: domain,
        key: r.key,
        payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<
          string,
          unknown
        >,
        occurredAt: new Date(r.occurred_at).toISOString(),
      }));
      await events.publish(batch, { tx: trx });
      await trx
        .updateTable('outbox')
        .set({ published_at: sql<Date>`now()` })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows.length;
    });
  }

  async function pass(rediscover: boolean): Promise<number> {
    if (rediscover || Date.now() - discoveredAt >= discoverEveryMs) await discover();
    let published = 0;
    for (const domain of domains) {
      for (;;) {
        const n = await relayBatch(domain);
        published += n;
        if (n < batchSize) break;
      }
    }
    return published;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      // Passes of one relay never overlap: runOnce (tests' drain) and the timer take turns.
      running = running
        .catch(() => {})
        .then(() => pass(false))
        .catch((err) => options.onError?.(err))
        .finally(schedule);
    }, intervalMs);
    // A forgotten relay must not keep a process alive; workers stay alive through the jobs port.
    timer.unref();
  }

  return {
    runOnce() {
      const p = running.catch(() => {}).then(() => pass(true));
      running = p.catch(() => {});
      return p;
    },
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running.catch(() => {});
    },
  };
}
