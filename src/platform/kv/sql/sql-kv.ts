/**
 * SQL kv adapter: keys in `platform.kv` (jsonb value, version, expiry) and sorted sets in
 * `platform.kv_zset`, reached through the platform domain's primary handle. Every operation is
 * one statement, so it is atomic without a transaction: upserts use `on conflict … do update`,
 * conditional writes compare the version in their WHERE clause (under concurrency PostgreSQL
 * re-checks it against the row a competing writer committed, so exactly one of them wins).
 *
 * Limits: time comes from the injected clock, never the database's; expired rows read as absent
 * and are deleted by `purgeExpired` (run it periodically); a sorted-set rank is a count over the
 * members ahead of it, cheap for leaderboards of thousands, not millions (Redis is for that).
 */
import { type Kysely, sql } from 'kysely';
import type { SqlPort } from '../../sql/sql.ts';
import type { Json, Kv, KvEntry } from '../kv.ts';
import { KV_LIMITS } from '../kv.ts';
import { checkName, checkScore, checkTtl, checkVersion, encodeValue } from '../kv-checks.ts';

export type SqlKv = Kv & {
  /** Deletes expired keys; returns how many. */
  purgeExpired(): Promise<number>;
};

export type SqlKvOptions = Readonly<{
  /** Milliseconds since the epoch; tests pass their own clock. Read at each call. */
  now?: () => number;
}>;

