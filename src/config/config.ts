/**
 * The one place that reads the environment. Every setting is declared once below with its parser,
 * default and an example; `loadConfig` validates them all and reports every bad setting in one
 * line each (variable, what is wrong, an example), so an operator fixes them in one pass.
 * docs/configuration.md documents the same table; keep the two in step.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export type Config = Readonly<{
  host: string;
  port: number;
  dataDir: string;
  /** PostgreSQL connection string of the primary; undefined selects the embedded PGlite adapter. */
  databaseUrl: string | undefined;
  databasePoolSize: number;
  /** Read replicas (DATABASE_REPLICA_URLS); empty: every read goes to the primary. */
  databaseReplicaUrls: readonly string[];
  databaseReadPolicy: 'least-lag' | 'round-robin';
  /** More hosts of the primary (DATABASE_FAILOVER_URLS): the standby first; writes follow a promotion. */
  databaseFailoverUrls: readonly string[];
  /**
   * What sits between the app and PostgreSQL: `none`, or `pgbouncer-transaction` (PgBouncer in
   * transaction mode: no session state, so no startup parameters such as statement_timeout and
   * no LISTEN through it).
   */
  databasePooler: 'none' | 'pgbouncer-transaction';
  /** The primary without the pooler (DATABASE_DIRECT_URL): pg-boss's LISTEN connection; optional. */
  databaseDirectUrl: string | undefined;
  /** A replica lagging more than this is taken out of reads until it catches up. */
  replicaMaxLagMs: number;
  replicaCheckIntervalMs: number;
  databaseReplicaPoolSize: number;
  /** How long after a write a client's reads wait for replicas to replay it (read-your-writes). */
  readYourWritesTtlMs: number;
  migrateOnStart: boolean;
  seed: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Where sessions live: `sql` (platform.sessions) or `redis` (needs REDIS_URL). */
  sessionStore: 'sql' | 'redis';
  /** Where the kv port keeps carts, counters and leaderboards: `sql` tables in the `platform` schema, or `redis`. */
  kvStore: 'sql' | 'redis';
  /** Where the clickstream (the stream port) is kept: `sql` (`platform.stream_batches`) or `redis` (Redis Streams). */
  streamStore: 'sql' | 'redis';
  /** Prefix of the Redis stream keys (STREAM_STORE=redis); deployments sharing one Redis need their own. */
  streamPrefix: string;
  /** `redis://[:password@]host:port[/db]`; used by SESSION_STORE/KV_STORE/STREAM_STORE/CACHE=redis. */
  redisUrl: string | undefined;
  /** The cache's tiers: `memory` (this process only) or `redis` (memory + Redis + invalidation bus); `redis` by default when REDIS_URL is set; `none`: no cache, every read goes to its loader. */
  cache: 'memory' | 'redis' | 'none';
  /** Prefix of the cache's Redis keys and bus messages; deployments sharing one Redis need their own. */
  cachePrefix: string;
  /** The cache's memory tier (per process): at most this many entries… */
  cacheMemoryItems: number;
  /** …and this many MiB of their JSON. */
  cacheMemoryMb: number;
  /** Per-response counters (`x-db-queries`, `x-cache`) for benchmarks behind a load balancer. */
  exposeCounters: boolean;
  sessionIdleTtlMs: number;
  sessionAbsoluteTtlMs: number;
  cookieSecure: 'auto' | 'always' | 'never';
  allowedOrigins: readonly string[];
  bodyLimitBytes: number;
  shutdownGraceMs: number;
  /** After SIGTERM, how long readiness fails while the listener still serves (load balancer notices). */
  shutdownDelayMs: number;
  trustProxy: boolean;
  /** Serve the web app (web/dist, built by `npm start` when stale) at `/`; false for an API-only fleet. */
  serveWeb: boolean;
  loginRateLimitPerIp: number;
  loginMaxFailuresPerAccount: number;
  loginFailureWindowMs: number;
  /** Retries of a failed job before it stays `failed` (the dead letter): at most this + 1 runs. */
  jobsRetryLimit: number;
  /** A job running longer than this is presumed dead (its worker was killed) and run again. */
  jobsLeaseMs: number;
  /** How often idle workers look for jobs and for retries that came due. */
  jobsPollIntervalMs: number;
  /** How long rolled-up clickstream records stay in the stream before the roll-up trims them. */
  clickstreamRetentionMs: number;
  /** A checkout's claim on its Idempotency-Key; after it another request (or the reconciliation) may take over. */
  checkoutLeaseMs: number;
  /** How often the worker settles stock holds left by checkouts cut short. */
  checkoutReconcileIntervalMs: number;
  /** Whether the web process also runs the worker (consumers, jobs, outbox relay). */
  runWorkerInWeb: boolean;
  mailTransport: 'file' | 'smtp';
  /** `smtp://user:pass@host:587` or `smtps://…`; required when mailTransport is smtp. */
  smtpUrl: string | undefined;
  mailFrom: string;
  /** Where objects (photos, variants) live: `local` directory under DATA_DIR/objects, or an `s3` bucket. */
  objectStore: 'local' | 's3';
  /** Base of public media URLs: `/media` (served by the app) or a CDN origin; no trailing slash. */
  mediaBaseUrl: string;
  /** HMAC secret of the local adapter's upload URLs; undefined: a random one per process. */
  uploadSigningSecret: string | undefined;
  s3Endpoint: string | undefined;
  s3Bucket: string | undefined;
  s3Region: string;
  s3ForcePathStyle: boolean;
  s3AccessKeyId: string | undefined;
  s3SecretAccessKey: string | undefined;
  /** How browsers upload to S3: a presigned `post` form (size bounded by S3) or a presigned `put`. */
  s3UploadMethod: 'post' | 'put';
}>;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;
type Parser<T> = (raw: string) => T;

