/**
 * Events end to end, on every SQL backend: sign-up writes `user.registered` in its transaction;
 * the outbox relay publishes it to consumers' queues; consumers are retried with backoff,
 * dead-lettered after JOBS_RETRY_LIMIT, listed and retried through the `bazaar jobs` functions,
 * and have their effect once however often an event is delivered; two relays at once publish
 * each event once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { parseJobsArgs, runJobsRequest } from '../src/apps/jobs-cli.ts';
import type { RunningWorker } from '../src/apps/worker-runtime.ts';
import type { Consumer, DomainEvent, EventsPort } from '../src/platform/events/events.ts';
import { handleOnce, isProcessed } from '../src/platform/events/handle-once.ts';
import { deliveryId } from '../src/platform/events/jobs/jobs-events.ts';
import { appendEvents } from '../src/platform/events/outbox.ts';
import { createOutboxRelay } from '../src/platform/events/outbox-relay.ts';
import { eventually } from '../src/platform/jobs/jobs.contract.ts';
import type { Job } from '../src/platform/jobs/jobs.ts';
import { createPlatform, type Platform } from '../src/platform/platform.ts';
import { BACKENDS } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';
import { startTestWorker } from './support/worker.ts';

type OutboxRow = {
  id: string;
  type: string;
  key: string | null;
  payload: Record<string, unknown>;
  published_at: Date | null;
};

let seq = 0;
const uniqueEmail = () => `events-${process.pid}-${++seq}@example.com`;

function signup(t: TestApp, email: string) {
  return t.app.inject({
    method: 'POST',
    url: '/api/auth/signup',
    payload: { email, password: 'correct horse battery', name: 'Grace Hopper', role: 'seller' },
  });
}

async function usersOutbox(t: TestApp): Promise<OutboxRow[]> {
  const { rows } =
    await sql<OutboxRow>`select id, type, key, payload, published_at from users.outbox order by id`.execute(
      t.platform.sql.for('users').write,
    );
  return rows;
}

/** Appends events of `type` to the users outbox, as a module does in its transaction. */
async function emit(t: TestApp, type: string, count = 1): Promise<string[]> {
  const db = t.platform.sql.for('users').write as Kysely<unknown>;
  return db.transaction().execute((trx) =>
    appendEvents(
      trx,
      Array.from({ length: count }, (_, i) => ({ type, payload: { i } })),
    ),
  );
}

