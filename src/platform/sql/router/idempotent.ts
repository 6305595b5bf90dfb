/**
 * Marks work as idempotent so the router may run a transaction again after a failover: inside
 * `runIdempotent(fn)`, a transaction (or single statement) on the write handle that fails with
 * a node error before commit is retried on the re-resolved primary — at most 3 tries within
 * 10 s — instead of answering 503 at once. A failure at commit is never retried (the commit may
 * have happened). Only wrap work that is safe to run twice, such as checkout under its
 * Idempotency-Key. Modules reach it as the SQL port's `idempotent(fn)` (sql.ts), not from here.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const storage = new AsyncLocalStorage<true>();

/** Runs `fn` (and everything it starts) as idempotent work. */
export function runIdempotent<T>(fn: () => T): T {
  return storage.run(true, fn);
}

/** True inside `runIdempotent`. */
export function isIdempotent(): boolean {
  return storage.getStore() === true;
}
