/**
 * The cache port's memory tier (bentocache L1 driver). Entries are kept as deeply frozen objects,
 * not JSON strings, so a hit needs no `JSON.parse`, and every caller shares one object that it
 * cannot corrupt. Bounded by entry count and by the entries' JSON size (measured once per write;
 * characters, not heap bytes).
 *
 * `fresh(key)` answers what bentocache would answer from this tier at once, without bentocache's
 * per-call machinery, and leaves everything else (L2, single flight, grace, tags) to it. Answered
 * keys get a hot slot beside the LRU (value and logical expiry), so a repeat hit is one map lookup;
 * the LRU's `dispose` (write, delete, invalidation from another instance, eviction, TTL expiry)
 * drops the slot, and a slot's hits refresh the LRU recency one time in `RECENCY_EVERY`.
 *
 * bentocache 1.6 hands an L1 that does not serialise a serialised entry when it refills L1 from
 * L2 (upstream issue Julien-R44/bentocache#111); `set` parses such a string back into an object.
 */
import { LRUCache } from 'lru-cache';

/** What bentocache stores per key in L1: its own entry object (value, expiry, tags). */
type Entry = object;

/**
 * The shape of that entry, as bentocache 1.6 writes it: the fields `fresh` reads (`tags` is
 * absent or empty on an untagged entry). The cache contract suite (expiry, tags, invalidation on
 * every tier) fails if a bentocache upgrade changes them.
 */
type BentoEntry = { value?: unknown; logicalExpiration?: unknown; tags?: unknown };

/** `fresh`'s answer when bentocache has to decide. */
export const NOT_FRESH: unique symbol = Symbol('not fresh');

export type MemoryTierOptions = Readonly<{
  /** Bound on the entries' JSON size in characters. */
  maxSize: number;
  /** Bound on the number of entries. */
  maxItems: number;
}>;

type DriverConfig = MemoryTierOptions & {
  prefix?: string;
  lru?: LRUCache<string, Entry>;
  /** Called with the LRU key of every entry the LRU drops or replaces. */
  onDrop?: (lruKey: string) => void;
};

/** Hits on a hot slot refresh the entry's LRU recency once in this many (a power of two). */
const RECENCY_EVERY = 32;

/** A hot slot: a fresh untagged entry's value and logical expiry, beside the LRU. */
type Hot = { value: unknown; until: number; hits: number };

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** bentocache's L1 driver contract (its `L1CacheDriver`), over one LRU shared by namespaces. */
class MemoryTier {
  readonly type = 'l1' as const;
  readonly #lru: LRUCache<string, Entry>;
  readonly #prefix: string;
  readonly #config: DriverConfig;

  constructor(config: DriverConfig) {
    this.#config = config;
    this.#prefix = (config.prefix ?? '').replace(/:+$/, '');
    this.#lru =
      config.lru ??
      new LRUCache<string, Entry>({
        max: config.maxItems,
        maxSize: config.maxSize,
        // Entries over a tenth of the whole tier are not worth evicting everything else for.
        maxEntrySize: Math.max(1, Math.floor(config.maxSize / 10)),
        sizeCalculation: (entry) => Math.max(1, JSON.stringify(entry).length),
        ttlAutopurge: false,
        ...(config.onDrop ? { dispose: (_entry: Entry, key: string) => config.onDrop!(key) } : {}),
      });
  }

  #key(key: string): string {
    return this.#prefix ? `${this.#prefix}:${key}` : key;
  }

  /** The key `lruKey` (what `onDrop` is called with) was stored under in this tier: `lruKey` without this tier's prefix. */
  keyOf(lruKey: string): string {
    return this.#prefix && lruKey.startsWith(`${this.#prefix}:`)
      ? lruKey.slice(this.#prefix.length + 1)
      : lruKey;
  }

  namespace(namespace: string): MemoryTier {
    const prefix = this.#prefix ? `${this.#prefix}:${namespace}` : namespace;
    return new MemoryTier({ ...this.#config, prefix, lru: this.#lru });
  }

  get(key: string): Entry | undefined {
    return this.#lru.get(this.#key(key));
  }

  pull(key: string): Entry | undefined {
    const value = this.get(key);
    this.delete(key);
    return value;
  }

  set(key: string, value: Entry | string, ttl?: number): boolean {
    const entry = typeof value === 'string' ? (JSON.parse(value) as Entry) : value;
    this.#lru.set(this.#key(key), deepFreeze(entry), ttl === undefined ? {} : { ttl });
    return true;
  }

  getRemainingTtl(key: string): number | undefined {
    return this.#lru.getRemainingTTL(this.#key(key));
  }

  clear(): void {
    const start = `${this.#prefix}:`;
    for (const key of this.#lru.keys()) if (!this.#prefix || key.startsWith(start)) this.#lru.delete(key);
  }

  delete(key: string): boolean {
    return this.#lru.delete(this.#key(key));
  }

  deleteMany(keys: string[]): boolean {
    for (const key of keys) this.delete(key);
    return true;
  }

  async disconnect(): Promise<void> {}
}

/**
 * The tier as bentocache's `useL1Layer` takes it (`serialize: false` tells bentocache to hand over
 * objects), and `fresh(key)`: the value bentocache would answer for `key` straight from this tier,
 * or `NOT_FRESH`. That is an entry present (not evicted, not past its physical TTL), before its
 * logical expiry (so not expired by `expire`, nor a graced value), and without tags (a tagged
 * entry needs bentocache's tag check). Anything else goes to bentocache: L2, single flight, grace.
 */
export function memoryTier(options: MemoryTierOptions) {
  let root: MemoryTier | undefined;
  // Keyed by the caller's key (not the LRU's, which is that key with a prefix: one string fewer
  // to build and hash per hit). A key of a namespace that strips to a root key only drops a hot
  // slot that is made again.
  const hot = new Map<string, Hot>();
  const onDrop = (lruKey: string) => {
    if (hot.size === 0 || root === undefined) return;
    hot.delete(root.keyOf(lruKey));
  };

  /** The entry bentocache would answer from at once: present, untagged, before its logical expiry. */
  const freshEntry = (key: string): (BentoEntry & { logicalExpiration: number }) | undefined => {
    const entry = root?.get(key) as BentoEntry | undefined;
    if (entry === undefined) return undefined;
    const { tags } = entry;
    if (tags !== undefined && !(Array.isArray(tags) && tags.length === 0)) return undefined;
    const until = entry.logicalExpiration;
    return typeof until === 'number' && Date.now() < until
      ? (entry as BentoEntry & { logicalExpiration: number })
      : undefined;
  };

  return {
    options: { ...options, serialize: false },
    factory: (config: DriverConfig): MemoryTier => {
      root = new MemoryTier({ ...options, ...config, onDrop });
      return root;
    },
    fresh(key: string): unknown {
      if (root === undefined) return NOT_FRESH;
      const known = hot.get(key);
      if (known !== undefined && Date.now() < known.until) {
        if ((++known.hits & (RECENCY_EVERY - 1)) === 0) root.get(key);
        return known.value;
      }
      const entry = freshEntry(key);
      if (entry === undefined) return NOT_FRESH;
      hot.set(key, { value: entry.value, until: entry.logicalExpiration, hits: 0 });
      return entry.value;
    },
  };
}
