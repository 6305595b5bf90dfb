/**
 * The web app (the React SPA in web/) at the HTTP edge, for solo and any deployment where one
 * origin serves both; an API-only fleet turns it off with SERVE_WEB=false and the SPA goes to a
 * CDN (README, "Web app").
 *
 * - `ensureWebBuilt()` (called by `npm start`) runs the Vite build when web/dist is missing or
 *   older than any file under web/ (`isDistStale`), into a temporary folder swapped in whole,
 *   so a process serving the old build never sees a half-written one. Without Vite installed
 *   (`npm ci --omit=dev` on a machine that never built), it logs one line and the API runs alone.
 * - `registerSpa()` serves web/dist at `/`, from memory (read once, on the first request after
 *   the build exists): `/assets/*` (content-hashed names) with `Cache-Control: public,
 *   max-age=31536000, immutable`; `index.html` with `no-cache`; both with a strong ETag, 304 on
 *   `If-None-Match`, and gzip/brotli chosen by `Accept-Encoding`. index.html carries the SPA's
 *   Content-Security-Policy (`csp`, from security-headers.ts). Any other GET for a path that is
 *   not a file, from a client accepting text/html, gets index.html (deep links such as `/p/<id>`).
 *   `/api/*`, `/media/*`, `/uploads/*`, `/healthz`, `/readyz`, `/docs*` and `/openapi.json` are
 *   never answered with the SPA: unknown paths there stay 404 problems.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../shared/errors.ts';
import type { ApiApp } from './api-app.ts';
import { MEDIA_CACHE_CONTROL, matchesAny } from './media-serving.ts';

/** The SPA's sources (web/) and its build (web/dist), next to src/ in the repository. */
export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../web');
export const WEB_DIST_DIR = join(WEB_DIR, 'dist');

const INDEX = '/index.html';
const RESERVED = /^\/(?:api|media|uploads|docs|healthz|readyz|openapi\.json)(?:\/|$)/;
const NOT_SOURCES = new Set(['dist', 'node_modules']);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};
const COMPRESSIBLE = /^(?:text\/|application\/(?:json|manifest\+json)|image\/svg\+xml)/;

/** Newest modification time (ms) of the files under `dir`, skipping dist, node_modules and dot folders. */
export function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || NOT_SOURCES.has(entry.name)) continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Whether `distDir` must be (re)built: it has no index.html, or a source under `webDir` is newer. */
export function isDistStale(webDir: string = WEB_DIR, distDir: string = join(webDir, 'dist')): boolean {
  const index = join(distDir, 'index.html');
  if (!existsSync(index)) return true;
  return newestSourceMtime(webDir) > statSync(index).mtimeMs;
}

type Log = Pick<FastifyBaseLogger, 'info' | 'warn'>;

export type WebBuild = 'fresh' | 'built' | 'unavailable';

/**
 * Builds web/ into web/dist when stale. Returns `fresh` (nothing to do), `built`, or
 * `unavailable` (no Vite, or the build failed: logged, and the previous build, if any, is served).
 * Never throws: the API runs whatever happens to the web app.
 */
export async function ensureWebBuilt(
  options: { log: Log; webDir?: string; force?: boolean } = { log: console },
): Promise<WebBuild> {
  const { log } = options;
  const webDir = options.webDir ?? WEB_DIR;
  const distDir = join(webDir, 'dist');
  if (!options.force && !isDistStale(webDir, distDir)) return 'fresh';
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    log.warn(
      `the web app in ${webDir} is not built and Vite is not installed (npm ci --omit=dev?): serving the API only; run npm ci && npm run build to get the shop`,
    );
    return 'unavailable';
  }
  log.info('building the web app…');
  const started = performance.now();
  const temp = `${distDir}.build-${process.pid}-${Date.now()}`;
  try {
    await vite.build({
      root: webDir,
      configFile: join(webDir, 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: temp, emptyOutDir: true },
    });
    await swapIn(temp, distDir);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    const previous = existsSync(join(distDir, 'index.html'));
    log.warn(
      { err },
      previous
        ? 'the web app did not build; serving the previous build'
        : 'the web app did not build: serving the API only; fix web/ (npm run build shows why) or set SERVE_WEB=false',
    );
    return 'unavailable';
  }
  log.info(
    `built the web app in ${((performance.now() - started) / 1000).toFixed(1)} s (${relative(process.cwd(), distDir) || distDir})`,
  );
  return 'built';
}

