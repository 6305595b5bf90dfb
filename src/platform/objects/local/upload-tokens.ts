/**
 * Signed upload grants for the local adapter: the token in `PUT /uploads/<token>` carries the
 * key, content type, size bound and expiry, authenticated with HMAC-SHA256 under
 * `UPLOAD_SIGNING_SECRET`. Whoever holds an unexpired token may upload (and re-upload) that one
 * key, nothing else. Every web instance that receives uploads must share the secret; without
 * one, platform.ts draws a random secret per process, so tokens die with the process.
 *
 * Format: `base64url(JSON {k, t, m, e}) "." base64url(HMAC(secret, "bazaar-upload-v1." + payload))`
 * with `e` the expiry in Unix milliseconds.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isValidKey } from '../object-checks.ts';

export type UploadGrant = Readonly<{ key: string; contentType: string; maxBytes: number; expiresAt: Date }>;

export interface UploadTokens {
  /** A token for `grant`; deterministic for the same grant and secret. */
  sign(grant: UploadGrant): string;
  /** The grant of a genuine, unexpired token; null for anything else (tampered, expired, malformed). */
  verify(token: string): UploadGrant | null;
}

const CONTEXT = 'bazaar-upload-v1.';

export function createUploadTokens(options: { secret: string | Buffer; now?: () => number }): UploadTokens {
  const { secret, now = Date.now } = options;
  if (Buffer.byteLength(secret) < 32)
    throw new RangeError('the upload signing secret needs at least 32 bytes');
  const mac = (payload: string): Buffer =>
    createHmac('sha256', secret)
      .update(CONTEXT + payload)
      .digest();

  return {
    sign(grant) {
      const payload = Buffer.from(
        JSON.stringify({
          k: grant.key,
          t: grant.contentType,
          m: grant.maxBytes,
          e: grant.expiresAt.getTime(),
        }),
      ).toString('base64url');
      return `${payload}.${mac(payload).toString('base64url')}`;
    },
    verify(token) {
      if (typeof token !== 'string' || token.length > 4096) return null;
      const [payload, signature, ...rest] = token.split('.');
      if (!payload || !signature || rest.length > 0) return null;
      const given = Buffer.from(signature, 'base64url');
      const expected = mac(payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        return null;
      }
      const { k, t, m, e } = (body ?? {}) as Record<string, unknown>;
      if (!isValidKey(k) || typeof t !== 'string' || !Number.isSafeInteger(m) || !Number.isSafeInteger(e)) {
        return null;
      }
      if ((e as number) <= now()) return null;
      return { key: k, contentType: t, maxBytes: m as number, expiresAt: new Date(e as number) };
    },
  };
}
