/**
 * The one ioredis connection policy of the platform (sessions, kv, cache tiers and bus): options
 * rather than a URL string, because bentocache's bus spreads its connection into an object and a
 * URL would silently become ioredis' defaults (localhost:6379).
 */
import type { RedisOptions } from 'ioredis';

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
