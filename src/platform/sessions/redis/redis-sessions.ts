/**
 * Redis sessions adapter: a hash `<prefix>s:<sha256(id)>` per session (user, data, created,
 * last seen, idle and absolute expiry in ms) and a set `<prefix>u:<userId>` of each user's
 * session hashes for "sign out everywhere". Reads, updates and deletes are Lua scripts, so each is
 * one round trip and atomic. Like the SQL adapter it writes activity at most once per
 * `touchEveryMs`, stores only the id's hash, and judges expiry by the injected clock; Redis's own
 * key expiry (PEXPIRE to the idle deadline) only reclaims memory, so nothing needs purging.
 *
 * Fails closed: when Redis is unreachable every call rejects (the client does not queue
 * commands for long), and the HTTP layer answers 503 rather than treating the visitor as
 * anonymous. Limits: the user set and session keys are not co-located, so this is for one Redis
 * (with replicas/Sentinel), not Redis Cluster.
 */
import { redisScript, type ScriptClient } from '../../kv/redis/redis-script.ts';
import { hashSessionId, isWellFormedSessionId, newSessionId } from '../session-id.ts';
import { MAX_SESSION_DATA_BYTES, type SessionData, type SessionStore, type SessionTtl } from '../sessions.ts';

export type RedisSessionsOptions = Readonly<{
  /** Prepended to every Redis key (`bazaar:sessions:` by default); tests use one of their own. */
  prefix?: string;
  touchEveryMs?: number;
  now?: () => number;
}>;

function checkData(data: SessionData): string {
  const json = JSON.stringify(data);
  if (Buffer.byteLength(json) > MAX_SESSION_DATA_BYTES) {
    throw new RangeError(`session data is larger than ${MAX_SESSION_DATA_BYTES} bytes`);
  }
  return json;
}

const LIVE = `
local function live(k, now)
  local r = redis.call('HMGET', k, 'user', 'data', 'created', 'seen', 'idle', 'exp')
  if not r[2] then return nil end
  if tonumber(r[5]) <= now or tonumber(r[6]) <= now then return nil end
  return r
end
`;

// KEYS: session, user set|''. ARGV: user, data, now, idle deadline, expiry, ttl ms, set ttl ms.
const CREATE = `
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'data', ARGV[2], 'created', ARGV[3], 'seen', ARGV[3], 'idle', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if KEYS[2] ~= '' then
  redis.call('SADD', KEYS[2], KEYS[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
end
return 1
`;

// KEYS: session. ARGV: now, touch every ms, idle ms. Returns {user, data, created, exp} or nil.
const GET = `${LIVE}
local now = tonumber(ARGV[1])
local r = live(KEYS[1], now)
if not r then return nil end
if now - tonumber(r[4]) >= tonumber(ARGV[2]) then
  local idle = math.min(now + tonumber(ARGV[3]), tonumber(r[6]))
  redis.call('HSET', KEYS[1], 'seen', ARGV[1], 'idle', string.format('%d', idle))
  redis.call('PEXPIRE', KEYS[1], string.format('%d', idle - now))
end
return {r[1], r[2], r[3], r[6]}
`;

// KEYS: session. ARGV: now, data. Returns 1 when the live session was updated.
const UPDATE = `${LIVE}
if not live(KEYS[1], tonumber(ARGV[1])) then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
return 1
`;

// KEYS: session. ARGV: user-set prefix.
const DESTROY = `
local user = redis.call('HGET', KEYS[1], 'user')
redis.call('DEL', KEYS[1])
if user and user ~= '' then redis.call('SREM', ARGV[1] .. user, KEYS[1]) end
return 1
`;

// KEYS: user set. ARGV: now. Returns how many live sessions ended.
const DESTROY_USER = `${LIVE}
local n = 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if live(k, tonumber(ARGV[1])) then n = n + 1 end
  redis.call('DEL', k)
end
redis.call('DEL', KEYS[1])
return n
`;

export function createRedisSessionStore(
  client: ScriptClient,
  ttl: SessionTtl,
  options: RedisSessionsOptions = {},
): SessionStore {
  const prefix = options.prefix ?? 'bazaar:sessions:';
  const now = options.now ?? (() => Date.now());
  const touchEveryMs = options.touchEveryMs ?? Math.min(60_000, ttl.idleMs / 10);
  const create = redisScript(client, CREATE);
  const get = redisScript(client, GET);
  const update = redisScript(client, UPDATE);
  const destroy = redisScript(client, DESTROY);
  const destroyUser = redisScript(client, DESTROY_USER);
  const sessionKey = (id: string) => `${prefix}s:${hashSessionId(id)}`;
  const userKey = (userId: string) => `${prefix}u:${userId}`;

  return {
    async create({ userId, data = {} }) {
      const json = checkData(data);
      const id = newSessionId();
      const t = now();
      const idle = Math.min(t + ttl.idleMs, t + ttl.absoluteMs);
      const expires = t + ttl.absoluteMs;
      await create(
        [sessionKey(id), userId === null ? '' : userKey(userId)],
        [userId ?? '', json, t, idle, expires, idle - t, ttl.absoluteMs],
      );
      return { id, userId, data, createdAt: new Date(t), expiresAt: new Date(expires) };
    },

    async get(id) {
      if (!isWellFormedSessionId(id)) return null;
      const r = (await get([sessionKey(id)], [now(), touchEveryMs, ttl.idleMs])) as string[] | null;
      if (!r) return null;
      const [user, data, created, expires] = r as [string, string, string, string];
      return {
        id,
        userId: user === '' ? null : user,
        data: JSON.parse(data) as SessionData,
        createdAt: new Date(Number(created)),
        expiresAt: new Date(Number(expires)),
      };
    },

    async update(id, data) {
      if (!isWellFormedSessionId(id)) return false;
      const json = checkData(data);
      return Number(await update([sessionKey(id)], [now(), json])) === 1;
    },

    async destroy(id) {
      if (!isWellFormedSessionId(id)) return;
      await destroy([sessionKey(id)], [`${prefix}u:`]);
    },

    async destroyUser(userId) {
      return Number(await destroyUser([userKey(userId)], [now()]));
    },
  };
}