async function effects(db: Kysely<unknown>, consumer: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from public.effects
                                            where consumer = ${consumer}`.execute(db);
  return rows[0]!.n;
}

/** A consumer whose effect is a row in public.effects, written once per event (handleOnce). */
function recordingConsumer(
  db: Kysely<unknown>,
  name: string,
  type: string,
  behaviour: (attempt: number) => void,
  extra: Partial<Consumer> = {},
): Consumer & { attempts: number[] } {
  const attempts: number[] = [];
  return {
    name,
    types: [type],
    attempts,
    ...extra,
    async handle(event, { consumer, attempt }) {
      attempts.push(attempt);
      await handleOnce(db, { consumer, eventId: event.id }, async (trx) => {
        await sql`insert into public.effects (consumer, event_id) values (${consumer}, ${event.id})`.execute(
          trx,
        );
        // Throwing after the write rolls it back with the processed-event record.
        behaviour(attempt);
      });
    },
  };
}

async function jobsCli(t: TestApp, ...args: string[]): Promise<string> {
  let out = '';
  await runJobsRequest(t.platform.jobs, parseJobsArgs(args), (text) => {
    out += `${text}\n`;
  });
  return out;
}

for (const backend of BACKENDS) {
  describe(`events and consumers on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let db: Kysely<unknown>;
    let worker: RunningWorker;
    let healed = false;
    const flaky = () =>
      recordingConsumer(
        db,
        'test.flaky',
        'test.flaky-happened',
        (attempt) => {
          if (attempt <= 2) throw new Error(`flaky failure ${attempt}`);
        },
        { retryLimit: 3 },
      );
    const poison = () =>
      recordingConsumer(db, 'test.poison', 'test.poison-happened', () => {
        if (!healed) throw new Error('the mail server is on fire');
      });
    const registered: DomainEvent[] = [];
    let flakyConsumer: ReturnType<typeof flaky>;
    let poisonConsumer: ReturnType<typeof poison>;
    let duplicateConsumer: ReturnType<typeof recordingConsumer>;

    before(async () => {
      t = await startTestApp(backend, { JOBS_RETRY_LIMIT: '1', JOBS_POLL_INTERVAL: '500ms' });
      db = t.platform.sql.for('platform').write as Kysely<unknown>;
      await sql`create table public.effects (consumer text not null, event_id uuid not null)`.execute(db);
      flakyConsumer = flaky();
      poisonConsumer = poison();
      duplicateConsumer = recordingConsumer(db, 'test.duplicate', 'test.duplicate-happened', () => {});
      worker = await startTestWorker(t, {
        modules: false,
        consumers: [
          flakyConsumer,
          poisonConsumer,
          duplicateConsumer,
          {
            name: 'test.welcome',
            types: ['user.registered'],
            handle: async (event) => {
              registered.push(event);
            },
          },
        ],
      });
    });
    after(async () => {
      await worker?.stop();
      await t?.close();
    });

    it('when a user signs up, then user.registered is in the users outbox and reaches its consumer', async () => {
      const email = uniqueEmail();
      const before = (await usersOutbox(t)).length;
      const res = await signup(t, email);
      assert.equal(res.statusCode, 201, res.body);
      const user = res.json().user as { id: string };

      const rows = (await usersOutbox(t)).slice(before);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.type, 'user.registered');
      assert.equal(rows[0]!.key, user.id);
      assert.deepEqual(rows[0]!.payload, { userId: user.id, email, name: 'Grace Hopper', role: 'seller' });

      await worker.drain();
      const delivered = registered.find((e) => e.id === rows[0]!.id);
      assert.ok(delivered, 'the consumer received the event');
      assert.equal(delivered.type, 'user.registered');
      assert.equal(delivered.source, 'users');
      assert.equal(delivered.key, user.id);
      assert.deepEqual(delivered.payload, rows[0]!.payload);
      assert.ok((await usersOutbox(t)).every((r) => r.published_at !== null));
    });

    it('when a sign-up fails, then no user.registered event is written', async () => {
      const email = uniqueEmail();
      assert.equal((await signup(t, email)).statusCode, 201);
      const count = (await usersOutbox(t)).length;
      const taken = await signup(t, email);
      assert.equal(taken.statusCode, 409, taken.body);
      assert.equal((await usersOutbox(t)).length, count);

      // The event and the account are one transaction: without the outbox, no account either.
      const users = t.platform.sql.for('users').write;
      await sql`alter table users.outbox rename to outbox_away`.execute(users);
      try {
        const broken = await signup(t, uniqueEmail());
        assert.equal(broken.statusCode, 500, broken.body);
      } finally {
        await sql`alter table users.outbox_away rename to outbox`.execute(users);
      }
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from users.users`.execute(users);
      assert.equal(rows[0]!.n, count);
      assert.equal((await usersOutbox(t)).length, count);
    });

    it('when a consumer throws twice then succeeds, then it is retried with backoff and its effect happens once', async () => {
      const [eventId] = await emit(t, 'test.flaky-happened');
      const job = await eventually('the delivery to complete', async () => {
        await worker.drain({ timeoutMs: 15_000 });
        const found = await t.platform.jobs.get(deliveryId('test.flaky', eventId!));
        return found?.state === 'completed' ? found : undefined;
      });
      assert.equal(job.attempts, 3);
      assert.deepEqual(flakyConsumer.attempts, [1, 2, 3]);
      assert.equal(await effects(db, 'test.flaky'), 1);
    });

    it('when a consumer always throws, then it fails after JOBS_RETRY_LIMIT retries, `jobs failed` lists it and `jobs retry` runs it again', async () => {
      const [eventId] = await emit(t, 'test.poison-happened');
      const id = deliveryId('test.poison', eventId!);
      const failed = await eventually('the delivery to fail', async () => {
        await worker.drain({ timeoutMs: 15_000 });
        const found = await t.platform.jobs.get(id);
        return found?.state === 'failed' ? found : undefined;
      });
      assert.equal(failed.attempts, 2, 'JOBS_RETRY_LIMIT=1: one run and one retry');
      assert.equal(failed.error, 'the mail server is on fire');
      assert.equal(await effects(db, 'test.poison'), 0);

      const table = await jobsCli(t, 'failed');
      const line = table.split('\n').find((l) => l.startsWith(id));
      assert.ok(line, table);
      assert.match(line, /test\.poison\s+failed\s+2\/2\s.*the mail server is on fire/);
      const listed = JSON.parse(await jobsCli(t, 'failed', '--queue', 'test.poison', '--json')) as Job[];
      assert.deepEqual(
        listed.map((j) => j.id),
        [id],
      );

      healed = true;
      assert.match(await jobsCli(t, 'retry', id), /will run again/);
      await eventually('the retried delivery to complete', async () => {
        await worker.drain();
        return (await t.platform.jobs.get(id))?.state === 'completed' ? true : undefined;
      });
      assert.equal(await effects(db, 'test.poison'), 1);
      await assert.rejects(jobsCli(t, 'retry', id), /only failed jobs can be retried/);
      await assert.rejects(jobsCli(t, 'retry', '0190f5d2-7b1c-7a00-8000-00000000abcd'), /no job has the id/);
    });

    it('when the same event is published or delivered again, then its consumer has its effect once', async () => {
      const [eventId] = await emit(t, 'test.duplicate-happened');
      await worker.drain();
      assert.equal(await effects(db, 'test.duplicate'), 1);
      const event: DomainEvent = {
        id: eventId!,
        type: 'test.duplicate-happened',
        source: 'users',
        key: null,
        payload: { i: 0 },
        occurredAt: new Date().toISOString(),
      };

      // Published again (a relay crashed before marking it): the delivery id is the same, no new job.
      await t.platform.events.publish([event]);
      assert.equal((await t.platform.jobs.list({ queue: 'test.duplicate', limit: 10 })).length, 1);

      // Delivered again regardless (a lease expired mid-run): the handler runs, the effect does not.
      await t.platform.jobs.send('test.duplicate', { ...event });
      await worker.drain();
      assert.equal(duplicateConsumer.attempts.length, 2);
      assert.equal(await effects(db, 'test.duplicate'), 1);
      assert.equal(await isProcessed(db, { consumer: 'test.duplicate', eventId: eventId! }), true);

      // Two deliveries at the same moment: one effect.
      const [other] = await emit(t, 'test.unsubscribed');
      const once = () =>
        handleOnce(db, { consumer: 'test.concurrent', eventId: other! }, async (trx) => {
          await sql`insert into public.effects (consumer, event_id) values ('test.concurrent', ${other})`.execute(
            trx,
          );
        });
      const results = await Promise.all([once(), once(), once()]);
      assert.deepEqual(results.sort(), [false, false, true]);
      assert.equal(await effects(db, 'test.concurrent'), 1);
    });
  });

  describe(`the outbox relay on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t?.close());

    it('when two relays run at once, then each event is published exactly once', async () => {
      const second: Platform = await createPlatform(t.config, { inMemory: true, processName: 'relay-b' });
      try {
        let handled = 0;
        await t.platform.events.subscribe({
          name: 'test.relayed',
          types: ['test.relayed-happened'],
          handle: async () => {
            handled++;
          },
        });
        const counts = new Map<string, number>();
        const counting = (events: EventsPort): EventsPort => ({
          subscribe: (c) => events.subscribe(c),
          async publish(batch, options) {
            for (const e of batch) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
            await events.publish(batch, options);
          },
        });
        const ids = await emit(t, 'test.relayed-happened', 120);
        // PGlite is one database per process: only on PostgreSQL is the second platform's
        // database the same, and there the two relays race for the same rows.
        const other = backend.name === 'postgres' ? second : t.platform;
        const relays = [t.platform, other].map((p) =>
          createOutboxRelay({ sql: p.sql, events: counting(p.events), batchSize: 7 }),
        );
        const published = await Promise.all(relays.map((r) => r.runOnce()));
        assert.equal(published[0]! + published[1]!, ids.length);
        for (const id of ids) assert.equal(counts.get(id), 1, `event ${id} published once`);
        assert.ok((await usersOutbox(t)).every((r) => r.published_at !== null));
        assert.deepEqual(await Promise.all(relays.map((r) => r.runOnce())), [0, 0]);
        const jobs = await t.platform.jobs.list({ queue: 'test.relayed', limit: 1000 });
        assert.equal(jobs.length, ids.length);
        await eventually('every delivery to be handled', async () =>
          handled === ids.length ? true : undefined,
        );
      } finally {
        await second.close();
      }
    });
  });
}
