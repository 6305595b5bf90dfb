/**
 * SQL stream adapter: each `append` is ONE row of `platform.stream_batches` holding its records
 * as newline-delimited JSON, the way Kinesis producers aggregate user records into one stream
 * record. A product view costs the database a share of one insert instead of a row, two index
 * entries and a jsonb parse of its own. A record's position is `<batch seq>:<index in batch>`
 * (a bare `<seq>`, the format of the row-per-record table, reads as `<seq>:0`).
 * Limits: throughput is the primary's insert rate of batches; a batch is at most 500 records of
 * 4 KiB; records are kept until `trim` removes them (the analytics roll-up trims what it has
 * consumed after its retention).
 */
import { type Generated, sql as raw } from 'kysely';
import type { SqlPort } from '../../sql/sql.ts';
import { batchLines, type StreamPort, type StreamRecord } from '../stream.ts';

type StreamDb = {
  stream_batches: { seq: Generated<string>; stream: string; at: Date; count: number; records: string };
};

/** `<seq>:<index>`, or a bare `<seq>` (older positions); null for anything else. */
function parsePosition(position: string): { seq: bigint; index: number } | null {
  const match = /^(\d{1,19})(?::(\d{1,3}))?$/.exec(position);
  return match ? { seq: BigInt(match[1]!), index: Number(match[2] ?? 0) } : null;
}

export function createSqlStream(sql: SqlPort, options: { now?: () => number } = {}): StreamPort {
  const db = sql.for<StreamDb>('platform').write;
  const now = options.now ?? (() => Date.now());
  return {
    store: 'sql',

    async append(stream, records) {
      if (records.length === 0) return;
      const lines = batchLines(records);
      await db
        .insertInto('stream_batches')
        .values({ stream, at: new Date(now()), count: records.length, records: lines })
        .execute();
    },

    async read(stream, after, { limit, settleMs = 2000 }) {
      if (!Number.isInteger(limit) || limit < 1)
        throw new RangeError(`limit must be a positive integer, got ${limit}`);
      const from = after === null ? null : parsePosition(after);
      if (after !== null && from === null) throw new RangeError(`not a position of this stream: ${after}`);
      // Batches from the one holding `after` on, just enough of them to fill `limit` records:
      // each batch holds at least one record, so `limit + 1` batches always suffice, and the
      // running count drops those past the limit before their records leave the database.
      const { rows } = await raw<{ seq: string; at: Date; records: string }>`
        select seq::text as seq, at, records from (
          select seq, at, records, sum(count) over (order by seq) - count as before
          from (
            select seq, at, count, records from platform.stream_batches
            where stream = ${stream}
              ${from ? raw`and seq >= ${String(from.seq)}::bigint` : raw``}
              and at <= ${new Date(now() - settleMs)}
            order by seq
            limit ${limit + 1}
          ) b
        ) w
        where before < ${limit + (from?.index ?? 0) + 1}
        order by seq`.execute(db);
      const out: StreamRecord[] = [];
      for (const row of rows) {
        const lines = row.records.split('\n');
        const skip = from && BigInt(row.seq) === from.seq ? from.index + 1 : 0;
        for (let i = skip; i < lines.length && out.length < limit; i++) {
          out.push({ position: `${row.seq}:${i}`, at: row.at, data: JSON.parse(lines[i]!) });
        }
        if (out.length >= limit) break;
      }
      return out;
    },

    async trim(stream, before) {
      const { rows } = await raw<{ records: string | null }>`
        with gone as (
          delete from platform.stream_batches where stream = ${stream} and at < ${before} returning count
        )
        select sum(count)::text as records from gone`.execute(db);
      return Number(rows[0]?.records ?? 0);
    },
  };
}
