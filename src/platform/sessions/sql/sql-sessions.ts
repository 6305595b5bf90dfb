/**
 * SQL sessions adapter: one row per session in `platform.sessions`. Activity is written at most
 * once per `touchEveryMs` per session, so reading a session is one indexed lookup and most
 * requests write nothing. Expired rows are deleted by `purgeExpired` (run by the worker) and are
 * never returned meanwhile.
 */
import type { SqlPort } from '../../sql/sql.ts';
import { hashSessionId, isWellFormedSessionId, newSessionId } from '../session-id.ts';
import { MAX_SESSION_DATA_BYTES, type SessionData, type SessionStore, type SessionTtl } from '../sessions.ts';

type SessionsTable = {
  sessions: {
    id_hash: string;
    user_id: string | null;
    data: SessionData;
    created_at: Date;
    last_seen_at: Date;
    idle_expires_at: Date;
    expires_at: Date;
  };
};

export type SqlSessionStore = SessionStore & {
  /** Deletes sessions past either expiry; returns how many. */
  purgeExpired(): Promise<number>;
};

function checkData(data: SessionData): string {
  const json = JSON.stringify(data);
  if (Buffer.byteLength(json) > MAX_SESSION_DATA_BYTES) {
    throw new RangeError(`session data is larger than ${MAX_SESSION_DATA_BYTES} bytes`);
  }
  return json;
}

export function createSqlSessionStore(
  sql: SqlPort,
  ttl: SessionTtl,
  options: { touchEveryMs?: number; now?: () => number } = {},
): SqlSessionStore {
  const db = sql.for<SessionsTable>('platform').write;
  // Read at call time, not captured, so that a test's mocked Date applies too.
  const now = options.now ?? (() => Date.now());
  const touchEveryMs = options.touchEveryMs ?? Math.min(60_000, ttl.idleMs / 10);

  return {
    async create({ userId, data = {} }) {
      const id = newSessionId();
      const t = now();
      const row = await db
        .insertInto('sessions')
        .values({
          id_hash: hashSessionId(id),
          user_id: userId,
          data: checkData(data) as unknown as SessionData,
          created_at: new Date(t),
          last_seen_at: new Date(t),
          idle_expires_at: new Date(Math.min(t + ttl.idleMs, t + ttl.absoluteMs)),
          expires_at: new Date(t + ttl.absoluteMs),
        })
        .returning(['created_at', 'expires_at'])
        .executeTakeFirstOrThrow();
      return { id, userId, data, createdAt: row.created_at, expiresAt: row.expires_at };
    },

    async get(id) {
      if (!isWellFormedSessionId(id)) return null;
      const t = new Date(now());
      const row = await db
        .selectFrom('sessions')
        .selectAll()
        .where('id_hash', '=', hashSessionId(id))
        .where('expires_at', '>', t)
        .where('idle_expires_at', '>', t)
        .executeTakeFirst();
      if (!row) return null;
      if (t.getTime() - row.last_seen_at.getTime() >= touchEveryMs) {
        await db
          .updateTable('sessions')
          .set({
            last_seen_at: t,
            idle_expires_at: new Date(Math.min(t.getTime() + ttl.idleMs, row.expires_at.getTime())),
          })
          .where('id_hash', '=', row.id_hash)
          .execute();
      }
      return {
        id,
        userId: row.user_id,
        data: row.data,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
      };
    },

    async update(id, data) {
      if (!isWellFormedSessionId(id)) return false;
      const t = new Date(now());
      const result = await db
        .updateTable('sessions')
        .set({ data: checkData(data) as unknown as SessionData })
        .where('id_hash', '=', hashSessionId(id))
        .where('expires_at', '>', t)
        .where('idle_expires_at', '>', t)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async destroy(id) {
      if (!isWellFormedSessionId(id)) return;
      await db.deleteFrom('sessions').where('id_hash', '=', hashSessionId(id)).execute();
    },

    async destroyUser(userId) {
      const result = await db.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async purgeExpired() {
      const t = new Date(now());
      const result = await db
        .deleteFrom('sessions')
        .where((eb) => eb.or([eb('expires_at', '<=', t), eb('idle_expires_at', '<=', t)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
