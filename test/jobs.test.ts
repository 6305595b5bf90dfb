/**
 * The jobs port on pg-boss: its contract on PGlite and PostgreSQL; on PostgreSQL, a worker
 * process killed mid-job (its job is run again after the lease, once), the `bazaar jobs` CLI as
 * an operator runs it, and the worker entry point's graceful SIGTERM.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { handleOnce } from '../src/platform/events/handle-once.ts';
import { eventually, jobsContract } from '../src/platform/jobs/jobs.contract.ts';
import type { JobsPort } from '../src/platform/jobs/jobs.ts';
import { createPgBossJobs } from '../src/platform/jobs/pgboss/pgboss-jobs.ts';
import { openPglite } from '../src/platform/sql/pglite/pglite-sql.ts';
import { createPostgresSql } from '../src/platform/sql/postgres/postgres-sql.ts';
import type { SqlPort } from '../src/platform/sql/sql.ts';
import { BACKENDS, type Backend, postgres } from './support/engines.ts';

const platformMigrations = {
  domain: 'platform' as const,
  dir: fileURLToPath(new URL('../migrations/platform/', import.meta.url)),
};

type Opened = { jobs: JobsPort; sql: SqlPort; url: string | undefined; teardown(): Promise<void> };

async function openJobs(
  backend: Backend,
  options: { retryLimit: number; leaseSeconds: number },
): Promise<Opened> {
  const database = await backend.createDatabase();
  const common = { ...options, pollIntervalMs: 500, reclaimIntervalSeconds: 1 };
  let jobs: JobsPort;
  let port: SqlPort;
  if (database.url) {
    port = await createPostgresSql({ url: database.url, poolSize: 4 });
    jobs = createPgBossJobs({
      ...common,
      connection: {
        kind: 'postgres',
        urls: [database.url],
        poolSize: 4,
        applicationName: 'bazaar-test-jobs',
      },
    });
  } else {
    const embedded = await openPglite();
    port = embedded.sql;
    jobs = createPgBossJobs({
      ...common,
      connection: { kind: 'pglite', pglite: embedded.pglite, primary: embedded.primary },
    });
  }
  await port.migrate([platformMigrations]);
  return {
    jobs,
    sql: port,
    url: database.url,
    async teardown() {
      await jobs.stop();
      await port.close();
      await database.drop();
    },
  };
}

for (const backend of BACKENDS) {
  jobsContract({
    name: `pg-boss on ${backend.name}`,
    skip: backend.skip,
    setup: (options) => openJobs(backend, options),
  });
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../src/apps/cli.ts', import.meta.url));
const WORKER = fileURLToPath(new URL('../src/apps/worker.ts', import.meta.url));
const HANGING_WORKER = fileURLToPath(new URL('./fixtures/hanging-worker.ts', import.meta.url));

type Child = { child: ChildProcess; output: () => string; exit: Promise<number | null> };

function spawnNode(script: string, args: string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}

async function cli(url: string, ...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawnNode(CLI, ['jobs', ...args], { DATABASE_URL: url });
  const code = await p.exit;
  return { code, out: p.output() };
}

describe('jobs with worker processes, on postgres', { skip: postgres.skip }, () => {
  let opened: Opened;
  let url: string;
  before(async () => {
    opened = await openJobs(postgres, { retryLimit: 3, leaseSeconds: 60 });
    url = opened.url!;
    await opened.jobs.start();
  });
  after(() => opened?.teardown());

  it('when a worker process is killed mid-job, then the job runs again after its lease and its effect happens once', async () => {
    const db = opened.sql.for('platform').write;
    await sql`create table public.kill_runs (job_id uuid not null, pid int not null)`.execute(db);
    await sql`create table public.kill_effects (job_id uuid primary key, pid int not null)`.execute(db);
    const queue = 'test.killed-worker';
    const id = await opened.jobs.send(
      queue,
      {},
      { leaseSeconds: 2, retryDelaySeconds: 0, retryBackoff: false },
    );

    const worker = spawnNode(HANGING_WORKER, [], { DATABASE_URL: url, QUEUE: queue });
    try {
      await eventually(
        'the child worker to start the job',
        async () => {
          const { rows } = await sql`select 1 from public.kill_runs where job_id = ${id}`.execute(db);
          return rows.length > 0 ? true : undefined;
        },
        20_000,
      );
      assert.equal((await opened.jobs.get(id))?.state, 'active');
    } finally {
      worker.child.kill('SIGKILL');
    }
    assert.equal(await worker.exit, null, `the worker was killed, not exited:\n${worker.output()}`);

    const started = Date.now();
    let runs = 0;
    await opened.jobs.work(queue, async (job) => {
      runs++;
      await handleOnce(db, { consumer: queue, eventId: job.id }, async (trx) => {
        await sql`insert into public.kill_effects (job_id, pid) values (${job.id}, ${process.pid})`.execute(
          trx,
        );
      });
    });
    const done = await eventually('the job to complete elsewhere', async () => {
      const job = await opened.jobs.get(id);
      return job?.state === 'completed' ? job : undefined;
    });
    assert.ok(Date.now() - started >= 500, 'it waited for the lease to expire');
    assert.equal(done.attempts, 2);
    assert.equal(runs, 1);
    const { rows } = await sql<{ pid: number }>`select pid from public.kill_effects`.execute(db);
    assert.deepEqual(
      rows.map((r) => r.pid),
      [process.pid],
    );
  });

  it('when jobs failed, then `bazaar jobs failed` lists them and `bazaar jobs retry` sends one back', async () => {
    const queue = 'test.cli-poison';
    let healed = false;
    await opened.jobs.work(queue, async () => {
      if (!healed) throw new Error('cannot reach the payment gateway');
    });
    const id = await opened.jobs.send(
      queue,
      { order: 1 },
      { retryLimit: 1, retryDelaySeconds: 0, retryBackoff: false },
    );
    await eventually('the job to fail', async () =>
      (await opened.jobs.get(id))?.state === 'failed' ? true : undefined,
    );

    const table = await cli(url, 'failed');
    assert.equal(table.code, 0, table.out);
    const line = table.out.split('\n').find((l) => l.startsWith(id));
    assert.ok(line, table.out);
    assert.match(line, new RegExp(`${queue.replace('.', '\\.')}\\s+failed\\s+2/2\\s`));
    assert.match(line, /cannot reach the payment gateway/);
    assert.match(table.out, /bazaar jobs retry <id>/);

    const json = await cli(url, 'list', '--state', 'failed', '--queue', queue, '--json');
    assert.equal(json.code, 0, json.out);
    const listed = JSON.parse(json.out) as { id: string; state: string; attempts: number; error: string }[];
    assert.deepEqual(
      listed.map((j) => [j.id, j.state, j.attempts, j.error]),
      [[id, 'failed', 2, 'cannot reach the payment gateway']],
    );

    healed = true;
    const retried = await cli(url, 'retry', id);
    assert.equal(retried.code, 0, retried.out);
    assert.match(retried.out, new RegExp(`job ${id} \\(${queue.replace('.', '\\.')}\\) will run again`));
    await eventually('the retried job to complete', async () =>
      (await opened.jobs.get(id))?.state === 'completed' ? true : undefined,
    );
    const none = await cli(url, 'failed', '--queue', queue);
    assert.equal(none.code, 0);
    assert.match(none.out, /no failed jobs/);
  });

  it('when the CLI is given an unknown id, a job that has not failed or bad options, then it says so and exits non-zero', async () => {
    const unknown = await cli(url, 'retry', '0190f5d2-7b1c-7a00-8000-00000000abcd');
    assert.equal(unknown.code, 1);
    assert.match(unknown.out, /no job has the id 0190f5d2-7b1c-7a00-8000-00000000abcd/);

    const waiting = await opened.jobs.send('test.cli-waiting', {});
    const notFailed = await cli(url, 'retry', waiting);
    assert.equal(notFailed.code, 1);
    assert.match(notFailed.out, /is created; only failed jobs can be retried/);

    const badState = await cli(url, 'list', '--state', 'broken');
    assert.equal(badState.code, 2);
    assert.match(badState.out, /--state must be one of created, retry, active, completed, cancelled, failed/);
    const noAction = await cli(url);
    assert.equal(noAction.code, 2);
    assert.match(noAction.out, /usage: bazaar jobs list/);
  });

  it('when the worker gets SIGTERM, then it stops and exits 0', async () => {
    const worker = spawnNode(WORKER, [], { DATABASE_URL: url, MIGRATE_ON_START: 'true', LOG_LEVEL: 'info' });
    await eventually(
      'the worker to start',
      async () => (worker.output().includes('worker started') ? true : undefined),
      20_000,
    ).catch((err) => {
      worker.child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${worker.output()}`);
    });
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exit, 0, worker.output());
    assert.match(worker.output(), /worker stopped/);
  });
});
