/**
 * Stream port: an append-only log of small JSON records per named stream (the clickstream),
 * read in order by consumers that keep their own position. Cheap to append on the request path;
 * aggregation happens later, in jobs. Adapters: SQL table (STREAM_STORE=sql, the default) and
 * Redis Streams (STREAM_STORE=redis); Kinesis later.
 */
export type StreamRecord = Readonly<{
  /** Opaque, increasing within a stream; pass it back to `read` as `after`. */
  position: string;
  /** When the record was appended (server clock). */
  at: Date;
  data: Readonly<Record<string, unknown>>;
}>;

export interface StreamPort {
  /**
   * Which store holds the records (`sql`, `redis`). Positions are the store's own: a consumer that
   * keeps one keeps it per store, so switching STREAM_STORE starts it on the new store's records.
   */
  readonly store: string;
  /** Appends records to a stream in the given order; at most 500 per call, each ≤ 4 KiB as JSON. */
  append(stream: string, records: readonly Readonly<Record<string, unknown>>[]): Promise<void>;
  /**
   * Up to `limit` records appended after `after` (null: from the start) and at least `settleMs`
   * ago, oldest first. Waiting `settleMs` lets concurrent appends commit, so a consumer that
   * advances its position past what it read never skips a record.
   */
  read(
    stream: string,
    after: string | null,
    options: { limit: number; settleMs?: number },
  ): Promise<StreamRecord[]>;
  /** Deletes records appended before `before`; returns how many. */
  trim(stream: string, before: Date): Promise<number>;
}

export const MAX_APPEND_BATCH = 500;
export const MAX_RECORD_BYTES = 4096;

/**
 * An append's records as newline-delimited JSON, the form both adapters store a batch in, after
 * the port's limits are checked (RangeError, nothing stored). JSON.stringify escapes newlines
 * inside strings, so a line is exactly one record.
 */
export function batchLines(records: readonly Readonly<Record<string, unknown>>[]): string {
  if (records.length > MAX_APPEND_BATCH) {
    throw new RangeError(`at most ${MAX_APPEND_BATCH} records per append, got ${records.length}`);
  }
  return records
    .map((r) => {
      const json = JSON.stringify(r);
      // UTF-8 takes at most 3 bytes per UTF-16 unit: only a long line needs counting.
      if (json.length * 3 > MAX_RECORD_BYTES && Buffer.byteLength(json) > MAX_RECORD_BYTES) {
        throw new RangeError(`a stream record is larger than ${MAX_RECORD_BYTES} bytes`);
      }
      return json;
    })
    .join('\n');
}
