/**
 * The one ioredis connection policy of the platform (sessions, kv, cache tiers and bus): options
 * rather than a URL string, because bentocache's bus spreads its connection into an object and a
 * URL would silently become ioredis' defaults (localhost:6379).
 */
import { Redis, type RedisOptions } from 'ioredis';

/** ioredis options from a `redis://` or `rediss://` URL; a command fails after one retry when Redis is down. */
export function redisOptions(url: string): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: 1,
    // Reconnect attempts at most 200 ms apart, so a command queued while Redis is down is
    // rejected within about that, not after ioredis' default backoff of up to 2 s.
    retryStrategy: (times: number) => Math.min(times * 50, 200),
  };
}

/** What `watchRedis` reports: the connection was lost (or never made), or is ready again. */
export type RedisHealth =
  | Readonly<{ client: string; state: 'down'; err: Error }>
  | Readonly<{ client: string; state: 'up' }>;

/**
 * Reports a client's outages once each, not once per reconnect attempt: `down` at the first error
 * while it was up (or before it ever was), `up` when it is ready again after that. Listening for
 * `error` also keeps ioredis from printing "[ioredis] Unhandled error event" and a stack trace to
 * stderr at every attempt (every 200 ms here while Redis is down).
 */
export function watchRedis(client: Redis, name: string, report: (health: RedisHealth) => void): Redis {
  let down = false;
  client.on('error', (err: Error) => {
    if (down) return;
    down = true;
    report({ client: name, state: 'down', err });
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    report({ client: name, state: 'up' });
  });
  return client;
}

/**
 * An ioredis client whose duplicates are watched too: bentocache's bus makes its publisher and
 * subscriber with `duplicate()` of the client it is given (and keeps them private), so this is
 * how they get an error listener. Lazy: it never connects itself, only its duplicates do.
 */
export function watchedRedisTemplate(
  options: RedisOptions,
  name: string,
  report: (health: RedisHealth) => void,
): Redis {
  let n = 0;
  class WatchedRedis extends Redis {
    override duplicate(override?: Partial<RedisOptions>): Redis {
      n += 1;
      return watchRedis(
        new Redis({ ...this.options, lazyConnect: false, ...override }),
        `${name}#${n}`,
        report,
      );
    }
  }
  return new WatchedRedis({ ...options, lazyConnect: true });
}
