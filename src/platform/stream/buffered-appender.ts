/**
 * Batches appends made on the request path: records wait in memory for at most `flushMs`, or
 * until a full batch (MAX_APPEND_BATCH) of a stream is waiting, and go to the stream in one call
 * per batch. The request never waits for the database. `maxQueued` bounds what waits while the
 * stream is slower than the requests (then records are dropped and counted). Trade-off, stated: a
 * process that crashes loses at most `flushMs` of clickstream; a graceful shutdown flushes
 * (`close`). A failed flush is reported and dropped, never retried forever (clickstream is best
 * effort; orders and money never go this way).
 */
import { MAX_APPEND_BATCH, type StreamPort } from './stream.ts';

export type BufferedAppender = {
  /** Queues a record; never throws, never waits. Records beyond `maxQueued` are dropped and counted. */
  add(stream: string, record: Record<string, unknown>): void;
  /** Sends everything queued now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
  /** Records dropped because the queue was full or a flush failed. */
  readonly dropped: number;
};

export function createBufferedAppender(
  port: StreamPort,
  options: { flushMs?: number; maxQueued?: number; onError?: (err: unknown) => void } = {},
): BufferedAppender {
  const flushMs = options.flushMs ?? 1000;
  const maxQueued = options.maxQueued ?? 10_000;
  const queues = new Map<string, Record<string, unknown>[]>();
  let queued = 0;
  let dropped = 0;
  let flushing: Promise<void> = Promise.resolve();
  let full = false; // a full batch is waiting and a flush for it is scheduled

  async function sendAll(): Promise<void> {
    const batches = [...queues.entries()];
    queues.clear();
    queued = 0;
    for (const [stream, records] of batches) {
      for (let i = 0; i < records.length; i += MAX_APPEND_BATCH) {
        const chunk = records.slice(i, i + MAX_APPEND_BATCH);
        try {
          await port.append(stream, chunk);
        } catch (err) {
          dropped += chunk.length;
          options.onError?.(err);
        }
      }
    }
  }

  const flush = (): Promise<void> => {
    flushing = flushing.then(() => {
      full = false;
      return sendAll();
    });
    return flushing;
  };
  const timer = setInterval(() => {
    if (queued > 0) void flush();
  }, flushMs);
  timer.unref();

  return {
    add(stream, record) {
      if (queued >= maxQueued) {
        dropped++;
        return;
      }
      let q = queues.get(stream);
      if (!q) {
        q = [];
        queues.set(stream, q);
      }
      q.push(record);
      queued++;
      // A full batch goes now (after any flush in flight), not at the next tick of the timer: at
      // thousands of records a second the timer alone would let the queue reach maxQueued.
      if (q.length >= MAX_APPEND_BATCH && !full) {
        full = true;
        void flush();
      }
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
    get dropped() {
      return dropped;
    },
  };
}
