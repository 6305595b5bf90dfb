/**
 * Security headers, computed once from configuration: every response gets the same constant
 * values (a few header assignments in the app's one `onRequest` hook, nothing worked out per
 * request, as the cached product page is a hot path).
 *
 * - Every response: `X-Content-Type-Options: nosniff`, `Referrer-Policy:
 *   strict-origin-when-cross-origin`, `X-Frame-Options: DENY` and `Content-Security-Policy:
 *   default-src 'none'; frame-ancestors 'none'`. An API answer, an error, a media file or a
 *   script is never a page: opened directly it may load and run nothing, and nobody may frame it.
 * - The SPA's HTML (spa.ts) replaces that policy with `spa`: scripts and styles from this origin
 *   only (the Vite build has no inline code; React sets styles through the DOM, which a policy
 *   does not govern), images also from `data:`/`blob:` (photo previews) and MEDIA_BASE_URL,
 *   fetches to this origin and to the S3 endpoint that direct uploads go to.
 * - The API docs at /docs (Swagger UI) use `docs`: its own files only.
 */
import type { Config } from '../config/config.ts';

export type SecurityHeaders = Readonly<{
  /** For every response. */
  all: Readonly<Record<string, string>>;
  /** Content-Security-Policy of the SPA's index.html. */
  spa: string;
  /** Content-Security-Policy of the Swagger UI under /docs. */
  docs: string;
}>;

type Settings = Pick<
  Config,
  'mediaBaseUrl' | 'objectStore' | 's3Endpoint' | 's3Bucket' | 's3Region' | 's3ForcePathStyle'
>;

const policy = (directives: Record<string, readonly string[]>): string =>
  Object.entries(directives)
    .map(([name, sources]) => [name, ...sources].join(' '))
    .join('; ');

/** The origin browsers send direct uploads to with OBJECT_STORE=s3 (presigned PUT or POST). */
function uploadOrigin(s: Settings): string | undefined {
  if (s.objectStore !== 's3' || !s.s3Bucket) return undefined;
  const endpoint = new URL(s.s3Endpoint ?? `https://s3.${s.s3Region}.amazonaws.com`);
  if (!s.s3ForcePathStyle) endpoint.hostname = `${s.s3Bucket}.${endpoint.hostname}`;
  return endpoint.origin;
}

function mediaOrigin(s: Settings): string | undefined {
  return /^https?:\/\//.test(s.mediaBaseUrl) ? new URL(s.mediaBaseUrl).origin : undefined;
}

export function securityHeaders(settings: Settings): SecurityHeaders {
  const media = mediaOrigin(settings);
  const upload = uploadOrigin(settings);
  const self = ["'self'"];
  const spa = policy({
    'default-src': self,
    'script-src': self,
    'style-src': self,
    'img-src': [...self, 'data:', 'blob:', ...(media ? [media] : [])],
    'connect-src': [...self, ...(upload ? [upload] : [])],
    'font-src': self,
    'manifest-src': self,
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': self,
    'frame-ancestors': ["'none'"],
  });
  const docs = policy({
    'default-src': self,
    'script-src': self,
    'script-src-attr': ["'none'"],
    'style-src': self,
    'img-src': [...self, 'data:'],
    'object-src': ["'none'"],
    'base-uri': self,
    'form-action': self,
    'frame-ancestors': ["'none'"],
  });
  return {
    all: Object.freeze({
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'strict-origin-when-cross-origin',
    }),
    spa,
    docs,
  };
}
