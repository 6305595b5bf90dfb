/**
 * Redis kv adapter. A key is a hash `<prefix>k:<key>` with fields `v` (the JSON text), `ver` (its
 * version) and `exp` (expiry in ms since the epoch, -1 for none); every conditional write, delete
 * and increment is one Lua script, so it is atomic on the server. A sorted set is a Redis sorted
 * set `<prefix>z:<set>` holding the NEGATED score, so that Redis's own order (score ascending,
 * then member bytewise ascending) is the port's order (score descending, member ascending) and
 * `ztop`/`zrank` are single ZRANGE/ZRANK calls, O(log n) for leaderboards of millions.
 *
 * Time comes from the injected clock (passed to the scripts), so expiry is exact under a test
 * clock; Redis's own PEXPIRE is set to the same TTL only to reclaim memory.
 */
import type { Json, Kv, KvEntry } from '../kv.ts';
import { KV_LIMITS } from '../kv.ts';
import { checkName, checkScore, checkTtl, checkVersion, encodeValue } from '../kv-checks.ts';
import { redisScript, type ScriptClient } from './redis-script.ts';

/** The slice of an ioredis client this adapter uses. */
export type RedisKvClient = ScriptClient &
  Readonly<{
    hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
    zincrby(key: string, by: number, member: string): Promise<string>;
    zadd(key: string, score: number, member: string): Promise<unknown>;
    zrange(key: string, start: number, stop: number, withScores: 'WITHSCORES'): Promise<string[]>;
    zrank(key: string, member: string): Promise<number | null>;
    zscore(key: string, member: string): Promise<string | null>;
  }>;

export type RedisKvOptions = Readonly<{
  /** Prepended to every Redis key (`bazaar:kv:` by default); tests use one of their own. */
  prefix?: string;
  /** Milliseconds since the epoch; tests pass their own clock. Read at each call. */
  now?: () => number;
}>;

const LIVE = `
local function live(k, now)
  local r = redis.call('HMGET', k, 'v', 'ver', 'exp')
  if not r[1] then return nil end
  local exp = tonumber(r[3])
  if exp >= 0 and exp <= now then return nil end
  return r
end
local function expire(k, ttl)
  if ttl ~= '' then redis.call('PEXPIRE', k, ttl) else redis.call('PERSIST', k) end
end
`;

// KEYS[1] key; ARGV: json, now, ttl|'', exp|-1, ifVersion|''. Returns the new version, 0 on conflict.
const PUT = `${LIVE}
local k, now, ifv = KEYS[1], tonumber(ARGV[2]), ARGV[5]
local cur = live(k, now)
local ver = 1
if ifv ~= '' then
  ifv = tonumber(ifv)
  if ifv == 0 then
    if cur then return 0 end
  else
    if not cur or tonumber(cur[2]) ~= ifv then return 0 end
    ver = ifv + 1
  end
elseif cur then
  ver = tonumber(cur[2]) + 1
end
redis.call('HSET', k, 'v', ARGV[1], 'ver', ver, 'exp', ARGV[4])
expire(k, ARGV[3])
return ver
`;

// KEYS[1] key; ARGV: now, ifVersion|''. Returns 1 when a live key was removed.
const DELETE = `${LIVE}
local k = KEYS[1]
local cur = live(k, tonumber(ARGV[1]))
if ARGV[2] ~= '' and (not cur or tonumber(cur[2]) ~= tonumber(ARGV[2])) then return 0 end
redis.call('DEL', k)
if cur then return 1 end
return 0
`;

// KEYS[1] key; ARGV: by, now, ttl|'', exp|-1. Returns the new value as text.
const INCR = `${LIVE}
local k = KEYS[1]
local cur = live(k, tonumber(ARGV[2]))
if cur then
  if not string.match(cur[1], '^%-?%d+$') then return redis.error_reply('KV_NOT_INTEGER') end
  local n = string.format('%d', tonumber(cur[1]) + tonumber(ARGV[1]))
  redis.call('HSET', k, 'v', n, 'ver', tonumber(cur[2]) + 1)
  return n
end
redis.call('HSET', k, 'v', ARGV[1], 'ver', 1, 'exp', ARGV[4])
expire(k, ARGV[3])
return ARGV[1]
`;