class Invalid extends Error {}

const int =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    if (!/^\d+$/.test(raw.trim())) throw new Invalid('is not a whole number');
    const n = Number(raw);
    if (n < min || n > max) throw new Invalid(`must be between ${min} and ${max}`);
    return n;
  };

const bool: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new Invalid('must be true or false');
};

const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw) => {
    const v = raw.trim() as T;
    if (!values.includes(v)) throw new Invalid(`must be one of ${values.join(', ')}`);
    return v;
  };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Durations are written with a unit (`500ms`, `30s`, `15m`, `12h`, `7d`). */
const duration =
  (minMs: number, maxMs: number): Parser<number> =>
  (raw) => {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(raw.trim());
    if (!m) throw new Invalid('is not a duration with a unit (ms, s, m, h, d)');
    const ms = Number(m[1]) * UNITS[m[2]!]!;
    if (ms < minMs || ms > maxMs) throw new Invalid(`must be between ${minMs} ms and ${maxMs} ms`);
    return ms;
  };

const postgresUrl: Parser<string> = (raw) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Invalid('is not a URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Invalid(`has protocol "${url.protocol}" but must start with postgres://`);
  }
  return raw;
};

const redisUrl: Parser<string> = (raw) => {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Invalid('is not a URL');
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
    throw new Invalid('must be redis://host:port or rediss://host:port');
  }
  return raw.trim();
};

const postgresUrls: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => postgresUrl(s));

const origins: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      try {
        return new URL(s).origin;
      } catch {
        throw new Invalid(`"${s}" is not an origin such as https://shop.example.com`);
      }
    });

const smtpUrl: Parser<string> = (raw) => {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Invalid('is not a URL');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Invalid(`has protocol "${url.protocol}" but must start with smtp:// or smtps://`);
  }
  if (!url.hostname) throw new Invalid('names no host');
  return raw.trim();
};

const mailbox: Parser<string> = (raw) => {
  const m = /^\s*(?:[^<>\r\n]*<([^<>\s]+)>|([^<>\s]+))\s*$/.exec(raw);
  if (!m || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(m[1] ?? m[2] ?? '')) {
    throw new Invalid('is not an address such as "Bazaar <no-reply@example.com>"');
  }
  return raw.trim();
};

const httpUrl: Parser<string> = (raw) => {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Invalid('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Invalid(`has protocol "${url.protocol}" but must start with http:// or https://`);
  }
  return raw.trim().replace(/\/+$/, '');
};

