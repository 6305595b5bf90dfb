/**
 * Starts the whole application in-process on a real engine, for `inject()` tests:
 * a fresh database, every migration applied, silent logs unless LOG_LEVEL is set.
 */
import pino from 'pino';
import { MODULES } from '../../src/apps/modules.ts';
import { type Config, loadConfig } from '../../src/config/config.ts';
import { type ApiApp, buildApp } from '../../src/http/app.ts';
import { createPlatform, type Platform } from '../../src/platform/platform.ts';
import type { Backend } from './engines.ts';

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

/** The session cookie (name=value) from a response's Set-Cookie, for the next request. */
export function sessionCookie(response: { cookies: { name: string; value: string }[] }): string {
  const c = response.cookies.find((x) => x.name === 'bazaar_session');
  if (!c) throw new Error('response set no session cookie');
  return `${c.name}=${c.value}`;
}
