/**
 * Answers built from cached values are serialised once per cached value, not once per request.
 * The cache port hands out deeply frozen objects shared by every reader (a frozen object never
 * changes), so its JSON can be kept beside it in a WeakMap and reused until the cache drops the
 * object; a new value is a new object and gets its own JSON. Values that are not frozen (no cache,
 * or built per request) are serialised by Fastify as usual.
 */
import type { FastifyReply } from 'fastify';

/** One per route (the body is that route's 200 serialisation): sends `value`, with its JSON made once when frozen. */
export function cachedJson(): <R extends FastifyReply>(reply: R, value: object) => R {
  const bodies = new WeakMap<object, string>();
  return <R extends FastifyReply>(reply: R, value: object): R => {
    if (!Object.isFrozen(value)) return reply.send(value) as R;
    let body = bodies.get(value);
    if (body === undefined) {
      body = String(reply.serialize(value));
      bodies.set(value, body);
    }
    return sendJsonText(reply, body);
  };
}

/** Sends `json`, already the serialised body (made with `reply.serialize`), as it is. */
export function sendJsonText<R extends FastifyReply>(reply: R, json: string): R {
  // A string with a JSON content type is sent as it is.
  return reply.type('application/json; charset=utf-8').send(json) as R;
}
