/**
 * The cache's Redis tier (L2) and pub/sub bus for CACHE=redis, in a file of its own so that
 * ioredis and bentocache's Redis drivers are loaded only by a process that uses them. The
 * connections are made here, each with an error listener (`watchRedis`): bentocache's own would
 * have none, and ioredis then prints a stack trace at every reconnect attempt while Redis is
 * down. Built from options (redis-options.ts), the platform's one connection policy.
 */
import { bentostore } from 'bentocache';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import { Redis } from 'ioredis';
import { type RedisHealth, redisOptions, watchedRedisTemplate, watchRedis } from '../redis-options.ts';

type Store = ReturnType<typeof bentostore>;
type MemoryLayer = Parameters<Store['useL1Layer']>[0];

/** Builds the store of `createCache` (cache.ts) on its memory tier: L1, Redis as L2, the bus. */
export type RedisTier = (
  l1: MemoryLayer,
  settings: Readonly<{ prefix: string; report: (health: RedisHealth) => void }>,
) => Store;

/** How long the bus waits before subscribing again after a failed subscription. */
const RESUBSCRIBE_MS = 500;

type BusDriver = ReturnType<typeof redisBusDriver>;
type BusTransport = ReturnType<BusDriver['factory']>;

/**
 * The Redis bus, subscribing until it has subscribed. bentocache 1.6 subscribes its bus when a
 * process first uses the cache and drops that promise: when Redis is down at that moment the
 * SUBSCRIBE is rejected (one retry, redis-options.ts), the rejection is unhandled and Node ends
 * the process — a worker whose first cache use came during a Redis outage died of it. Here a
 * failed subscription is tried again every RESUBSCRIBE_MS until it succeeds (from then on
 * ioredis re-subscribes by itself after a reconnect) or the bus is disconnected.
 */
function subscribingUntilDone(driver: BusDriver): BusDriver {
  return {
    ...driver,
    factory: (config) => {
      const transport: BusTransport = driver.factory(config);
      const subscribe = transport.subscribe.bind(transport);
      const disconnect = transport.disconnect.bind(transport);
      let closed = false;
      transport.subscribe = async (channel, handler) => {
        for (;;) {
          try {
            return await subscribe(channel, handler);
          } catch {
            if (closed) return;
            await new Promise((r) => setTimeout(r, RESUBSCRIBE_MS).unref());
            if (closed) return;
          }
        }
      };
      transport.disconnect = () => {
        closed = true;
        return disconnect();
      };
      return transport;
    },
  };
}

/** The Redis tier and bus at `url` (`redis://` or `rediss://`); connects when the cache is made. */
export function redisTier(url: string): RedisTier {
  const connection = redisOptions(url);
  return (l1, { prefix, report }) =>
    bentostore()
      .useL1Layer(l1)
      .useL2Layer(redisDriver({ connection: watchRedis(new Redis(connection), 'cache', report), prefix }))
      .useBus(
        subscribingUntilDone(
          redisBusDriver({
            connection: watchedRedisTemplate(connection, 'cache-bus', report),
            retryQueue: { enabled: false },
          }),
        ),
      );
}
