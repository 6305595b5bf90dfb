/**
 * Worker entry point: `npm run worker`. Runs the outbox relay and every module's event consumers
 * (on the jobs port) until SIGTERM/SIGINT; then it stops taking jobs, lets running ones finish
 * within SHUTDOWN_GRACE (unfinished ones are retried later), closes pools and exits 0. Run as
 * many as needed: they share the work through the database. With the embedded PGlite database
 * the web process runs the worker itself (RUN_WORKER_IN_WEB), since one process owns DATA_DIR.
 */
import pino from 'pino';
import { LOG_REDACT } from '../shared/log-redact.ts';
import { MODULES } from './modules.ts';
import { loadConfigOrExit, migrateAll, startPlatform } from './runtime.ts';
import { startWorker } from './worker-runtime.ts';

const config = loadConfigOrExit();
const log = pino({ level: config.logLevel, redact: { paths: LOG_REDACT, censor: '[redacted]' } }).child({
  process: 'worker',
});
const platform = await startPlatform(config, { processName: 'worker' });

const sets = MODULES.map((m) => m.migrations);
if (config.migrateOnStart) {
  await migrateAll(platform, (line) => log.info(line));
} else {
  const pending = await platform.sql.pending(sets);
  if (pending.length > 0) {
    log.fatal({ pending }, `migrations pending (${pending.join(', ')}); run bazaar migrate first`);
    await platform.close();
    process.exit(1);
  }
}

// Signals are handled from here on, also while the worker is still starting.
let stopping = false;
let starting: ReturnType<typeof startWorker> | undefined;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: no new jobs, finishing running ones');
  try {
    const worker = await starting;
    await worker?.stop({ graceMs: config.shutdownGraceMs });
    await platform.close();
    process.exit(0);
  } catch (err) {
    log.error({ err }, 'error while shutting down');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

starting = startWorker({ config, platform, modules: MODULES, log });
await starting;
