/**
 * The HTTP edge's fast path for cached reads, in one place. The cache port hands out deeply frozen
 * values shared by every reader (a frozen object never changes), so the JSON of each is made once
 * and kept beside it in a WeakMap until the cache drops the object; a new value is a new object
 * and gets its own JSON. Values that are not frozen (no cache, or built per request) are
 * serialised by Fastify as usual. A route answers from memory without a promise by pairing this
 * with a service's synchronous read (e.g. `CatalogService.publicProductNow`).
 */
import type { FastifyReply } from 'fastify';

/** One per route (the body is that route's 200 serialisation): sends `value`, with its JSON made once when frozen. */
export function frozenJson(): <R extends FastifyReply>(reply: R, value: object) => R {
  const bodies = new WeakMap<object, string>();
  return <R extends FastifyReply>(reply: R, value: object): R => {
    if (!Object.isFrozen(value)) return reply.send(value) as R;
    let body = bodies.get(value);
    if (body === undefined) {
      body = String(reply.serialize(value));
      bodies.set(value, body);
    }
    // A string with a JSON content type is sent as it is.
    return reply.type('application/json; charset=utf-8').send(body) as R;
  };
}
