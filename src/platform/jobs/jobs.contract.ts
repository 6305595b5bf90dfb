/**
 * The jobs port's contract. Every adapter runs it (test/jobs.test.ts): pg-boss on PGlite always
 * and on PostgreSQL whenever a server is reachable; SQS later. It uses only the JobsPort
 * interface, plus an SQL port on the same database for the transactional send.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../shared/errors.ts';
import { uuidv7 } from '../../shared/ids.ts';
import type { SqlPort } from '../sql/sql.ts';
import type { Job, JobsPort } from './jobs.ts';

export type JobsContractSubject = Readonly<{
  name: string;
  skip: string | undefined;
  /**
   * A fresh backend and a port on it: queue defaults `retryLimit` and `leaseSeconds`, idle
   * workers polling every 500 ms, expired leases reclaimed every second.
   */
  setup(options: { retryLimit: number; leaseSeconds: number }): Promise<{
    jobs: JobsPort;
    /** The SQL port on the same database (for `tx`), or undefined if the adapter is elsewhere. */
    sql: SqlPort | undefined;
    teardown(): Promise<void>;
  }>;
}>;

/** Polls `probe` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let seq = 0;
const queueName = (tag: string) => `contract.${tag}-${process.pid}-${++seq}`;

export function jobsContract(subject: JobsContractSubject): void {
  describe(`jobs port contract: ${subject.name}`, { skip: subject.skip }, () => {
    let jobs: JobsPort;
    let sqlPort: SqlPort | undefined;
    let teardown: () => Promise<void>;

    before(async () => {
      ({ jobs, sql: sqlPort, teardown } = await subject.setup({ retryLimit: 3, leaseSeconds: 60 }));
      await jobs.start();
    });
    after(() => teardown?.());

    const state = (id: string, wanted: Job['state']) =>
      eventually(`job ${id} ${wanted}`, async () => {
        const job = await jobs.get(id);
        return job?.state === wanted ? job : undefined;
      });

    it('when a job is sent, then get and list show it waiting, with its data', async () => {
      const queue = queueName('send');
      const id = await jobs.send(queue, { hello: 'world' });
      const job = await jobs.get(id);
      assert.ok(job);
      assert.equal(job.queue, queue);
      assert.equal(job.state, 'created');
      assert.deepEqual(job.data, { hello: 'world' });
      assert.equal(job.attempts, 0);
      assert.equal(job.retryLimit, 3);
      assert.equal(job.error, null);
      assert.deepEqual(
        (await jobs.list({ queue, limit: 10 })).map((j) => j.id),
        [id],
      );
      assert.deepEqual(
        (await jobs.list({ queue, state: 'created', limit: 10 })).map((j) => j.id),
        [id],
      );
      assert.deepEqual(await jobs.list({ queue, state: 'failed', limit: 10 }), []);
    });

    it('when list has a limit, then it returns that many, newest first', async () => {
      const queue = queueName('list');
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await jobs.send(queue, { i }));
      const listed = await jobs.list({ queue, limit: 2 });
      assert.deepEqual(
        listed.map((j) => (j.data as { i: number }).i),
        [2, 1],
      );
    });

    it('when the same id is sent twice, then one job exists and both sends return the id', async () => {
      const queue = queueName('dedupe');
      const id = uuidv7();
      assert.equal(await jobs.send(queue, { n: 1 }, { id }), id);
      assert.equal(await jobs.send(queue, { n: 2 }, { id }), id);
      const listed = await jobs.list({ queue, limit: 10 });
      assert.equal(listed.length, 1);
      assert.deepEqual(listed[0]!.data, { n: 1 });
    });

    it('when a handler resolves, then its job completes after one run', async () => {
      const queue = queueName('ok');
      const seen: unknown[] = [];
      await jobs.work<{ x: number }>(queue, async (job) => {
        assert.equal(job.attempt, 1);
        assert.equal(job.queue, queue);
        seen.push(job.data);
      });
      const id = await jobs.send(queue, { x: 1 });
      const done = await state(id, 'completed');
      assert.equal(done.attempts, 1);
      assert.ok(done.completedAt);
      assert.deepEqual(seen, [{ x: 1 }]);
    });

    it('when a handler throws twice then succeeds, then it is retried with growing backoff and completes', async () => {
      const queue = queueName('flaky');
      const runs: number[] = [];
      await jobs.work(queue, async (job) => {
        runs.push(Date.now());
        assert.equal(job.attempt, runs.length);
        if (runs.length <= 2) throw new Error(`flaky failure ${runs.length}`);
      });
      const id = await jobs.send(queue, {}, { retryDelaySeconds: 1, retryBackoff: true });
      const waiting = await state(id, 'retry');
      assert.equal(waiting.error, 'flaky failure 1');
      assert.ok(waiting.runAfter.getTime() > Date.now() - 100, 'the retry waits for its backoff');
      const done = await state(id, 'completed');
      assert.equal(done.attempts, 3);
      assert.equal(runs.length, 3);
      const first = runs[1]! - runs[0]!;
      const second = runs[2]! - runs[1]!;
      assert.ok(first >= 900, `first backoff ${first} ms is at least the 1 s retry delay`);
      assert.ok(second >= 1900, `second backoff ${second} ms has doubled`);
    });

    it('when a handler always throws, then the job fails after retryLimit + 1 runs and retry runs it again', async () => {
      const queue = queueName('poison');
      let healed = false;
      let runs = 0;
      await jobs.work(queue, async () => {
        runs++;
        if (!healed) throw new Error('always broken');
      });
      const id = await jobs.send(queue, {}, { retryLimit: 2, retryDelaySeconds: 0, retryBackoff: false });
      const failed = await state(id, 'failed');
      assert.equal(failed.attempts, 3);
      assert.equal(runs, 3);
      assert.equal(failed.error, 'always broken');
      assert.ok((await jobs.list({ state: 'failed', limit: 100 })).some((j) => j.id === id));

      healed = true;
      const retried = await jobs.retry(id);
      assert.notEqual(retried.state, 'failed');
      const done = await state(id, 'completed');
      assert.equal(done.attempts, 4);
      assert.equal(runs, 4);
    });

    it('when retry is given an unknown id or a job that has not failed, then it refuses', async () => {
      await assert.rejects(jobs.retry(uuidv7()), (err: AppError) => err.code === 'NOT_FOUND');
      await assert.rejects(jobs.retry('not-a-uuid'), (err: AppError) => err.code === 'NOT_FOUND');
      const id = await jobs.send(queueName('not-failed'), {});
      await assert.rejects(
        jobs.retry(id),
        (err: AppError) => err instanceof AppError && err.code === 'CONFLICT' && /created/.test(err.message),
      );
      assert.equal(await jobs.get(uuidv7()), null);
      assert.equal(await jobs.get('nope'), null);
    });

    it('when a job is sent inside a transaction, then it exists if and only if the transaction commits', async (t) => {
      if (!sqlPort) return t.skip('the adapter does not live in the SQL database');
      const queue = queueName('tx');
      await jobs.send(queue, { warmup: true });
      const db = sqlPort.for('platform').write;
      const rolledBack = uuidv7();
      await assert.rejects(
        db.transaction().execute(async (trx) => {
          await jobs.send(queue, { n: 1 }, { id: rolledBack, tx: trx });
          throw new Error('abort the change');
        }),
        /abort the change/,
      );
      assert.equal(await jobs.get(rolledBack), null);
      const committed = uuidv7();
      await db.transaction().execute((trx) => jobs.send(queue, { n: 2 }, { id: committed, tx: trx }));
      assert.equal((await jobs.get(committed))?.state, 'created');
    });

    it('when a run outlives its lease, then the job is run again', async () => {
      const queue = queueName('lease');
      let runs = 0;
      await jobs.work(
        queue,
        async (job) => {
          runs++;
          // The first run hangs (as if its worker froze) until the port stops.
          if (job.attempt === 1) await new Promise((r) => job.signal.addEventListener('abort', r));
        },
        { concurrency: 2 },
      );
      const id = await jobs.send(queue, {}, { leaseSeconds: 1, retryDelaySeconds: 0, retryBackoff: false });
      const done = await state(id, 'completed');
      assert.equal(done.attempts, 2);
      assert.equal(runs, 2);
    });

    it('when stopped while a handler runs, then stop waits for it within the grace period', async () => {
      const own = await subject.setup({ retryLimit: 3, leaseSeconds: 60 });
      try {
        const queue = queueName('stop');
        let started = false;
        let finished = false;
        await own.jobs.work(queue, async () => {
          started = true;
          await new Promise((r) => setTimeout(r, 300));
          finished = true;
        });
        await own.jobs.send(queue, {});
        await eventually('the handler to start', async () => (started ? true : undefined));
        await own.jobs.stop({ graceMs: 5000 });
        assert.equal(finished, true);
        await own.jobs.stop();
        await assert.rejects(own.jobs.send(queue, {}), (err: AppError) => err.code === 'UNAVAILABLE');
      } finally {
        await own.teardown();
      }
    });
  });
}
