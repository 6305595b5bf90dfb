/**
 * Redis Streams adapter of the stream port (STREAM_STORE=redis): each `append` is ONE entry of
 * the Redis stream `<prefix><stream>`, its records as newline-delimited JSON in field `r` (and
 * their count in `n`), as the SQL adapter keeps one row per batch. It exists to keep the
 * clickstream's writes off the primary database.
 *
 * Positions are `<entry id>:<index in batch>` (`1764633600000-0:17`). Entry ids carry the append
 * time from the injected clock (`<ms>-*`, Redis picks the sequence); when another instance's
 * clock has already written a later id, Redis refuses that one and the entry takes the next id
 * Redis assigns (`*`), so ids always increase. XADD is atomic, so no append can commit after a
 * later one: `settleMs` is honoured (records younger than it are not read) but is not needed for
 * safety here. `trim` drops whole entries older than the cutoff (XTRIM MINID).
 *
 * Limits: what Redis holds is memory, trimmed by the analytics roll-up after
 * CLICKSTREAM_RETENTION (sizing: docs/configuration.md). Redis persistence decides what survives
 * a Redis restart (the stack runs it without persistence: a restart loses unread clickstream,
 * which is best effort by design).
 */
import { batchLines, type StreamPort, type StreamRecord } from '../stream.ts';

/** The slice of an ioredis client this adapter uses. */
export type RedisStreamClient = Readonly<{
  xadd(key: string, id: string, ...fieldsAndValues: string[]): Promise<string | null>;
  xrange(key: string, start: string, end: string, count: 'COUNT', n: number): Promise<[string, string[]][]>;
  xtrim(key: string, strategy: 'MINID', threshold: string): Promise<number>;
}>;

export type RedisStreamOptions = Readonly<{
  /** Prepended to every stream's key (`bazaar:stream:` by default); tests use one of their own. */
  prefix?: string;
  /** Milliseconds since the epoch; tests pass their own clock. */
  now?: () => number;
}>;

const POSITION = /^(\d{1,19}-\d{1,19})(?::(\d{1,3}))?$/;

/** The entry id and the record index of a position this adapter handed out; null for anything else. */
function parsePosition(position: string): { id: string; index: number } | null {
  const match = POSITION.exec(position);
  return match ? { id: match[1]!, index: Number(match[2] ?? 0) } : null;
}

const msOf = (id: string): number => Number(id.slice(0, id.indexOf('-')));

export function createRedisStream(redis: RedisStreamClient, options: RedisStreamOptions = {}): StreamPort {
  const prefix = options.prefix ?? 'bazaar:stream:';
  const now = options.now ?? (() => Date.now());
  const key = (stream: string) => `${prefix}${stream}`;

  return {
    store: 'redis',

    async append(stream, records) {
      if (records.length === 0) return;
      const fields = ['n', String(records.length), 'r', batchLines(records)];
      try {
        await redis.xadd(key(stream), `${Math.max(0, Math.floor(now()))}-*`, ...fields);
      } catch (err) {
        // "The ID specified in XADD is equal or smaller than the target stream top item": a later
        // entry exists (another clock); take the next id Redis assigns.
        if (!(err instanceof Error && /equal or smaller/.test(err.message))) throw err;
        await redis.xadd(key(stream), '*', ...fields);
      }
    },

    async read(stream, after, { limit, settleMs = 2000 }) {
      if (!Number.isInteger(limit) || limit < 1)
        throw new RangeError(`limit must be a positive integer, got ${limit}`);
      const from = after === null ? null : parsePosition(after);
      if (after !== null && from === null) throw new RangeError(`not a position of this stream: ${after}`);
      const until = Math.floor(now() - settleMs);
      if (until < 0) return [];
      // Entries from the one holding `after` on (it may have records left); each entry holds at
      // least one record, so `limit + 1` entries always suffice.
      const entries = await redis.xrange(
        key(stream),
        from ? from.id : '-',
        String(until),
        'COUNT',
        limit + 1,
      );
      const out: StreamRecord[] = [];
      for (const [id, fields] of entries) {
        const text = fields[fields.indexOf('r') + 1] ?? '';
        const lines = text.split('\n');
        const skip = from && id === from.id ? from.index + 1 : 0;
        const at = new Date(msOf(id));
        for (let i = skip; i < lines.length && out.length < limit; i++) {
          out.push({ position: `${id}:${i}`, at, data: JSON.parse(lines[i]!) });
        }
        if (out.length >= limit) break;
      }
      return out;
    },

    async trim(stream, before) {
      // Records, not entries, as the SQL adapter counts: read the counts of what goes, then trim.
      const cutoff = Math.floor(before.getTime());
      if (!(cutoff > 0)) return 0;
      let records = 0;
      let start = '-';
      for (;;) {
        const entries = await redis.xrange(key(stream), start, String(cutoff - 1), 'COUNT', 1000);
        for (const [, fields] of entries) records += Number(fields[fields.indexOf('n') + 1] ?? 1);
        if (entries.length < 1000) break;
        start = `(${entries.at(-1)![0]}`;
      }
      await redis.xtrim(key(stream), 'MINID', String(cutoff));
      return records;
    },
  };
}
