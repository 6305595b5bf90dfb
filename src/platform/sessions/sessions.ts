/**
 * Sessions port: server-side sessions behind an opaque id. The id is the only secret: it is
 * 256 random bits, given to the client once (in a cookie) and stored only as its SHA-256 hash,
 * so a leaked table does not let anyone in. Adapters: SQL (now), Redis and DynamoDB (later).
 */
export type SessionData = Readonly<Record<string, unknown>>;

export type Session = Readonly<{
  /** The opaque id, as given to the client. */
  id: string;
  /** The signed-in user, or null for an anonymous visitor's session. */
  userId: string | null;
  /** Small JSON-serialisable values (role, anonymous cart id…); at most 4 KiB serialised. */
  data: SessionData;
  createdAt: Date;
  /** When the session dies however active it is (absolute expiry). */
  expiresAt: Date;
}>;

export type SessionTtl = Readonly<{ idleMs: number; absoluteMs: number }>;

export interface SessionStore {
  /** Creates a session with a fresh random id; it lives until idle for `idleMs` or `absoluteMs` old. */
  create(input: { userId: string | null; data?: SessionData }): Promise<Session>;
  /** The live session with this id, and marks it active; null when unknown, idle too long or expired. */
  get(id: string): Promise<Session | null>;
  /** Replaces a live session's data; returns false (and changes nothing) when it is not live. */
  update(id: string, data: SessionData): Promise<boolean>;
  /** Ends one session. Idempotent: ending an unknown id is not an error. */
  destroy(id: string): Promise<void>;
  /** Ends every session of a user (sign out everywhere); returns how many ended. */
  destroyUser(userId: string): Promise<number>;
}

export const MAX_SESSION_DATA_BYTES = 4096;
