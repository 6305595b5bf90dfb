/**
 * Events on the jobs port: a consumer is a queue named after it; publishing an event sends one
 * job to the queue of every consumer of its type, with a job id derived from (consumer, event
 * id), so a second publish of the same event is a no-op. Subscriptions live in
 * `platform.event_subscriptions` (migrations/platform/0003_jobs.sql), so a relay in any process
 * fans out to consumers running in other processes.
 */
import { createHash } from 'node:crypto';
import { CompiledQuery, type Kysely, sql } from 'kysely';
import { AppError } from '../../../shared/errors.ts';
import type { JobsPort, SqlExecutor } from '../../jobs/jobs.ts';
import type { SqlPort } from '../../sql/sql.ts';
import { CONSUMER_NAME, type Consumer, type DomainEvent, type EventsPort } from '../events.ts';

export type JobsEventsOptions = Readonly<{ jobs: JobsPort; sql: SqlPort }>;

export function createJobsEvents({ jobs, sql: sqlPort }: JobsEventsOptions): EventsPort {
  const platform = sqlPort.for<unknown>('platform').write as Kysely<unknown>;

  async function subscribers(types: readonly string[], tx: SqlExecutor): Promise<Map<string, string[]>> {
    const { rows } = await tx.executeQuery<{ type: string; consumer: string }>(
      CompiledQuery.raw(
        'select type, consumer from platform.event_subscriptions where type = any($1::text[]) order by consumer',
        [types],
      ),
    );
    const byType = new Map<string, string[]>();
    for (const row of rows) byType.set(row.type, [...(byType.get(row.type) ?? []), row.consumer]);
    return byType;
  }

  return {
    async publish(events, options = {}) {
      if (events.length === 0) return;
      const { tx } = options;
      const byType = await subscribers([...new Set(events.map((e) => e.type))], tx ?? platform);
      for (const event of events) {
        for (const consumer of byType.get(event.type) ?? []) {
          const id = deliveryId(consumer, event.id);
          await jobs.send(consumer, { ...event }, tx ? { id, tx } : { id });
        }
      }
    },

    async subscribe(consumer: Consumer) {
      if (!CONSUMER_NAME.test(consumer.name)) {
        throw new AppError(
          'INVALID_INPUT',
          `consumer name "${consumer.name}" must look like module.what-it-does (letters, digits, . - _)`,
        );
      }
      // The queue first: a relay that sees the subscription must find the queue.
      await jobs.work<DomainEvent>(
        consumer.name,
        (job) =>
          consumer.handle(job.data, { consumer: consumer.name, attempt: job.attempt, signal: job.signal }),
        {
          ...(consumer.concurrency !== undefined ? { concurrency: consumer.concurrency } : {}),
          ...(consumer.retryLimit !== undefined ? { retryLimit: consumer.retryLimit } : {}),
          ...(consumer.leaseSeconds !== undefined ? { leaseSeconds: consumer.leaseSeconds } : {}),
        },
      );
      const types = [...new Set(consumer.types)];
      await platform.transaction().execute(async (trx) => {
        await sql`delete from platform.event_subscriptions
                  where consumer = ${consumer.name} and not (type = any(${types}::text[]))`.execute(trx);
        for (const type of types) {
          await sql`insert into platform.event_subscriptions (type, consumer) values (${type}, ${consumer.name})
                    on conflict do nothing`.execute(trx);
        }
      });
    },
  };
}

/** The job id of one delivery: a name-based UUID (version 5 layout) of consumer and event id. */
export function deliveryId(consumer: string, eventId: string): string {
  const bytes = createHash('sha1').update(`${consumer}\n${eventId}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
