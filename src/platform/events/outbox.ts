/**
 * Transactional outbox. A module records a domain event in the SAME transaction as the change
 * it describes, in its own schema's `outbox` table, so the event exists if and only if the
 * change committed. The relay (outbox-relay.ts) later publishes unpublished rows to the events
 * port. Every domain that emits events creates this table in one of its migrations:
 *
 *   create table <domain>.outbox (
 *     id uuid primary key,               -- the event id (UUIDv7); consumers deduplicate by it
 *     type text not null,                -- e.g. 'order.placed'
 *     key text,                          -- partition/shard key, e.g. the buyer id
 *     payload jsonb not null,
 *     occurred_at timestamptz not null default now(),
 *     published_at timestamptz
 *   );
 *   create index outbox_unpublished_idx on <domain>.outbox (id) where published_at is null;
 */
import type { Kysely, Transaction } from 'kysely';
import { uuidv7 } from '../../shared/ids.ts';

export type OutboxTable = {
  outbox: {
    id: string;
    type: string;
    key: string | null;
    payload: unknown;
    occurred_at: Date;
    published_at: Date | null;
  };
};

export type NewEvent = Readonly<{ type: string; payload: Record<string, unknown>; key?: string }>;

/**
 * Appends events to the outbox of the domain whose handle (or transaction on it) is given, of
 * any domain's table types. Call it inside the transaction of the change; returns the event ids.
 */
export async function appendEvents<DB>(
  db: Kysely<DB> | Transaction<DB>,
  events: readonly NewEvent[],
): Promise<string[]> {
  if (events.length === 0) return [];
  const at = new Date();
  const rows = events.map((e) => ({
    id: uuidv7(at.getTime()),
    type: e.type,
    key: e.key ?? null,
    payload: JSON.stringify(e.payload),
    occurred_at: at,
    published_at: null,
  }));
  // Every emitting domain's schema has the table (see above), whether or not its types name it.
  // The one cast, here rather than in every caller: Kysely cannot type a table of a generic DB.
  await (db as unknown as Kysely<OutboxTable>).insertInto('outbox').values(rows).execute();
  return rows.map((r) => r.id);
}
