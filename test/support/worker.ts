/**
 * The worker, in-process, next to a test app: the outbox relay and the modules' consumers (plus
 * any given), so a test can act through HTTP and then `drain()` to have every resulting event
 * delivered and handled before it asserts. Stop it before closing the app:
 *
 *   const t = await startTestApp(backend);
 *   const worker = await startTestWorker(t);
 *   after(async () => { await worker.stop(); await t.close(); });
 *   …  await worker.drain();  // outbox relayed, consumer jobs done (retries not yet due excepted)
 */
import pino from 'pino';
import { MODULES } from '../../src/apps/modules.ts';
import { type RunningWorker, startWorker } from '../../src/apps/worker-runtime.ts';
import type { Consumer } from '../../src/platform/events/events.ts';
import type { TestApp } from './test-app.ts';

export type TestWorkerOptions = Readonly<{
  /** Consumers besides the modules'. */
  consumers?: readonly Consumer[];
  /** Run the modules' consumers too (default true). */
  modules?: boolean;
}>;

export async function startTestWorker(t: TestApp, options: TestWorkerOptions = {}): Promise<RunningWorker> {
  const worker = await startWorker({
    config: t.config,
    platform: t.platform,
    modules: options.modules === false ? [] : MODULES,
    log: pino({ level: process.env['LOG_LEVEL'] ?? 'silent' }),
    extraConsumers: options.consumers ?? [],
    relayIntervalMs: 100,
  });
  return {
    ...worker,
    stop: ({ graceMs = 1000 } = {}) => worker.stop({ graceMs }),
  };
}
