/**
 * Idempotent consumers. Events are delivered at least once, so a consumer deduplicates by
 * (consumer, event id) in the `processed_events` table of the schema of the handle it passes:
 * its own domain's (`catalog.processed_events`…), so the record and the consumer's writes commit
 * in one domain, and so in one database once domains are federated.
 *
 * "Exactly once" means the consumer's EFFECT happens once, not that the handler runs once:
 * - `handleOnce`, for effects in SQL: the record and the consumer's writes commit in one
 *   transaction, so the effect happens exactly once however often the event is delivered, even
 *   with two deliveries running at once (the second waits on the first's record, then skips).
 * - `handleExternalOnce`, for effects outside the database (mail, HTTP calls): skipped when
 *   recorded; recorded after the effect succeeded. A crash between the two repeats the effect on
 *   the next delivery, so the effect happens at least once and, barring that window, once; make
 *   it idempotent downstream when it can be (e.g. a Message-ID derived from the event id).
 *
 * Inside `handleOnce`'s transaction use only `trx`: on PGlite another query (another domain's
 * handle, the jobs port without `tx`) would wait for the one connection the transaction holds.
 */
import type { Generated, Kysely, Transaction } from 'kysely';

export type Delivery = Readonly<{ consumer: string; eventId: string }>;

/**
 * Runs `fn` in a transaction on `db` (the consumer's own write handle) that also records the
 * delivery; returns false, running nothing, when the delivery was already processed.
 */
export async function handleOnce<DB>(
  db: Kysely<DB>,
  delivery: Delivery,
  fn: (trx: Transaction<DB>) => Promise<void>,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await record(trx, delivery))) return false;
    await fn(trx);
    return true;
  });
}

/**
 * Runs `fn` (an effect outside the database) unless the delivery was processed, then records
 * it; returns false when it was skipped. `db` is any handle on the database of the platform schema.
 */
export async function handleExternalOnce<DB>(
  db: Kysely<DB>,
  delivery: Delivery,
  fn: () => Promise<void>,
): Promise<boolean> {
  if (await isProcessed(db, delivery)) return false;
  await fn();
  await record(db, delivery);
  return true;
}

/** Whether the delivery was processed. */
export async function isProcessed<DB>(db: Kysely<DB>, { consumer, eventId }: Delivery): Promise<boolean> {
  const row = await (db as unknown as Kysely<ProcessedEventsDb>)
    .selectFrom('processed_events')
    .select('event_id')
    .where('consumer', '=', consumer)
    .where('event_id', '=', eventId)
    .executeTakeFirst();
  return row !== undefined;
}

async function record<DB>(db: Kysely<DB>, { consumer, eventId }: Delivery): Promise<boolean> {
  const row = await (db as unknown as Kysely<ProcessedEventsDb>)
    .insertInto('processed_events')
    .values({ consumer, event_id: eventId })
    .onConflict((oc) => oc.columns(['consumer', 'event_id']).doNothing())
    .returning('event_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Every domain that consumes events has this table in its schema (its own migration). */
type ProcessedEventsDb = {
  processed_events: { consumer: string; event_id: string; processed_at: Generated<Date> };
};
