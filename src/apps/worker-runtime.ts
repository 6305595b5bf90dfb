/**
 * The worker's work, shared by `npm run worker`, the web process in solo (RUN_WORKER_IN_WEB) and
 * tests: the jobs port, every module's event consumers and the outbox relay.
 */
import type { Config } from '../config/config.ts';
import type { PeriodicTask, WebModule } from '../modules/module.ts';
import type { Consumer } from '../platform/events/events.ts';
import { createOutboxRelay } from '../platform/events/outbox-relay.ts';
import type { JobState } from '../platform/jobs/jobs.ts';
import type { Platform } from '../platform/platform.ts';

export type WorkerLog = Readonly<{
  info(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}>;

export type WorkerDeps = Readonly<{
  config: Config;
  platform: Platform;
  modules: readonly WebModule[];
  log: WorkerLog;
  /** Consumers besides the modules' (tests). */
  extraConsumers?: readonly Consumer[];
  /** Pause between outbox passes (default 200 ms). */
  relayIntervalMs?: number;
}>;

export type RunningWorker = Readonly<{
  /** Names of the consumers this worker runs. */
  consumers: readonly string[];
  /**
   * Relays the outbox and waits until the outbox is empty and no job of this worker's consumers
   * is due or running; jobs not due yet (a retry's backoff, a delayed start) are not waited for.
   * Rejects after `timeoutMs` (default 10 s). For tests and scripts.
   */
  drain(options?: { timeoutMs?: number }): Promise<void>;
  /** Stops the relay, then lets running jobs finish for up to `graceMs`. Idempotent. */
  stop(options?: { graceMs?: number }): Promise<void>;
}>;

const PENDING: readonly JobState[] = ['created', 'retry', 'active'];

export async function startWorker(deps: WorkerDeps): Promise<RunningWorker> {
  const { config, platform, modules, log } = deps;
  await platform.jobs.start();

  const consumers: Consumer[] = [
    ...modules.flatMap((m) => m.consumers?.({ config, platform }) ?? []),
    ...(deps.extraConsumers ?? []),
  ];
  const names = new Set<string>();
  for (const consumer of consumers) {
    if (names.has(consumer.name)) throw new Error(`two consumers are named ${consumer.name}`);
    names.add(consumer.name);
  }
  for (const consumer of consumers) await platform.events.subscribe(consumer);

  const relay = createOutboxRelay({
    sql: platform.sql,
    events: platform.events,
    intervalMs: deps.relayIntervalMs ?? 200,
    onError: (err) => log.error({ err }, 'outbox relay pass failed; retrying'),
  });
  relay.start();
  const tasks = modules.flatMap((m) => m.tasks?.({ config, platform, log }) ?? []);
  const stopTasks = startTasks(tasks, log);
  log.info(
    { consumers: [...names], tasks: tasks.map((t) => t.name) },
    'worker started: outbox relay, consumers and periodic tasks running',
  );

  async function busy(): Promise<boolean> {
    const now = Date.now();
    for (const state of PENDING) {
      const jobs = await platform.jobs.list({ state, limit: 1000 });
      if (jobs.some((j) => names.has(j.queue) && (state === 'active' || j.runAfter.getTime() <= now))) {
        return true;
      }
    }
    return false;
  }

  let stopping: Promise<void> | undefined;
  return {
    consumers: [...names],
    async drain({ timeoutMs = 10_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      // Idle takes two quiet rounds in a row: a job that finishes between a round's relay pass
      // and its look at the queues has committed its own events, which only the next pass sees.
      let quiet = 0;
      for (;;) {
        // Relay first: runOnce waits for a timer pass in flight, so every event published so far
        // is a committed job by the time busy() looks.
        const published = await relay.runOnce();
        const pending = await busy();
        if (!pending && published === 0) {
          if (++quiet === 2) return;
          continue;
        }
        quiet = 0;
        if (Date.now() > deadline) throw new Error(`worker not idle after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop({ graceMs = config.shutdownGraceMs } = {}) {
      stopping ??= (async () => {
        await stopTasks();
        await relay.stop();
        await platform.jobs.stop({ graceMs });
        log.info({}, 'worker stopped');
      })();
      return stopping;
    },
  };
}

/** Runs each task every `everyMs`, never overlapping itself; returns a stopper that waits for runs in progress. */
function startTasks(tasks: readonly PeriodicTask[], log: WorkerLog): () => Promise<void> {
  let stopped = false;
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<void>>();
  for (const task of tasks) {
    const tick = () => {
      if (stopped) return;
      const run = task
        .run()
        .then(
          () => {},
          (err) =>
            log.error({ err, task: task.name }, 'periodic task failed; it runs again at its next tick'),
        )
        .finally(() => {
          running.delete(run);
          if (!stopped) timers.push(setTimeout(tick, task.everyMs).unref());
        });
      running.add(run);
    };
    timers.push(setTimeout(tick, task.everyMs).unref());
  }
  return async () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
    await Promise.all(running);
  };
}
