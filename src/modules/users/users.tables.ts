/** Kysely types of the `users` schema (migrations/users). Only users.repo.ts uses them. */
import type { ColumnType, Generated, Selectable } from 'kysely';
import type { Role } from '../../shared/actor.ts';

export type UsersTable = {
  id: string;
  /** Trimmed and lower-cased; unique. */
  email: string;
  name: string;
  role: Role;
  /** argon2id, PHC string format. */
  password_hash: string;
  /** Sign-in attempts in the current window that did not end in a successful sign-in. */
  login_failures: Generated<number>;
  /** Start of the current failure window; null when there were none. */
  login_failures_since: Date | null;
  created_at: ColumnType<Date, Date | undefined, never>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
};

export type UsersDb = { users: UsersTable };

export type UserRow = Selectable<UsersTable>;
