/**
 * The only place where adapters are chosen, once, from typed configuration. Everything else
 * receives the ports it needs. Adapters are imported when chosen: a process loads the code (and
 * the SDKs) of its own configuration only, which is most of its start-up time.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pino from 'pino';
import type { Config } from '../config/config.ts';
import type { Cache } from './cache/cache.ts';
import type { EventsPort } from './events/events.ts';
import { createJobsEvents } from './events/jobs/jobs-events.ts';
import type { JobsPort } from './jobs/jobs.ts';
import { createPgBossJobs } from './jobs/pgboss/pgboss-jobs.ts';
import type { Kv } from './kv/kv.ts';
import { createSqlKv } from './kv/sql/sql-kv.ts';
import { createFileMailer } from './mail/file/file-mailer.ts';
import type { Mailer } from './mail/mail.ts';
import { createLocalObjects } from './objects/local/local-objects.ts';
import { createUploadTokens, type UploadTokens } from './objects/local/upload-tokens.ts';
import type { ObjectStore } from './objects/objects.ts';
import type { RedisHealth } from './redis-options.ts';
import type { SessionStore } from './sessions/sessions.ts';
import { createSqlSessionStore } from './sessions/sql/sql-sessions.ts';
import { jobReadPosition } from './sql/router/job-read-position.ts';
import { routerOf } from './sql/router/replicated-sql.ts';
import type { SqlPort } from './sql/sql.ts';
import { type BufferedAppender, createBufferedAppender } from './stream/buffered-appender.ts';
import { createSqlStream } from './stream/sql/sql-stream.ts';
import type { StreamPort } from './stream/stream.ts';
import { createTelemetry, type Telemetry } from './telemetry/telemetry.ts';

export { DataDirBusyError } from './sql/pglite/data-dir-lock.ts';

export type Platform = Readonly<{
  sql: SqlPort;
  sessions: SessionStore;
  /** Cache-aside for hot reads (CACHE): memory, or memory + Redis with an invalidation bus; `none`: pass-through. */
  cache: Cache;
  /** Requests, SQL statements per request and in total, cache counters (tests, benchmarks). */
  telemetry: Telemetry;
  /** Background jobs (pg-boss on this database); started on first use. */
  jobs: JobsPort;
  /** Domain events to consumers, on the jobs port. */
  events: EventsPort;
  /** Carts, counters, leaderboards (KV_STORE). */
  kv: Kv;
  mail: Mailer;
  /** Photos and their variants (OBJECT_STORE): a directory under DATA_DIR/objects, or an S3 bucket. */
  objects: ObjectStore;
  /** Verifies the local adapter's `/uploads/<token>` URLs; undefined with S3 (uploads go to the bucket). */
  uploadTokens: UploadTokens | undefined;
  /** Append-only clickstream log: SQL table, or Redis Streams (STREAM_STORE=redis); Kinesis later. */
  stream: StreamPort;
  /** Batches clickstream appends off the request path; flushed on close. */
  clickstream: BufferedAppender;
  /** Closes every adapter; idempotent. */
  close(): Promise<void>;
}>;

export type PlatformOptions = Readonly<{
  /** PGlite in memory instead of under DATA_DIR (tests). Ignored when DATABASE_URL is set. */
  inMemory?: boolean;
  /** Names this process in the database's activity views (`web`, `worker`, `cli`). */
  processName?: string;
}>;

