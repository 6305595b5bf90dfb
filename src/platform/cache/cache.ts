/**
 * Cache port: cache-aside for hot reads, on bentocache. Solo: one in-process memory tier.
 * With Redis (CACHE=redis): memory (L1) + Redis (L2) tiers and a Redis pub/sub bus, so a delete
 * on one instance drops every instance's L1 copy. Loads are single-flight per key (stampede
 * protection); with `graceMs`, an expired value is kept that long and served when the loader
 * fails (serve-stale on database errors); every TTL gets up to 10% random jitter so that keys
 * written together do not expire together. Values must be JSON-serialisable, and what
 * `getOrSet` returns is deeply frozen and shared by every caller (memory-tier.ts): copy before
 * changing it.
 *
 * Reads wait for the loader (no stale-while-revalidate): after an invalidation the next read
 * returns the new value, never the invalidated one, unless the loader fails within grace.
 * Invalidation by tag compares the entry's write time with the tag's deletion time (clocks of
 * the instances must agree to within the TTLs). Each outcome is also counted into the running
 * HTTP request's counters (src/platform/telemetry/request-counters.ts).
 */
import { BentoCache, bentostore } from 'bentocache';
import type { RedisHealth } from '../redis-options.ts';
import { countCache } from '../telemetry/request-counters.ts';
import { memoryTier, NOT_FRESH } from './memory-tier.ts';
import type { RedisTier } from './redis-tier.ts';

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
  /**
   * What `getOrSet(key)` would answer at once from this instance's memory (a fresh, untagged
   * value; counted as a hit), without a promise; undefined when it would have to go further
   * (Redis, the loader, a graced value, a tag check): then call `getOrSet`. For the hottest reads.
   */
  peek<T>(key: string): T | undefined;
  /** Removes `key` on every instance. Idempotent. */
  delete(key: string): Promise<void>;
  /**
   * Invalidates `key` on every instance but keeps its value for `graceMs` (default: none), served
   * only when the loader fails (as `deleteByTag` does for tagged keys, without the tag lookup
   * every tagged read pays). Idempotent.
   */
  expire(key: string, options?: Readonly<{ graceMs?: number }>): Promise<void>;
  /** Invalidates every key tagged with `tag` (or any of `tags`) on every instance; an invalidated value may still be served within its grace when its loader fails. Idempotent. */
  deleteByTag(tag: string | readonly string[]): Promise<void>;
  /** Counters since start (monotonic: a reader that wants a window subtracts two readings). */
  stats(): CacheStats;
  close(): Promise<void>;
}

export type CacheOptions = Readonly<{
  /** Memory + Redis tiers and the bus when set (`redisTier(url)`, redis-tier.ts); memory only when absent. */
  redis?: RedisTier;
  /** Prefix of every Redis key and of the bus messages (`bazaar:cache`); tests use one of their own. */
  prefix?: string;
  /** L1 size bound, in characters of the entries' JSON (default 64 Mi). */
  maxMemoryBytes?: number;
  /** L1 entry-count bound (default 100,000: the byte bound binds first for entries over ~670 bytes). */
  maxMemoryItems?: number;
  /**
   * Repeat every `delete`/`deleteByTag` once this many ms later (0/absent: never). With read
   * replicas, a read right after an invalidation may refill the entry from a replica that has not
   * replayed the write yet; repeating the delete once every serving replica must have replayed
   * it (their allowed lag plus one poll) drops such a refill. A timer in this process: closing
   * the cache cancels pending repeats.
   */
  repeatDeletesAfterMs?: number;
  /** Told once when one of the cache's Redis connections (tier, bus publisher, bus subscriber) is lost and once when it is back (`watchRedis`). */
  onRedisHealth?: (health: RedisHealth) => void;
}>;

const JITTER = 0.1;

/** A key's family for the loads counter: the key up to its first `:`. */
function keyFamily(key: string): string {
  const colon = key.indexOf(':');
  return colon === -1 ? key : key.slice(0, colon);
}

