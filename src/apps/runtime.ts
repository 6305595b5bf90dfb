/**
 * Start-up shared by the entry points: configuration (one line per bad setting, then exit 1),
 * the listening port (held before any slow work), the platform, and migrations when asked.
 */
import { createServer, type Server } from 'node:net';
import { type Config, ConfigError, loadConfig } from '../config/config.ts';
import {
  createPlatform,
  DataDirBusyError,
  type Platform,
  type PlatformOptions,
} from '../platform/platform.ts';
import { MODULES } from './modules.ts';

export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`bazaar: ${err.message}\nSee docs/configuration.md for every setting.\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Why `host:port` cannot be listened on, as one sentence for the operator. */
export function listenProblem(err: unknown, host: string, port: number): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE')
    return `port ${port} on ${host} is already in use (another Bazaar?); stop that process or set PORT to a free port, e.g. PORT=${port === 3000 ? 3001 : 3000} npm start`;
  if (code === 'EACCES')
    return `this user may not listen on port ${port}; set PORT to 1024 or higher, e.g. PORT=3000 npm start`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return `HOST=${host} is not an address of this machine; set HOST to one of its addresses, e.g. HOST=127.0.0.1 or HOST=0.0.0.0`;
  return `cannot listen on ${host}:${port} (${(err as Error)?.message ?? String(err)}); set PORT or HOST`;
}

/**
 * Takes the configured port at once, before migrations, seeding and the worker (tens of seconds
 * on a first start), so that a port in use ends the process with one sentence (exit 1) straight
 * away. `release()` frees it just before the app listens on it. PORT=0 (any free port): nothing
 * to hold.
 */
export async function holdPortOrExit(
  config: Pick<Config, 'host' | 'port'>,
): Promise<{ release(): Promise<void> }> {
  if (config.port === 0) return { release: async () => {} };
  const server: Server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: config.host, port: config.port, exclusive: true }, resolve);
    });
  } catch (err) {
    process.stderr.write(`bazaar: ${listenProblem(err, config.host, config.port)}\n`);
    process.exit(1);
  }
  return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The platform; a PGlite data directory in use by another process ends this one with one sentence (exit 1). */
export async function startPlatform(config: Config, options: PlatformOptions = {}): Promise<Platform> {
  try {
    return await createPlatform(config, options);
  } catch (err) {
    if (err instanceof DataDirBusyError) {
      process.stderr.write(`bazaar: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

export async function migrateAll(platform: Platform, log: (line: string) => void): Promise<number> {
  let count = 0;
  await platform.sql.migrate(
    MODULES.map((m) => m.migrations),
    (domain, name) => {
      count++;
      log(`migrated ${domain}/${name}`);
    },
  );
  return count;
}