export function createSqlKv(port: SqlPort, options: SqlKvOptions = {}): SqlKv {
  const db: Kysely<unknown> = port.for<unknown>('platform').write;
  const now = options.now ?? (() => Date.now());
  const expiry = (t: Date, ttlMs: number | undefined) =>
    ttlMs === undefined ? null : new Date(t.getTime() + ttlMs);

  return {
    async get<T = Json>(key: string): Promise<KvEntry<T> | null> {
      checkName('key', key);
      const t = new Date(now());
      const { rows } = await sql<{ value: T; version: number }>`
        select value, version from platform.kv
        where key = ${key} and (expires_at is null or expires_at > ${t})`.execute(db);
      const row = rows[0];
      return row ? { value: row.value, version: Number(row.version) } : null;
    },

    async put(key, value, options = {}) {
      checkName('key', key);
      checkVersion(options.ifVersion);
      checkTtl(options.ttlMs);
      const json = encodeValue(value);
      const t = new Date(now());
      const exp = expiry(t, options.ttlMs);
      let query: ReturnType<typeof sql<{ version: number }>>;
      if (options.ifVersion === undefined) {
        query = sql`
          insert into platform.kv as k (key, value, version, expires_at)
          values (${key}, ${json}::jsonb, 1, ${exp}::timestamptz)
          on conflict (key) do update set
            value = excluded.value,
            version = case when k.expires_at <= ${t} then 1 else k.version + 1 end,
            expires_at = excluded.expires_at
          returning version`;
      } else if (options.ifVersion === 0) {
        // Absent, or present but expired: only then does the conflict branch update.
        query = sql`
          insert into platform.kv as k (key, value, version, expires_at)
          values (${key}, ${json}::jsonb, 1, ${exp}::timestamptz)
          on conflict (key) do update set
            value = excluded.value, version = 1, expires_at = excluded.expires_at
          where k.expires_at <= ${t}
          returning version`;
      } else {
        query = sql`
          update platform.kv set value = ${json}::jsonb, version = version + 1, expires_at = ${exp}::timestamptz
          where key = ${key} and version = ${options.ifVersion}
            and (expires_at is null or expires_at > ${t})
          returning version`;
      }
      const { rows } = await query.execute(db);
      const row = rows[0];
      return row ? { ok: true, version: Number(row.version) } : { ok: false };
    },

    async delete(key, options = {}) {
      checkName('key', key);
      checkVersion(options.ifVersion);
      if (options.ifVersion === 0) return false;
      const t = new Date(now());
      const { rows } = await sql<{ live: boolean }>`
        delete from platform.kv
        where key = ${key}
          ${options.ifVersion === undefined ? sql`` : sql`and version = ${options.ifVersion} and (expires_at is null or expires_at > ${t})`}
        returning (expires_at is null or expires_at > ${t}) as live`.execute(db);
      return rows[0]?.live === true;
    },

    async incr(key, by, options = {}) {
      checkName('key', key);
      if (!Number.isSafeInteger(by)) throw new RangeError('kv incr needs a whole number');
      checkTtl(options.ttlMs);
      const t = new Date(now());
      const exp = expiry(t, options.ttlMs);
      try {
        const { rows } = await sql<{ n: number }>`
          insert into platform.kv as k (key, value, version, expires_at)
          values (${key}, to_jsonb(${by}::bigint), 1, ${exp}::timestamptz)
          on conflict (key) do update set
            value = case when k.expires_at <= ${t} then excluded.value
              else to_jsonb((case when jsonb_typeof(k.value) = 'number' then k.value #>> '{}' end)::bigint + ${by}::bigint)
            end,
            version = case when k.expires_at <= ${t} then 1 else k.version + 1 end,
            expires_at = case when k.expires_at <= ${t} then excluded.expires_at else k.expires_at end
          returning (value #>> '{}')::bigint as n`.execute(db);
        return Number(rows[0]!.n);
      } catch (err) {
        // Not a number (null value), not an integer, or out of bigint range.
        if (['23502', '22P02', '22003'].includes((err as { code?: string }).code ?? '')) {
          throw new TypeError(`kv key ${JSON.stringify(key)} does not hold an integer`, { cause: err });
        }
        throw err;
      }
    },

    async zincr(set, member, by) {
      checkName('set', set);
      checkName('member', member);
      checkScore('increment', by);
      const { rows } = await sql<{ score: number }>`
        insert into platform.kv_zset as z (set_name, member, score)
        values (${set}, ${member}, ${by}::float8)
        on conflict (set_name, member) do update set score = z.score + excluded.score
        returning score`.execute(db);
      return Number(rows[0]!.score);
    },

    async zadd(set, member, score) {
      checkName('set', set);
      checkName('member', member);
      checkScore('score', score);
      await sql`
        insert into platform.kv_zset (set_name, member, score)
        values (${set}, ${member}, ${score}::float8)
        on conflict (set_name, member) do update set score = excluded.score`.execute(db);
    },

    async ztop(set, n) {
      checkName('set', set);
      if (!Number.isSafeInteger(n) || n < 0 || n > KV_LIMITS.topMax) {
        throw new RangeError(`kv ztop takes 0 to ${KV_LIMITS.topMax} members`);
      }
      if (n === 0) return [];
      const { rows } = await sql<{ member: string; score: number }>`
        select member, score from platform.kv_zset
        where set_name = ${set}
        order by score desc, member asc
        limit ${n}`.execute(db);
      return rows.map((r) => ({ member: r.member, score: Number(r.score) }));
    },

    async zrank(set, member) {
      checkName('set', set);
      checkName('member', member);
      const { rows } = await sql<{ rank: number }>`
        select (
          select count(*) from platform.kv_zset o
          where o.set_name = m.set_name
            and (o.score > m.score or (o.score = m.score and o.member < m.member))
        ) as rank
        from platform.kv_zset m
        where m.set_name = ${set} and m.member = ${member}`.execute(db);
      const row = rows[0];
      return row ? Number(row.rank) : null;
    },

    async zscore(set, member) {
      checkName('set', set);
      checkName('member', member);
      const { rows } = await sql<{ score: number }>`
        select score from platform.kv_zset where set_name = ${set} and member = ${member}`.execute(db);
      const row = rows[0];
      return row ? Number(row.score) : null;
    },

    async purgeExpired() {
      const result = await sql`delete from platform.kv where expires_at <= ${new Date(now())}`.execute(db);
      return Number(result.numAffectedRows ?? 0);
    },
  };
}
