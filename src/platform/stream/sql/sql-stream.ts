/**
 * SQL stream adapter: one row per record in `platform.stream_records`, positions are the
 * identity column. Limits: throughput is the primary's insert rate; records are kept until
 * `trim` removes them.
 */
import { sql as raw } from 'kysely';
import type { SqlPort } from '../../sql/sql.ts';
import { MAX_APPEND_BATCH, MAX_RECORD_BYTES, type StreamPort } from '../stream.ts';

type StreamDb = {
  stream_records: { seq: string | number; stream: string; at: Date; data: unknown };
};

export function createSqlStream(sql: SqlPort, options: { now?: () => number } = {}): StreamPort {
  const db = sql.for<StreamDb>('platform').write;
  const now = options.now ?? (() => Date.now());
  return {
    async append(stream, records) {
      if (records.length === 0) return;
      if (records.length > MAX_APPEND_BATCH) {
        throw new RangeError(`at most ${MAX_APPEND_BATCH} records per append, got ${records.length}`);
      }
      const jsons = records.map((r) => {
        const json = JSON.stringify(r);
        if (Buffer.byteLength(json) > MAX_RECORD_BYTES) {
          throw new RangeError(`a stream record is larger than ${MAX_RECORD_BYTES} bytes`);
        }
        return json;
      });
      // One array parameter instead of three per row: the statement text and its parse are the
      // same for every batch size, which matters at thousands of records a second.
      await db
        .insertInto('stream_records')
        .columns(['stream', 'at', 'data'])
        .expression(
          raw`select ${stream}, ${new Date(now())}::timestamptz, r::jsonb from unnest(${jsons}::text[]) with ordinality as u(r, n) order by n`,
        )
        .execute();
    },

    async read(stream, after, { limit, settleMs = 2000 }) {
      const rows = await db
        .selectFrom('stream_records')
        .select(['seq', 'at', 'data'])
        .where('stream', '=', stream)
        .$if(after !== null, (qb) => qb.where('seq', '>', after!))
        .where('at', '<=', new Date(now() - settleMs))
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        position: String(r.seq),
        at: r.at,
        data: r.data as Record<string, unknown>,
      }));
    },

    async trim(stream, before) {
      const result = await db
        .deleteFrom('stream_records')
        .where('stream', '=', stream)
        .where('at', '<', before)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
