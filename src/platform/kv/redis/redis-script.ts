/**
 * A Lua script run by its SHA-1 (EVALSHA), loaded with EVAL the first time a server does not
 * know it. Shared by the Redis adapters (kv, sessions); the client is the narrow slice they use.
 */
import { createHash } from 'node:crypto';

export type ScriptClient = Readonly<{
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}>;

export type RedisScript = (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

export function redisScript(client: ScriptClient, lua: string): RedisScript {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (keys, args) => {
    try {
      return await client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return client.eval(lua, keys.length, ...keys, ...args);
    }
  };
}
