import { createHash, randomBytes } from 'node:crypto';

/** A new session id: 32 random bytes, base64url (43 characters). */
export const newSessionId = (): string => randomBytes(32).toString('base64url');

/** What adapters store instead of the id itself. */
export const hashSessionId = (id: string): string => createHash('sha256').update(id).digest('base64url');

/** Cheap shape check before any lookup: ids we never issued are rejected without a query. */
export const isWellFormedSessionId = (id: string): boolean => /^[A-Za-z0-9_-]{43}$/.test(id);
