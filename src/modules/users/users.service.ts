/**
 * Accounts: sign-up, sign-in, sign-out, lookup. Plain typed input and output; the HTTP edge
 * (users.routes.ts) and the CLI call these and map the results.
 *
 * Rules: emails are trimmed and lower-cased, at most 254 characters and unique; passwords are
 * 10–128 characters and stored only as argon2id hashes; names are trimmed, 1–100 characters.
 * Sign-up chooses buyer or seller; admins come only from `createAdmin`. A signed-in session has
 * `userId` set and `data.role` = the user's role (what `currentActor` in src/http/auth.ts reads).
 */
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import type { Config } from '../../config/config.ts';
import type { Platform } from '../../platform/platform.ts';
import type { Session, SessionData } from '../../platform/sessions/sessions.ts';
import type { Role } from '../../shared/actor.ts';
import { AppError, invalidInput } from '../../shared/errors.ts';
import { isUuid, uuidv7 } from '../../shared/ids.ts';
import { createUsersRepo } from './users.repo.ts';
import type { UserRow } from './users.tables.ts';

export type User = Readonly<{ id: string; email: string; name: string; role: Role; createdAt: Date }>;

export type SignUpInput = Readonly<{
  email: string;
  password: string;
  name: string;
  role: 'buyer' | 'seller';
}>;
export type NewAdminInput = Readonly<{ email: string; password: string; name: string }>;
export type LogInInput = Readonly<{ email: string; password: string }>;

/** A user and the fresh session that now signs them in (its id goes into the cookie). */
export type SignedIn = Readonly<{ user: User; session: Session }>;

export type UsersServiceDeps = Readonly<{
  config: Pick<Config, 'loginMaxFailuresPerAccount' | 'loginFailureWindowMs'>;
  platform: Pick<Platform, 'sql' | 'sessions'>;
  /** Milliseconds since the epoch; tests pass their own clock. */
  now?: () => number;
}>;

export interface UsersService {
  /** Creates a buyer or seller account and signs it in, ending `previous` (see `logIn`). EMAIL_TAKEN when the email exists. */
  signUp(input: SignUpInput, previous: Session | null): Promise<SignedIn>;
  /**
   * Checks the credentials and starts a new session: `previous` (the caller's current session,
   * if any) is destroyed and its data, except the role, carried into the new one. Unknown email
   * and wrong password both give INVALID_CREDENTIALS; RATE_LIMITED while the account is locked.
   */
  logIn(input: LogInInput, previous: Session | null): Promise<SignedIn>;
  /** Ends the session with this id; idempotent, fine for unknown or missing ids. */
  logOut(sessionId: string | undefined): Promise<void>;
  /** The user with this id, or null. Reads the primary. */
  getUser(id: string): Promise<User | null>;
  /** Creates an admin account (for the CLI); no session. EMAIL_TAKEN when the email exists. */
  createAdmin(input: NewAdminInput): Promise<User>;
  /**
   * Creates many accounts sharing one password (hashed once), skipping emails that exist;
   * returns email → id for all of them. For demo data and imports, not for sign-up.
   */
  importAccounts(
    accounts: readonly Readonly<{ email: string; name: string; role: Role }>[],
    password: string,
    /** Called after each batch of up to 500 accounts with how many are done. */
    onProgress?: (done: number) => void,
  ): Promise<Map<string, string>>;
  /** The user with this email (normalised first), or null. Reads the primary. */
  findUserByEmail(email: string): Promise<User | null>;
  /**
   * Gives an existing account another role (for the CLI: promoting an admin). NOT_FOUND for an
   * unknown id. Sessions already open keep their role until the user signs in again.
   */
  setRole(userId: string, role: Role): Promise<User>;
}

export const EMAIL_MAX_LENGTH = 254;
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 128;
export const NAME_MAX_LENGTH = 100;

// The "fast" email check of ajv-formats: ASCII local part, dotted domain of valid labels.
const EMAIL =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

