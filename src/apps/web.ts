/**
 * Web entry point: `npm start`. Holds its port first (a port in use: one sentence, exit 1, before
 * any slow start-up work). Serves the API (and, in solo, runs migrations and seeds demo
 * data on an empty database, and runs the worker in-process: RUN_WORKER_IN_WEB). On
 * SIGTERM/SIGINT: readiness turns false, the listener stops taking connections, in-flight
 * requests and jobs get SHUTDOWN_GRACE to finish, pools close, exit 0.
 */
import { holdPortOrExit, listenProblem, loadConfigOrExit } from './start-checks.ts';

const config = loadConfigOrExit();
const port = await holdPortOrExit(config);

// The rest is loaded only now, so that a bad setting or a busy port answers in a moment.
const [{ buildApp }, { ensureWebBuilt }, { MODULES }, { migrateAll, startPlatform }, seed, workers] =
  await Promise.all([
    import('../http/app.ts'),
    import('../http/spa.ts'),
    import('./modules.ts'),
    import('./runtime.ts'),
    import('./seed.ts'),
    import('./worker-runtime.ts'),
  ]);
const { seedOnStart } = seed;
type RunningWorker = import('./worker-runtime.ts').RunningWorker;
const { startWorker } = workers;

const platform = await startPlatform(config, { processName: 'web' });
const { app, markNotReady } = await buildApp({ config, platform, modules: MODULES });

if (config.migrateOnStart) {
  const applied = await migrateAll(platform, (line) => app.log.info(line));
  app.log.info({ applied }, 'database schema is current');
}

if (config.seed) {
  const report = await seedOnStart(platform, config);
  if (report && report.productsAdded > 0) {
    app.log.info(
      report,
      'seeded demo data: sign in as seller1@bazaar.test or buyer1@bazaar.test (see README)',
    );
  }
}

// In solo the web process is also the worker (one process owns the PGlite data directory).
const worker: RunningWorker | undefined = config.runWorkerInWeb
  ? await startWorker({ config, platform, modules: MODULES, log: app.log })
  : undefined;

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  app.log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: readiness off, draining');
  markNotReady();
  // Keep serving while readiness fails, so a load balancer's health checks take the instance
  // out before connections are refused.
  if (config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
  const force = setTimeout(() => {
    app.log.warn('grace period over; closing remaining connections');
    app.server.closeAllConnections();
  }, config.shutdownGraceMs);
  force.unref();
  try {
    await Promise.all([app.close(), worker?.stop({ graceMs: config.shutdownGraceMs })]);
    await platform.close();
    app.log.info('stopped');
    process.exit(0);
  } catch (err) {
    app.log.error({ err }, 'error while shutting down');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

if (config.serveWeb) await ensureWebBuilt({ log: app.log });

await port.release();
try {
  await app.listen({ host: config.host, port: config.port });
} catch (err) {
  // Taken in the instant between release and listen: the same one sentence, after a quiet stop.
  process.stderr.write(`bazaar: ${listenProblem(err, config.host, config.port)}\n`);
  await Promise.allSettled([app.close(), worker?.stop({ graceMs: 0 })]);
  await platform.close().catch(() => {});
  process.exit(1);
}
