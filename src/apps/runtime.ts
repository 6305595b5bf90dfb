/**
 * Start-up shared by the entry points: configuration (start-checks.ts), the platform, and
 * migrations when asked.
 */
import type { Config } from '../config/config.ts';
import {
  createPlatform,
  DataDirBusyError,
  type Platform,
  type PlatformOptions,
} from '../platform/platform.ts';
import { MODULES } from './modules.ts';

export { loadConfigOrExit } from './start-checks.ts';

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
