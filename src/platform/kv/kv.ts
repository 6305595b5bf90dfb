/**
 * kv port: a small NoSQL store for carts, counters and leaderboards. Two namespaces that never
 * mix: **keys** hold a JSON value with a version (optimistic concurrency) and an optional TTL;
 * **sorted sets** hold members with a numeric score. Adapters: SQL tables in the `platform`
 * schema (now), Redis and DynamoDB (later); each must pass `kv.contract.ts`.
 *
 * Versions are positive integers: a key is created at version 1 and each write adds 1. A key
 * that is absent, deleted or expired has no version; writing it again starts at 1. Expired keys
 * read as absent everywhere. Sorted sets have no TTL (name them by period instead, e.g.
 * `products:week:2030-W01`).
 */

/** A JSON value: what `JSON.stringify` writes and `JSON.parse` reads back. No U+0000 in strings. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

export type KvEntry<T = Json> = Readonly<{ value: T; version: number }>;

/** The outcome of a conditional write: the new version, or a conflict (nothing was written). */
export type KvWriteResult = Readonly<{ ok: true; version: number }> | Readonly<{ ok: false }>;

export type KvPutOptions = Readonly<{
  /** Write only if the key's current version is this; 0 means "only if the key is absent". */
  ifVersion?: number;
  /** The key expires this many milliseconds after the write; without it, it never expires. */
  ttlMs?: number;
}>;

export type KvScore = Readonly<{ member: string; score: number }>;

export interface Kv {
  /** The live value and version of `key`; null when absent or expired. Values come back as stored JSON. */
  get<T = Json>(key: string): Promise<KvEntry<T> | null>;
  /** Writes `value` (replacing value and TTL); with `ifVersion`, only if the version matches, else `{ok: false}`. */
  put(key: string, value: Json, options?: KvPutOptions): Promise<KvWriteResult>;
  /** Removes `key`; with `ifVersion`, only at that version. True when a live key was removed; idempotent. */
  delete(key: string, options?: Readonly<{ ifVersion?: number }>): Promise<boolean>;
  /** Atomically adds the integer `by` (may be negative) to an integer key, absent = 0; returns the new value. `ttlMs` applies only when this creates the key. Rejects when the key holds a non-integer. */
  incr(key: string, by: number, options?: Readonly<{ ttlMs?: number }>): Promise<number>;
  /** Atomically adds `by` to `member`'s score in `set` (absent member = 0); returns the new score. */
  zincr(set: string, member: string, by: number): Promise<number>;
  /** Sets `member`'s score in `set` to `score`, adding the member when absent. */
  zadd(set: string, member: string, score: number): Promise<void>;
  /** The first `n` (0..1000) members of `set`, highest score first, ties by member ascending (bytewise); [] for an empty set. */
  ztop(set: string, n: number): Promise<KvScore[]>;
  /** `member`'s 0-based position in the order of `ztop`; null when not in the set. */
  zrank(set: string, member: string): Promise<number | null>;
  /** `member`'s score in `set`; null when not in the set. */
  zscore(set: string, member: string): Promise<number | null>;
}

/** Limits every adapter enforces the same way (RangeError before anything is written). */
export const KV_LIMITS = {
  /** Keys, set names and members: 1..512 UTF-8 bytes. */
  nameMaxBytes: 512,
  /** A value serialised as JSON: at most 256 KiB. */
  valueMaxBytes: 256 * 1024,
  /** `ztop` returns at most this many members. */
  topMax: 1000,
} as const;
