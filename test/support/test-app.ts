/**
 * Starts the whole application in-process on a real engine, for `inject()` tests:
 * a fresh database, every migration applied, silent logs unless LOG_LEVEL is set.
 */
import type { InjectOptions } from 'fastify';
import pino from 'pino';
import { MODULES } from '../../src/apps/modules.ts';
import { type Config, loadConfig } from '../../src/config/config.ts';
import type { ApiApp } from '../../src/http/api-app.ts';
import { buildApp } from '../../src/http/app.ts';
import { createPlatform, type Platform } from '../../src/platform/platform.ts';
import { parseLsn } from '../../src/platform/sql/router/lsn.ts';
import { routerOf } from '../../src/platform/sql/router/replicated-sql.ts';
import type { Backend } from './engines.ts';
import { responseChecker } from './openapi-validator.ts';

export type TestApp = Readonly<{
  app: ApiApp;
  platform: Platform;
  config: Config;
  close(): Promise<void>;
}>;

export async function startTestApp(backend: Backend, env: Record<string, string> = {}): Promise<TestApp> {
  const database = await backend.createDatabase();
  const config = loadConfig({
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...(database.replicaUrls ? { DATABASE_REPLICA_URLS: database.replicaUrls } : {}),
    DATABASE_POOL_SIZE: '5',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'silent',
    SEED: 'false',
    ...env,
  });
  const platform = await createPlatform(config, { inMemory: true, processName: 'test' });
  await platform.sql.migrate(MODULES.map((m) => m.migrations));
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'silent' });
  const { app } = await buildApp({ config, platform, modules: MODULES, logger });
  await app.ready();
  await checkResponsesAgainstOpenApi(app);
  return {
    app,
    platform,
    config,
    async close() {
      await app.close();
      await platform.close();
      await database.drop();
    },
  };
}

/**
 * Makes `app.inject(options)` check every response against the schema /openapi.json declares for
 * its route and status (openapi-validator.ts): a drift fails the test that made the request.
 */
async function checkResponsesAgainstOpenApi(app: ApiApp): Promise<void> {
  const check = responseChecker((await app.inject({ url: '/openapi.json' })).json());
  const inject = app.inject.bind(app);
  const checked = async (options: InjectOptions | string) => {
    const response = await inject(options);
    const { method = 'GET', url = '/' } =
      typeof options === 'string' ? { url: options } : { method: options.method, url: urlOf(options) };
    check(String(method), url, response);
    return response;
  };
  app.inject = ((...args: unknown[]) =>
    args.length === 1 && args[0] !== undefined
      ? checked(args[0] as InjectOptions | string)
      : (inject as (...a: unknown[]) => unknown)(...args)) as typeof app.inject;
}

function urlOf(options: InjectOptions): string {
  const url = options.url ?? options.path ?? '/';
  return typeof url === 'string' ? url : (url.pathname ?? '/');
}

/** The session cookie (name=value) from a response's Set-Cookie, for the next request. */
export function sessionCookie(response: { cookies: { name: string; value: string }[] }): string {
  const c = response.cookies.find((x) => x.name === 'bazaar_session');
  if (!c) throw new Error('response set no session cookie');
  return `${c.name}=${c.value}`;
}

/**
 * With read replicas configured (scripts/test-with-replicas.sh), waits until every replica has
 * replayed everything the primary has written so far; a no-op without replicas. For tests whose
 * subject is not replication but which read, as another visitor, what was just written: that
 * visitor may see the replicas' older state (by design), so such a test settles first.
 */
export async function replicasCaughtUp(t: TestApp, timeoutMs = 15_000): Promise<void> {
  const router = routerOf(t.platform.sql);
  if (!router) return;
  const target = await router.primaryLsn();
  const end = Date.now() + timeoutMs;
  for (;;) {
    await router.refresh();
    const replicas = router.status().filter((n) => n.role === 'replica');
    if (replicas.every((n) => n.healthy && (parseLsn(n.lsn) ?? -1n) >= target)) return;
    if (Date.now() > end) throw new Error(`replicas did not catch up: ${JSON.stringify(replicas)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
