/**
 * Cache port: cache-aside for hot reads, on bentocache. Solo: one in-process memory tier.
 * With Redis (CACHE=redis): memory (L1) + Redis (L2) tiers and a Redis pub/sub bus, so a delete
 * on one instance drops every instance's L1 copy. Loads are single-flight per key (stampede
 * protection); with `graceMs`, an expired value is kept that long and served when the loader
 * fails (serve-stale on database errors); every TTL gets up to 10% random jitter so that keys
 * written together do not expire together. Values must be JSON-serialisable.
 */
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';

export type CacheGetOptions = Readonly<{
  /** How long a loaded value is fresh, in ms (before jitter). */
  ttlMs: number;
  /** How long after expiry a stale value may still be served when the loader fails; 0/absent: none. */
  graceMs?: number;
  /** Tags for `deleteByTag` (e.g. `product:<id>`, `catalog`). */
  tags?: readonly string[];
}>;

export type CacheStats = Readonly<{
  hits: number;
  misses: number;
  /** Hits on an expired value served within its grace period because the loader failed. */
  staleServed: number;
  /** Loader runs by key family (the key up to its first `:`). */
  loads: Readonly<Record<string, number>>;
}>;

export interface Cache {
  /** The cached value of `key`, else the loader's (stored, then returned); one loader per key at a time. Rejects with the loader's error when nothing (not even a graced value) can be served. */
  getOrSet<T>(key: string, loader: () => Promise<T>, options: CacheGetOptions): Promise<T>;
  /** Removes `key` on every instance. Idempotent. */
  delete(key: string): Promise<void>;
  /** Removes every key tagged `tag` on every instance. Idempotent. */
  deleteByTag(tag: string): Promise<void>;
  /** Counters since start (or the last `resetStats`). */
  stats(): CacheStats;
  resetStats(): void;
  close(): Promise<void>;
}

export type CacheOptions = Readonly<{
  /** Memory + Redis tiers and the bus when set; memory only when absent. */
  redisUrl?: string;
  /** Prefix of every Redis key and of the bus channel (`bazaar:cache`); tests use one of their own. */
  prefix?: string;
  /** L1 size bound. */
  maxMemoryBytes?: number;
}>;

const JITTER = 0.1;

export function createCache(options: CacheOptions = {}): Cache {
  const prefix = options.prefix ?? 'bazaar:cache';
  const store = bentostore().useL1Layer(
    memoryDriver({ maxSize: options.maxMemoryBytes ?? 64 * 1024 * 1024 }),
  );
  if (options.redisUrl) {
    store
      .useL2Layer(redisDriver({ connection: options.redisUrl as never, prefix }))
      .useBus(redisBusDriver({ connection: options.redisUrl as never, retryQueue: { enabled: false } }));
  }
  const bento = new BentoCache({ default: 'main', prefix, stores: { main: store } });

  let hits = 0;
  let misses = 0;
  let staleServed = 0;
  let loads: Record<string, number> = {};

  return {
    async getOrSet<T>(key: string, loader: () => Promise<T>, opts: CacheGetOptions): Promise<T> {
      const ttl = Math.max(1, Math.round(opts.ttlMs * (1 + Math.random() * JITTER)));
      let loaded = false;
      let failed = false;
      const value = await bento.getOrSet<T>({
        key,
        ttl,
        grace: opts.graceMs ? opts.graceMs : false,
        tags: opts.tags ? [...opts.tags] : undefined,
        onFactoryError: () => {
          failed = true;
        },
        factory: async () => {
          loaded = true;
          const family = key.split(':', 1)[0]!;
          loads[family] = (loads[family] ?? 0) + 1;
          try {
            return await loader();
          } catch (err) {
            failed = true;
            throw err;
          }
        },
      });
      if (failed) staleServed++;
      else if (loaded) misses++;
      else hits++;
      return value;
    },
    async delete(key) {
      await bento.delete({ key });
    },
    async deleteByTag(tag) {
      await bento.deleteByTag({ tags: [tag] });
    },
    stats: () => ({ hits, misses, staleServed, loads: { ...loads } }),
    resetStats() {
      hits = 0;
      misses = 0;
      staleServed = 0;
      loads = {};
    },
    async close() {
      await bento.disconnectAll();
    },
  };
}