/** Redis returns -0 as "-0"; the port's scores are plain numbers. */
const unNegate = (raw: string) => 0 - Number(raw);

export function createRedisKv(client: RedisKvClient, options: RedisKvOptions = {}): Kv {
  const prefix = options.prefix ?? 'bazaar:kv:';
  const now = options.now ?? (() => Date.now());
  const put = redisScript(client, PUT);
  const del = redisScript(client, DELETE);
  const incr = redisScript(client, INCR);
  const keyOf = (key: string) => `${prefix}k:${checkName('key', key)}`;
  const setOf = (set: string) => `${prefix}z:${checkName('set', set)}`;
  const ttlArgs = (t: number, ttlMs: number | undefined) =>
    ttlMs === undefined ? ['', -1] : [ttlMs, t + ttlMs];

  return {
    async get<T = Json>(key: string): Promise<KvEntry<T> | null> {
      const [v, ver, exp] = await client.hmget(keyOf(key), 'v', 'ver', 'exp');
      if (v == null || ver == null) return null;
      const e = Number(exp);
      if (e >= 0 && e <= now()) return null;
      return { value: JSON.parse(v) as T, version: Number(ver) };
    },

    async put(key, value, options = {}) {
      const k = keyOf(key);
      checkVersion(options.ifVersion);
      checkTtl(options.ttlMs);
      const json = encodeValue(value);
      const t = now();
      const version = Number(
        await put([k], [json, t, ...ttlArgs(t, options.ttlMs), options.ifVersion ?? '']),
      );
      return version > 0 ? { ok: true, version } : { ok: false };
    },

    async delete(key, options = {}) {
      const k = keyOf(key);
      checkVersion(options.ifVersion);
      if (options.ifVersion === 0) return false;
      return Number(await del([k], [now(), options.ifVersion ?? ''])) === 1;
    },

    async incr(key, by, options = {}) {
      const k = keyOf(key);
      if (!Number.isSafeInteger(by)) throw new RangeError('kv incr needs a whole number');
      checkTtl(options.ttlMs);
      const t = now();
      try {
        return Number(await incr([k], [by, t, ...ttlArgs(t, options.ttlMs)]));
      } catch (err) {
        if (String((err as Error).message).includes('KV_NOT_INTEGER')) {
          throw new TypeError(`kv key ${JSON.stringify(key)} does not hold an integer`, { cause: err });
        }
        throw err;
      }
    },

    async zincr(set, member, by) {
      const s = setOf(set);
      checkName('member', member);
      checkScore('increment', by);
      return unNegate(await client.zincrby(s, -by, member));
    },

    async zadd(set, member, score) {
      const s = setOf(set);
      checkName('member', member);
      checkScore('score', score);
      await client.zadd(s, 0 - score, member);
    },

    async ztop(set, n) {
      const s = setOf(set);
      if (!Number.isSafeInteger(n) || n < 0 || n > KV_LIMITS.topMax) {
        throw new RangeError(`kv ztop takes 0 to ${KV_LIMITS.topMax} members`);
      }
      if (n === 0) return [];
      const flat = await client.zrange(s, 0, n - 1, 'WITHSCORES');
      const top = [];
      for (let i = 0; i < flat.length; i += 2) top.push({ member: flat[i]!, score: unNegate(flat[i + 1]!) });
      return top;
    },

    async zrank(set, member) {
      const s = setOf(set);
      checkName('member', member);
      return client.zrank(s, member);
    },

    async zscore(set, member) {
      const s = setOf(set);
      checkName('member', member);
      const raw = await client.zscore(s, member);
      return raw === null ? null : unNegate(raw);
    },
  };
}