/** Replaces `distDir` by `temp` with renames; another process's build landing first wins. */
async function swapIn(temp: string, distDir: string): Promise<void> {
  await mkdir(dirname(distDir), { recursive: true });
  const old = `${distDir}.old-${process.pid}-${Date.now()}`;
  await rename(distDir, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  try {
    await rename(temp, distDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    await rm(temp, { recursive: true, force: true });
  }
  await rm(old, { recursive: true, force: true });
}

type Encoded = { body: Buffer; etag: string };
type StaticFile = {
  type: string;
  cacheControl: string;
  identity: Encoded;
  br?: Encoded;
  gzip?: Encoded;
};

/** Every file of `distDir` by URL path, compressed variants alongside. */
function loadDist(distDir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(path);
        continue;
      }
      const urlPath = `/${relative(distDir, path).split(sep).join('/')}`;
      const body = readFileSync(path);
      const type = TYPES[extname(entry.name).toLowerCase()] ?? 'application/octet-stream';
      const hash = createHash('sha256').update(body).digest('base64url').slice(0, 27);
      const file: StaticFile = {
        type,
        cacheControl: urlPath.startsWith('/assets/')
          ? MEDIA_CACHE_CONTROL
          : urlPath === INDEX
            ? 'no-cache'
            : 'public, max-age=3600',
        identity: { body, etag: `"${hash}"` },
      };
      if (COMPRESSIBLE.test(type) && body.length > 1024) {
        const br = brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 9 } });
        const gzip = gzipSync(body, { level: 9 });
        if (br.length < body.length) file.br = { body: br, etag: `"${hash}-br"` };
        if (gzip.length < body.length) file.gzip = { body: gzip, etag: `"${hash}-gz"` };
      }
      files.set(urlPath, file);
    }
  };
  walk(distDir);
  return files;
}

/** The codings an `Accept-Encoding` header accepts (q > 0). */
function acceptedCodings(header: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    if (name && !(q && Number(q.slice(2)) === 0)) out.add(name);
  }
  return out;
}

function pickEncoding(file: StaticFile, header: string | undefined): { encoded: Encoded; name?: string } {
  const accepted = acceptedCodings(header);
  if (file.br && accepted.has('br')) return { encoded: file.br, name: 'br' };
  if (file.gzip && accepted.has('gzip')) return { encoded: file.gzip, name: 'gzip' };
  return { encoded: file.identity };
}

/**
 * Registers the SPA routes; the build is read into memory (with brotli and gzip copies) on the
 * first request that finds it. A later rebuild on disk is not picked up by a running process.
 */
export function registerSpa(app: ApiApp, options: { distDir?: string; csp?: string } = {}): void {
  const distDir = options.distDir ?? WEB_DIST_DIR;
  const { csp } = options;
  let files: Map<string, StaticFile> | undefined;
  const dist = () => {
    if (files || !existsSync(join(distDir, 'index.html'))) return files;
    try {
      files = loadDist(distDir);
    } catch (err) {
      // Another process swapped in a new build while this one read it: read it on the next request.
      app.log.warn({ err }, 'could not read the web app build; retrying on the next request');
    }
    return files;
  };

  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?')[0]!;
    const notFound = () => new AppError('ROUTE_NOT_FOUND', `no route ${request.method} ${path}`);
    if (RESERVED.test(path)) throw notFound();
    const built = dist();
    let file = built?.get(path === '/' ? INDEX : path);
    if (!file) {
      const last = path.slice(path.lastIndexOf('/') + 1);
      const wantsPage = (request.headers.accept ?? '').includes('text/html');
      if (!built || last.includes('.') || !wantsPage) throw notFound();
      file = built.get(INDEX)!;
    }
    const { encoded, name } = pickEncoding(file, request.headers['accept-encoding']);
    reply.header('cache-control', file.cacheControl);
    reply.header('etag', encoded.etag);
    if (file.br || file.gzip) reply.header('vary', 'Accept-Encoding');
    if (csp && file.type.startsWith('text/html')) reply.header('content-security-policy', csp);
    if (matchesAny(request.headers['if-none-match'], encoded.etag)) return reply.code(304).send();
    reply.header('content-type', file.type);
    if (name) reply.header('content-encoding', name);
    return reply.send(encoded.body);
  });
}