// argon2id with the OWASP minimum (19 MiB, 2 passes, 1 lane): ~10–50 ms per hash on one core.
const ARGON2 = { algorithm: 2 as Algorithm, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const normaliseEmail = (raw: string): string => raw.trim().toLowerCase();

/** What is wrong with an email address by the sign-up rules, or undefined when it is acceptable. */
export function emailProblem(raw: string): string | undefined {
  const email = normaliseEmail(raw);
  if (email.length > EMAIL_MAX_LENGTH) return `must be at most ${EMAIL_MAX_LENGTH} characters`;
  return EMAIL.test(email) ? undefined : 'must be an email address';
}

const codePoints = (s: string): number => [...s].length;

export function createUsersService(deps: UsersServiceDeps): UsersService {
  const repo = createUsersRepo(deps.platform.sql);
  const sessions = deps.platform.sessions;
  const now = deps.now ?? (() => Date.now());
  const { loginMaxFailuresPerAccount: maxFailures, loginFailureWindowMs: windowMs } = deps.config;

  // Verified against when the email is unknown, so that answer takes as long as a wrong password.
  let dummyHash: Promise<string> | undefined;
  const dummy = () => {
    dummyHash ??= hash('not-a-password-of-anyone', ARGON2);
    return dummyHash;
  };

  async function register(input: NewAdminInput & { role: Role }): Promise<User> {
    const email = normaliseEmail(input.email);
    const name = input.name.trim();
    const errors: { location: string; path: string; message: string }[] = [];
    if (email.length > EMAIL_MAX_LENGTH) {
      errors.push({
        location: 'body',
        path: '/email',
        message: `must be at most ${EMAIL_MAX_LENGTH} characters`,
      });
    } else if (!EMAIL.test(email)) {
      errors.push({ location: 'body', path: '/email', message: 'must be an email address' });
    }
    const pw = codePoints(input.password);
    if (pw < PASSWORD_MIN_LENGTH || pw > PASSWORD_MAX_LENGTH) {
      errors.push({
        location: 'body',
        path: '/password',
        message: `must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
      });
    }
    const nameLength = codePoints(name);
    if (nameLength < 1 || nameLength > NAME_MAX_LENGTH) {
      errors.push({ location: 'body', path: '/name', message: `must be 1 to ${NAME_MAX_LENGTH} characters` });
    }
    const first = errors[0];
    if (first) throw invalidInput(`input is invalid: ${first.path} ${first.message}`, { errors });

    const passwordHash = await hash(input.password, ARGON2);
    const t = now();
    const row = await repo.insert({
      id: uuidv7(t),
      email,
      name,
      role: input.role,
      passwordHash,
      createdAt: new Date(t),
    });
    if (!row) throw new AppError('EMAIL_TAKEN', 'an account with this email already exists');
    return toUser(row);
  }

  async function startSession(user: User, previous: Session | null): Promise<Session> {
    const carried: Record<string, unknown> = {};
    if (previous) {
      for (const [key, value] of Object.entries(previous.data)) {
        if (key !== 'role' && key !== 'userId') carried[key] = value;
      }
      await sessions.destroy(previous.id);
    }
    const data: SessionData = { ...carried, role: user.role };
    return sessions.create({ userId: user.id, data });
  }

  const invalidCredentials = () => new AppError('INVALID_CREDENTIALS', 'the email or password is wrong');

  return {
    async signUp(input, previous) {
      const user = await register(input);
      return { user, session: await startSession(user, previous) };
    },

    async logIn(input, previous) {
      const email = normaliseEmail(input.email);
      const row =
        email.length <= EMAIL_MAX_LENGTH && EMAIL.test(email) ? await repo.findByEmail(email) : null;
      if (!row) {
        await verify(await dummy(), input.password);
        throw invalidCredentials();
      }
      const at = new Date(now());
      if (!(await repo.claimLoginAttempt(row.id, { maxFailures, windowMs, now: at }))) {
        const since = (await repo.findById(row.id))?.login_failures_since ?? at;
        const retryAfterSeconds = Math.max(1, Math.ceil((since.getTime() + windowMs - at.getTime()) / 1000));
        throw new AppError(
          'RATE_LIMITED',
          'too many failed sign-in attempts for this account; try again later',
          { retryAfterSeconds },
        );
      }
      if (!(await verify(row.password_hash, input.password))) throw invalidCredentials();
      await repo.clearLoginFailures(row.id);
      const user = toUser(row);
      return { user, session: await startSession(user, previous) };
    },

    async logOut(sessionId) {
      if (sessionId) await sessions.destroy(sessionId);
    },

    async getUser(id) {
      if (!isUuid(id)) return null;
      const row = await repo.findById(id);
      return row ? toUser(row) : null;
    },

    createAdmin: (input) => register({ ...input, role: 'admin' }),

    async importAccounts(accounts, password, onProgress) {
      const passwordHash = await hash(password, ARGON2);
      const t = now();
      const out = new Map<string, string>();
      for (let i = 0; i < accounts.length; i += 500) {
        const batch = accounts.slice(i, i + 500).map((a) => ({
          id: uuidv7(t),
          email: normaliseEmail(a.email),
          name: a.name.trim(),
          role: a.role,
          passwordHash,
          createdAt: new Date(t),
        }));
        for (const [email, id] of await repo.insertMany(batch)) out.set(email, id);
        onProgress?.(i + batch.length);
      }
      return out;
    },

    async findUserByEmail(raw) {
      const email = normaliseEmail(raw);
      if (email.length > EMAIL_MAX_LENGTH || !EMAIL.test(email)) return null;
      const row = await repo.findByEmail(email);
      return row ? toUser(row) : null;
    },

    async setRole(userId, role) {
      const row = isUuid(userId) ? await repo.setRole(userId, role) : null;
      if (!row) throw new AppError('NOT_FOUND', `user ${userId} not found`);
      return toUser(row);
    },
  };
}

function toUser(row: UserRow): User {
  return { id: row.id, email: row.email, name: row.name, role: row.role, createdAt: row.created_at };
}
