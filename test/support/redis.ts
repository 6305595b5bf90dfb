/** A Redis client for one test's key prefix; `teardown` deletes that prefix's keys, nothing else. */
import { Redis } from 'ioredis';
import { redis } from './engines.ts';

export async function redisForTest(): Promise<{
  client: Redis;
  prefix: string;
  keys(): Promise<string[]>;
  teardown(): Promise<void>;
}> {
  const client = new Redis(redis.url!, { maxRetriesPerRequest: 1 });
  const prefix = redis.prefix();
  const keys = async () => {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    return found;
  };
  return {
    client,
    prefix,
    keys,
    async teardown() {
      const found = await keys();
      if (found.length > 0) await client.del(...found);
      client.disconnect();
    },
  };
}
