/**
 * The request-scoped read context that carries read-your-writes through module code that only
 * says `read` or `write`. The HTTP edge opens one per request (`runInReadContext`); the router's
 * drivers read and update it through AsyncLocalStorage:
 *
 * - `minLsn`: the primary's WAL position after this client's last write (from the
 *   read-your-writes cookie). A replica serves this request's reads only once it has replayed it.
 * - `wrote`: set by the primary's driver when this request changed a domain's data; from then on
 *   the request's own reads go to the primary, and the edge records the new position.
 *
 * Code outside a request (worker, CLI) has no context: its reads go to any healthy replica.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type ReadContext = {
  /** Replay position a replica must have reached to serve this request's reads. */
  minLsn: bigint | undefined;
  /** True once this request has committed a write to a domain table on the primary. */
  wrote: boolean;
};

const storage = new AsyncLocalStorage<ReadContext>();

/** Runs `fn` (and everything it starts) inside `context`. */
export function runInReadContext<T>(context: ReadContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The context of the running request, or undefined outside a request. */
export function currentReadContext(): ReadContext | undefined {
  return storage.getStore();
}

export function newReadContext(minLsn?: bigint): ReadContext {
  return { minLsn, wrote: false };
}