/** A path on this site (`/media`) or an absolute http(s) URL (`https://cdn.example.com`). */
const baseUrl: Parser<string> = (raw) => {
  const v = raw.trim();
  if (v.startsWith('/') && !v.startsWith('//')) {
    if (!/^(\/[A-Za-z0-9._~-]+)+\/?$/.test(v)) throw new Invalid('is not a path such as /media');
    return v.replace(/\/+$/, '');
  }
  if (/[?#]/.test(v)) throw new Invalid('must not have a query or fragment');
  return httpUrl(v);
};

const bucketName: Parser<string> = (raw) => {
  const v = raw.trim();
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v)) {
    throw new Invalid(
      'is not a bucket name (3-63 of a-z 0-9 . -, starting and ending with a letter or digit)',
    );
  }
  return v;
};

const text: Parser<string> = (raw) => {
  if (raw.trim() === '') throw new Invalid('is empty');
  return raw.trim();
};

/** Reads the environment (and `.env` in the working directory when present) and validates it. */
export function loadConfig(env: Env = readEnv()): Config {
  const problems: string[] = [];
  function get<T>(name: string, parse: Parser<T>, fallback: T, example: string): T {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    try {
      return parse(raw);
    } catch (err) {
      const why = err instanceof Invalid ? err.message : String(err);
      const shown = raw.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@'); // never echo a password
      problems.push(`${name}=${JSON.stringify(shown)} ${why} (example: ${name}=${example})`);
      return fallback;
    }
  }

  /** Like `get` for text, but a bad value is never echoed. */
  function secret(name: string, minChars: number): string | undefined {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    if (raw.trim().length < minChars) {
      problems.push(
        `${name} is too short: it needs at least ${minChars} characters (example: ${name}=$(openssl rand -hex 32))`,
      );
      return undefined;
    }
    return raw.trim();
  }

  const databaseUrl = get<string | undefined>(
    'DATABASE_URL',
    postgresUrl,
    undefined,
    'postgres://bazaar@127.0.0.1:5432/bazaar',
  );
  const embedded = databaseUrl === undefined;
  const redisUrlValue = get<string | undefined>('REDIS_URL', redisUrl, undefined, 'redis://127.0.0.1:6379');
  const config: Config = {
    host: get('HOST', text, '127.0.0.1', '0.0.0.0'),
    port: get('PORT', int(0, 65535), 3000, '3000'),
    dataDir: resolve(get('DATA_DIR', text, './data', './data')),
    databaseUrl,
    databasePoolSize: get('DATABASE_POOL_SIZE', int(1, 500), 10, '10'),
    databaseReplicaUrls: get(
      'DATABASE_REPLICA_URLS',
      postgresUrls,
      [],
      'postgres://postgres@127.0.0.1:55433/bazaar,postgres://postgres@127.0.0.1:55434/bazaar',
    ),
    databaseFailoverUrls: get(
      'DATABASE_FAILOVER_URLS',
      postgresUrls,
      [],
      'postgres://postgres@127.0.0.1:55435/bazaar',
    ),
    databasePooler: get(
      'DATABASE_POOLER',
      oneOf('none', 'pgbouncer-transaction'),
      'none',
      'pgbouncer-transaction',
    ),
    databaseDirectUrl: get<string | undefined>(
      'DATABASE_DIRECT_URL',
      postgresUrl,
      undefined,
      'postgres://postgres@127.0.0.1:55432/bazaar',
    ),
    databaseReadPolicy: get(
      'DATABASE_READ_POLICY',
      oneOf('least-lag', 'round-robin'),
      'least-lag',
      'round-robin',
    ),
    replicaMaxLagMs: get('REPLICA_MAX_LAG_MS', int(0, 3_600_000), 1000, '1000'),
    replicaCheckIntervalMs: get('REPLICA_CHECK_INTERVAL', duration(100, 60_000), 1000, '1s'),
    databaseReplicaPoolSize: get('DATABASE_REPLICA_POOL_SIZE', int(1, 500), 10, '10'),
    readYourWritesTtlMs: get('READ_YOUR_WRITES_TTL', duration(1000, 3_600_000), 30_000, '30s'),
    migrateOnStart: get('MIGRATE_ON_START', bool, embedded, 'true'),
    seed: get('SEED', bool, embedded, 'false'),
    logLevel: get(
      'LOG_LEVEL',
      oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
      'info',
      'info',
    ),
    sessionStore: get('SESSION_STORE', oneOf('sql', 'redis'), 'sql', 'redis'),
    kvStore: get('KV_STORE', oneOf('sql', 'redis'), 'sql', 'redis'),
    streamStore: get('STREAM_STORE', oneOf('sql', 'redis'), 'sql', 'redis'),
    streamPrefix: get('STREAM_PREFIX', text, 'bazaar:stream:', 'shop-staging:stream:'),
    redisUrl: redisUrlValue,
    cache: get(
      'CACHE',
      oneOf('memory', 'redis', 'none'),
      // A memory-only cache is coherent in one process only: the worker's invalidations (photo
      // projections, events) and other instances' writes cannot reach it. So without Redis it is
      // the default only for the embedded single process; a PostgreSQL deployment without Redis
      // reads the database (set CACHE=memory for a single web process that runs its worker).
      redisUrlValue !== undefined ? 'redis' : embedded ? 'memory' : 'none',
      'redis',
    ),
    cachePrefix: get('CACHE_PREFIX', text, 'bazaar:cache', 'shop-staging:cache'),
    cacheMemoryItems: get('CACHE_MEMORY_ITEMS', int(100, 10_000_000), 100_000, '250000'),
    cacheMemoryMb: get('CACHE_MEMORY_MB', int(1, 65_536), 64, '256'),
    exposeCounters: get('EXPOSE_COUNTERS', bool, false, 'true'),
    sessionIdleTtlMs: get('SESSION_IDLE_TTL', duration(60_000, 90 * 86_400_000), 2 * 86_400_000, '2d'),
    sessionAbsoluteTtlMs: get(
      'SESSION_ABSOLUTE_TTL',
      duration(60_000, 365 * 86_400_000),
      30 * 86_400_000,
      '30d',
    ),
    cookieSecure: get('COOKIE_SECURE', oneOf('auto', 'always', 'never'), 'auto', 'always'),
    allowedOrigins: get('ALLOWED_ORIGINS', origins, [], 'https://shop.example.com'),
    bodyLimitBytes: get('BODY_LIMIT_BYTES', int(1024, 64 * 1024 * 1024), 1024 * 1024, '1048576'),
    shutdownGraceMs: get('SHUTDOWN_GRACE', duration(0, 600_000), 10_000, '10s'),
    shutdownDelayMs: get('SHUTDOWN_DELAY', duration(0, 60_000), 0, '2s'),
    trustProxy: get('TRUST_PROXY', bool, false, 'true'),
    serveWeb: get('SERVE_WEB', bool, true, 'false'),
    loginRateLimitPerIp: get('LOGIN_RATE_LIMIT_PER_IP', int(1, 100_000), 30, '30'),
    loginMaxFailuresPerAccount: get('LOGIN_MAX_FAILURES_PER_ACCOUNT', int(1, 1000), 5, '5'),
    loginFailureWindowMs: get('LOGIN_FAILURE_WINDOW', duration(1000, 86_400_000), 15 * 60_000, '15m'),
    jobsRetryLimit: get('JOBS_RETRY_LIMIT', int(0, 100), 5, '5'),
    jobsLeaseMs: get('JOBS_LEASE', duration(1000, 86_400_000), 5 * 60_000, '5m'),
    jobsPollIntervalMs: get('JOBS_POLL_INTERVAL', duration(500, 60_000), 1000, '1s'),
    runWorkerInWeb: get('RUN_WORKER_IN_WEB', bool, embedded, 'false'),
    clickstreamRetentionMs: get(
      'CLICKSTREAM_RETENTION',
      duration(3_600_000, 366 * 86_400_000),
      7 * 86_400_000,
      '7d',
    ),
    checkoutLeaseMs: get('CHECKOUT_LEASE', duration(100, 600_000), 30_000, '30s'),
    checkoutReconcileIntervalMs: get('CHECKOUT_RECONCILE_INTERVAL', duration(100, 86_400_000), 60_000, '1m'),
    mailTransport: get('MAIL_TRANSPORT', oneOf('file', 'smtp'), 'file', 'smtp'),
    smtpUrl: get<string | undefined>('SMTP_URL', smtpUrl, undefined, 'smtp://user:pass@smtp.example.com:587'),
    mailFrom: get('MAIL_FROM', mailbox, 'Bazaar <no-reply@bazaar.test>', '"Bazaar <no-reply@example.com>"'),
    objectStore: get('OBJECT_STORE', oneOf('local', 's3'), 'local', 's3'),
    mediaBaseUrl: get('MEDIA_BASE_URL', baseUrl, '/media', 'https://cdn.example.com'),
    uploadSigningSecret: secret('UPLOAD_SIGNING_SECRET', 32),
    s3Endpoint: get<string | undefined>('S3_ENDPOINT', httpUrl, undefined, 'http://127.0.0.1:9000'),
    s3Bucket: get<string | undefined>('S3_BUCKET', bucketName, undefined, 'bazaar-media'),
    s3Region: get('S3_REGION', text, 'us-east-1', 'eu-west-1'),
    s3ForcePathStyle: get('S3_FORCE_PATH_STYLE', bool, false, 'true'),
    s3AccessKeyId: get<string | undefined>('S3_ACCESS_KEY_ID', text, undefined, 'AKIAIOSFODNN7EXAMPLE'),
    s3SecretAccessKey: secret('S3_SECRET_ACCESS_KEY', 1),
    s3UploadMethod: get('S3_UPLOAD_METHOD', oneOf('post', 'put'), 'post', 'put'),
  };
  if (config.objectStore === 's3' && config.s3Bucket === undefined) {
    problems.push('S3_BUCKET is required when OBJECT_STORE=s3 (example: S3_BUCKET=bazaar-media)');
  }
  if ((config.s3AccessKeyId === undefined) !== (config.s3SecretAccessKey === undefined)) {
    problems.push(
      'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together: set both, or neither for the default AWS credential chain',
    );
  }
  if (config.mailTransport === 'smtp' && config.smtpUrl === undefined) {
    problems.push(
      'SMTP_URL is required when MAIL_TRANSPORT=smtp (example: SMTP_URL=smtp://user:pass@smtp.example.com:587)',
    );
  }
  if (config.sessionAbsoluteTtlMs < config.sessionIdleTtlMs) {
    problems.push(
      `SESSION_ABSOLUTE_TTL must not be shorter than SESSION_IDLE_TTL (example: SESSION_IDLE_TTL=2d SESSION_ABSOLUTE_TTL=30d)`,
    );
  }
  for (const [name, value] of [
    ['SESSION_STORE', config.sessionStore],
    ['KV_STORE', config.kvStore],
    ['STREAM_STORE', config.streamStore],
    ['CACHE', config.cache],
  ] as const) {
    if (value === 'redis' && config.redisUrl === undefined) {
      problems.push(`${name}=redis needs REDIS_URL (example: REDIS_URL=redis://127.0.0.1:6379)`);
    }
  }
  if (config.databaseReplicaUrls.length > 0 && embedded) {
    problems.push('DATABASE_REPLICA_URLS needs DATABASE_URL: replicas follow a PostgreSQL primary');
  }
  if ((config.databasePooler !== 'none' || config.databaseDirectUrl !== undefined) && embedded) {
    problems.push(
      'DATABASE_POOLER and DATABASE_DIRECT_URL need DATABASE_URL (example: DATABASE_URL=postgres://postgres@127.0.0.1:6432/bazaar)',
    );
  }
  if (config.databaseFailoverUrls.length > 0 && embedded) {
    problems.push('DATABASE_FAILOVER_URLS needs DATABASE_URL: they are more hosts of a PostgreSQL primary');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

function readEnv(): Env {
  const file = resolve('.env');
  if (existsSync(file)) process.loadEnvFile(file);
  return process.env;
}