export async function createPlatform(config: Config, options: PlatformOptions = {}): Promise<Platform> {
  const embedded = config.databaseUrl
    ? undefined
    : await (await import('./sql/pglite/pglite-sql.ts')).openPglite({
        dataDir: options.inMemory ? undefined : config.dataDir,
      });
  const sql = !embedded
    ? await (await import('./sql/postgres/postgres-sql.ts')).createPostgresSql({
        url: config.databaseUrl!,
        poolSize: config.databasePoolSize,
        applicationName: `bazaar-${options.processName ?? 'web'}`,
        failoverUrls: config.databaseFailoverUrls,
        pooler: config.databasePooler,
        replicas: {
          urls: config.databaseReplicaUrls,
          poolSize: config.databaseReplicaPoolSize,
          policy: config.databaseReadPolicy,
          maxLagMs: config.replicaMaxLagMs,
          checkIntervalMs: config.replicaCheckIntervalMs,
        },
      })
    : embedded.sql;

  // One Redis connection for sessions and kv; a command fails after one retry when Redis is down,
  // so sessions fail closed quickly instead of queueing.
  const redisSupport = config.redisUrl ? await import('./redis-options.ts') : undefined;
  const redis =
    config.redisUrl && redisSupport
      ? new (await import('ioredis')).Redis(redisSupport.redisOptions(config.redisUrl))
      : undefined;
  const redisLog = pino({ level: config.logLevel }).child({ component: 'redis' });
  // Once per outage and per connection, not at every reconnect attempt.
  const onRedisHealth = (health: RedisHealth) =>
    health.state === 'down'
      ? redisLog.warn(
          { client: health.client, err: health.err },
          'redis unreachable; reconnecting (sessions fail closed, the cache serves from memory)',
        )
      : redisLog.info({ client: health.client }, 'redis reachable again');
  if (redis) redisSupport!.watchRedis(redis, 'sessions-kv', onRedisHealth);
  const sessionTtl = { idleMs: config.sessionIdleTtlMs, absoluteMs: config.sessionAbsoluteTtlMs };
  const sessions =
    config.sessionStore === 'redis'
      ? (await import('./sessions/redis/redis-sessions.ts')).createRedisSessionStore(redis!, sessionTtl)
      : createSqlSessionStore(sql, sessionTtl);

  const caches = await import('./cache/cache.ts');
  const cache: Cache =
    config.cache === 'none'
      ? caches.createPassThroughCache()
      : caches.createCache({
          ...(config.cache === 'redis'
            ? { redis: (await import('./cache/redis-tier.ts')).redisTier(config.redisUrl!) }
            : {}),
          prefix: config.cachePrefix,
          maxMemoryItems: config.cacheMemoryItems,
          maxMemoryBytes: config.cacheMemoryMb * 1024 * 1024,
          // With replicas, a delete is repeated once every serving replica has replayed the write.
          repeatDeletesAfterMs:
            config.databaseReplicaUrls.length > 0
              ? config.replicaMaxLagMs + config.replicaCheckIntervalMs
              : 0,
          onRedisHealth,
        });
  const telemetry = createTelemetry({ sql, cache });

  const kv: Kv =
    config.kvStore === 'redis'
      ? (await import('./kv/redis/redis-kv.ts')).createRedisKv(redis!)
      : createSqlKv(sql);

  const mailLog = pino({ level: config.logLevel }).child({ component: 'mail' });
  const mail =
    config.mailTransport === 'smtp'
      ? (await import('./mail/smtp/smtp-mailer.ts')).createSmtpMailer({
          url: config.smtpUrl!,
          from: config.mailFrom,
        })
      : createFileMailer({
          dir: join(config.dataDir, 'mail'),
          from: config.mailFrom,
          log: (fields, msg) => mailLog.info(fields, msg),
        });

  const uploadTokens =
    config.objectStore === 'local'
      ? createUploadTokens({ secret: config.uploadSigningSecret ?? randomBytes(32) })
      : undefined;
  const s3Objects = config.objectStore === 's3' ? await import('./objects/s3/s3-objects.ts') : undefined;
  const s3 =
    s3Objects !== undefined
      ? s3Objects.createS3Client({
          endpoint: config.s3Endpoint,
          region: config.s3Region,
          forcePathStyle: config.s3ForcePathStyle,
          accessKeyId: config.s3AccessKeyId,
          secretAccessKey: config.s3SecretAccessKey,
        })
      : undefined;
  const objects =
    s3 !== undefined
      ? s3Objects!.createS3Objects({
          client: s3,
          bucket: config.s3Bucket!,
          mediaBaseUrl: config.mediaBaseUrl,
          uploadMethod: config.s3UploadMethod,
        })
      : createLocalObjects({
          dir: join(config.dataDir, 'objects'),
          tokens: uploadTokens!,
          mediaBaseUrl: config.mediaBaseUrl,
        });

  const stream =
    config.streamStore === 'redis'
      ? (await import('./stream/redis/redis-stream.ts')).createRedisStream(redis!, {
          prefix: config.streamPrefix,
        })
      : createSqlStream(sql);
  const streamLog = pino({ level: config.logLevel }).child({ component: 'clickstream' });
  const clickstream = createBufferedAppender(stream, {
    onError: (err) => streamLog.warn({ err }, 'clickstream batch dropped'),
  });

  const jobsLog = pino({ level: config.logLevel }).child({ component: 'jobs' });
  const router = routerOf(sql);
  const jobs = createPgBossJobs({
    connection: embedded
      ? { kind: 'pglite', pglite: embedded.pglite, primary: embedded.primary }
      : {
          kind: 'postgres',
          urls: [config.databaseUrl!, ...config.databaseFailoverUrls],
          poolSize: config.databasePoolSize,
          applicationName: `bazaar-${options.processName ?? 'web'}-jobs`,
          pooler: config.databasePooler,
          directUrl: config.databaseDirectUrl,
        },
    retryLimit: config.jobsRetryLimit,
    leaseSeconds: Math.ceil(config.jobsLeaseMs / 1000),
    pollIntervalMs: config.jobsPollIntervalMs,
    onError: (err) => jobsLog.error({ err }, 'jobs: background error'),
    ...(router ? { readPosition: jobReadPosition(router) } : {}),
  });
  const events = createJobsEvents({ jobs, sql });

  return Object.freeze({
    sql,
    jobs,
    events,
    stream,
    clickstream,
    sessions,
    cache,
    telemetry,
    kv,
    mail,
    objects,
    uploadTokens,
    close: async () => {
      await clickstream.close();
      await mail.close();
      s3?.destroy();
      await jobs.stop();
      await sql.close();
      await cache.close();
      redis?.disconnect();
    },
  });
}
