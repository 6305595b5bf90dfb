/**
 * The users module's only door to its tables (`users` schema, through `sql.for('users')`).
 * Everything here reads from the primary: sign-in must see the latest throttle counters, and a
 * user who just signed up must find their own account.
 */
import { appendEvents } from '../../platform/events/outbox.ts';
import type { SqlPort } from '../../platform/sql/sql.ts';
import type { Role } from '../../shared/actor.ts';
import type { UserRow, UsersDb } from './users.tables.ts';

export type NewUserRow = Readonly<{
  id: string;
  email: string;
  name: string;
  role: Role;
  passwordHash: string;
  createdAt: Date;
}>;

export type LoginThrottle = Readonly<{ maxFailures: number; windowMs: number; now: Date }>;

export type UsersRepo = ReturnType<typeof createUsersRepo>;

export function createUsersRepo(sql: SqlPort) {
  const db = sql.for<UsersDb>('users').write;

  return {
    /**
     * Inserts a user and its `user.registered` outbox event in one transaction. Returns null,
     * writing nothing, when the email is taken, also when a concurrent sign-up won the race.
     */
    async insert(user: NewUserRow): Promise<UserRow | null> {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('users')
          .values({
            id: user.id,
            email: user.email,
            name: user.name,
            role: user.role,
            password_hash: user.passwordHash,
            created_at: user.createdAt,
            updated_at: user.createdAt,
          })
          .onConflict((oc) => oc.column('email').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (!row) return null;
        await appendEvents(trx, [
          {
            type: 'user.registered',
            key: row.id,
            payload: { userId: row.id, email: row.email, name: row.name, role: row.role },
          },
        ]);
        return row;
      });
    },

    /**
     * Inserts many users in one statement, skipping emails that exist; returns the id of every
     * given email, new or existing (seeding, imports).
     */
    async insertMany(users: readonly NewUserRow[]): Promise<Map<string, string>> {
      if (users.length === 0) return new Map();
      await db
        .insertInto('users')
        .values(
          users.map((u) => ({
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            password_hash: u.passwordHash,
            created_at: u.createdAt,
            updated_at: u.createdAt,
          })),
        )
        .onConflict((oc) => oc.column('email').doNothing())
        .execute();
      const rows = await db
        .selectFrom('users')
        .select(['id', 'email'])
        .where(
          'email',
          'in',
          users.map((u) => u.email),
        )
        .execute();
      return new Map(rows.map((r) => [r.email, r.id]));
    },

    async findById(id: string): Promise<UserRow | null> {
      return (await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;
    },

    async findByEmail(email: string): Promise<UserRow | null> {
      return (await db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst()) ?? null;
    },

    /** Sets a user's role; null when there is no such user. */
    async setRole(id: string, role: Role): Promise<UserRow | null> {
      const row = await db
        .updateTable('users')
        .set({ role, updated_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row ?? null;
    },

    /**
     * Counts a sign-in attempt against the account before the password is checked, atomically,
     * so that concurrent attempts cannot overrun the limit. A window older than `windowMs`
     * restarts at this attempt. Returns false, counting nothing, when the account already has
     * `maxFailures` attempts in its current window.
     */
    async claimLoginAttempt(userId: string, throttle: LoginThrottle): Promise<boolean> {
      const cutoff = new Date(throttle.now.getTime() - throttle.windowMs);
      const result = await db
        .updateTable('users')
        .set((eb) => {
          const stale = eb.or([
            eb('login_failures_since', 'is', null),
            eb('login_failures_since', '<=', cutoff),
          ]);
          return {
            login_failures: eb
              .case()
              .when(stale)
              .then(1)
              .else(eb('login_failures', '+', 1))
              .end(),
            login_failures_since: eb
              .case()
              .when(stale)
              .then(throttle.now)
              .else(eb.ref('login_failures_since'))
              .end(),
          };
        })
        .where('id', '=', userId)
        .where((eb) =>
          eb.not(
            eb.and([
              eb('login_failures', '>=', throttle.maxFailures),
              eb('login_failures_since', '>', cutoff),
            ]),
          ),
        )
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Forgets the account's counted attempts (after a successful sign-in). */
    async clearLoginFailures(userId: string): Promise<void> {
      await db
        .updateTable('users')
        .set({ login_failures: 0, login_failures_since: null })
        .where('id', '=', userId)
        .execute();
    },
  };
}