export function createCache(options: CacheOptions = {}): Cache {
  const prefix = options.prefix ?? 'bazaar:cache';
  // Bound by bytes and by entries: bentocache's default of 1000 entries would hold under 1% of a
  // 100k-product catalog (L1 misses then cost a Redis round trip, or a database load in memory
  // mode). lru-cache allocates ~50 bytes per entry slot up front. Entries stay objects (no JSON
  // round trip per hit): memory-tier.ts.
  const memory = memoryTier({
    maxSize: options.maxMemoryBytes ?? 64 * 1024 * 1024,
    maxItems: options.maxMemoryItems ?? 100_000,
  });
  const l1 = memory as unknown as Parameters<ReturnType<typeof bentostore>['useL1Layer']>[0];
  const report = options.onRedisHealth ?? (() => {});
  const store = options.redis ? options.redis(l1, { prefix, report }) : bentostore().useL1Layer(l1);
  const bento = new BentoCache({
    default: 'main',
    prefix,
    stores: { main: store },
    // Redis down: after one failed L2 call, skip L2 for this long (memory tier and database only)
    // instead of making every read wait for a reconnect attempt.
    l2CircuitBreakerDuration: '10s',
  });

  const repeats = new Set<NodeJS.Timeout>();
  const repeat = (again: () => Promise<unknown>) => {
    if (!options.repeatDeletesAfterMs) return;
    const timer = setTimeout(() => {
      repeats.delete(timer);
      again().catch(() => {}); // best effort: the TTL bounds what a lost repeat leaves
    }, options.repeatDeletesAfterMs);
    timer.unref();
    repeats.add(timer);
  };

  let hits = 0;
  let misses = 0;
  let staleServed = 0;
  const loads: Record<string, number> = {};

  // A fresh untagged value in the memory tier is what bentocache would answer: answered here.
  const peek = <T>(key: string): T | undefined => {
    const fresh = memory.fresh(key);
    if (fresh === NOT_FRESH) return undefined;
    hits++;
    countCache('hit');
    return fresh as T;
  };

  return {
    peek,
    async getOrSet<T>(key: string, loader: () => Promise<T>, opts: CacheGetOptions): Promise<T> {
      const known = peek<T>(key);
      if (known !== undefined) return known;
      const ttl = Math.max(1, Math.round(opts.ttlMs * (1 + Math.random() * JITTER)));
      let loaded = false;
      let loaderError: { error: unknown } | undefined;
      let value: T;
      try {
        value = await bento.getOrSet<T>({
          key,
          ttl,
          // bentocache's grace is the entry's whole physical lifetime, counted from the write.
          grace: opts.graceMs ? ttl + opts.graceMs : false,
          tags: opts.tags ? [...opts.tags] : undefined,
          // No soft timeout: bentocache's default (0) with grace is stale-while-revalidate, which
          // would answer the first read after an invalidation with the invalidated value. (Per
          // call: the constructor option turns null into 0.)
          timeout: null,
          factory: async () => {
            loaded = true;
            const family = keyFamily(key);
            loads[family] = (loads[family] ?? 0) + 1;
            try {
              return await loader();
            } catch (error) {
              loaderError = { error };
              throw error;
            }
          },
        });
      } catch (err) {
        misses++;
        countCache('miss');
        // bentocache wraps the loader's error; callers (and the HTTP edge) need the original.
        throw loaderError ? loaderError.error : err;
      }
      if (loaderError) {
        staleServed++;
        countCache('stale');
      } else if (loaded) {
        misses++;
        countCache('miss');
      } else {
        hits++;
        countCache('hit');
      }
      return value;
    },
    async delete(key) {
      await bento.delete({ key });
      repeat(() => bento.delete({ key }));
    },
    async expire(key, opts = {}) {
      // bentocache rewrites the expired entry in Redis with the call's options: its grace is how
      // long that copy stays there (else the default TTL, 30 min). `expire` takes the common
      // options at run time, though its type names only suppressL2Errors.
      const options = { key, grace: opts.graceMs ? opts.graceMs : false } as { key: string };
      await bento.expire(options);
      repeat(() => bento.expire(options));
    },
    async deleteByTag(tag) {
      const tags = typeof tag === 'string' ? [tag] : [...tag];
      await bento.deleteByTag({ tags });
      repeat(() => bento.deleteByTag({ tags }));
    },
    stats: () => ({ hits, misses, staleServed, loads: { ...loads } }),
    async close() {
      for (const timer of repeats) clearTimeout(timer);
      repeats.clear();
      await bento.disconnectAll();
    },
  };
}

/**
 * CACHE=none: no cache at all, to rule the cache out (an operator chasing a stale-data report, a
 * benchmark's "cache off" phase). Every `getOrSet` runs its loader (counted as a miss and as a
 * load of its key family); no single flight, nothing kept, so no serve-stale either; deletes do
 * nothing. Not an adapter of the contract suite: it keeps nothing by design.
 */
export function createPassThroughCache(): Cache {
  let misses = 0;
  const loads: Record<string, number> = {};
  return {
    async getOrSet<T>(key: string, loader: () => Promise<T>): Promise<T> {
      misses++;
      countCache('miss');
      const family = keyFamily(key);
      loads[family] = (loads[family] ?? 0) + 1;
      return loader();
    },
    peek: () => undefined,
    async delete() {},
    async expire() {},
    async deleteByTag() {},
    stats: () => ({ hits: 0, misses, staleServed: 0, loads: { ...loads } }),
    async close() {},
  };
}
