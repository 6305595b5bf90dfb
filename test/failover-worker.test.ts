/**
 * Background work across a failover, on a real primary + synchronous standby made by
 * `bazaar stack db`: the web app runs in-process, the worker as its own process (`node
 * src/apps/worker.ts`), both with DATABASE_URL = primary and DATABASE_FAILOVER_URLS = standby, as
 * docs/operations.md tells an operator to run them. Orders are placed before, during and after
 * the primary is killed (`pg_ctl stop -m immediate`) and the standby promoted; then the worker is
 * killed and started again with the same environment, whose first host is now dead. Every order
 * on the new primary gets its confirmation email exactly once, no outbox row or job is left
 * behind, and the restarted worker delivers a new order's email.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createStack, promote, stackEnvironment, stopStack } from '../ops/stack/stack-db.ts';
import type { Product } from '../src/modules/catalog/index.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';

const pgSkip = existsSync('/usr/lib/postgresql/15/bin/initdb')
  ? undefined
  : 'PostgreSQL server programs are absent (apt-get install postgresql-15)';
if (pgSkip && process.env['BAZAAR_REQUIRE_ENGINES'] === '1')
  throw new Error(`BAZAAR_REQUIRE_ENGINES=1 but ${pgSkip}`);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';
const PASSWORD = 'failover-worker-password';
/** Orders placed before, during and after the promotion. */
const PER_PHASE = 8;
const quiet = () => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Buyer = Readonly<{ cookie: string; email: string }>;

describe('failover: background work follows the promoted standby', { skip: pgSkip }, () => {
  const parent = mkdtempSync(join(tmpdir(), 'bazaar-failover-worker-test-'));
  chmodSync(parent, 0o755);
  const dir = join(parent, 'stack');
  const dataDir = join(parent, 'data');
  // Below the ephemeral port range; failover.test.ts has 28100-28499.
  const basePort = 28600 + 10 * Math.floor(Math.random() * 30);
  const standbyPort = basePort + 1;
  let env: Record<string, string>;
  let t: TestApp;
  let worker: Worker | undefined;

  before(async () => {
    const manifest = await createStack(
      { replicas: 0, standby: true, delayMs: 0, dir, basePort, fast: true },
      quiet,
    );
    env = stackEnvironment(manifest);
    assert.ok(env['DATABASE_FAILOVER_URLS']?.includes(`:${standbyPort}/`), JSON.stringify(env));
    t = await startTestApp(
      {
        name: 'postgres',
        skip: undefined,
        createDatabase: async () => ({ url: env['DATABASE_URL'], drop: async () => {} }),
      },
      { DATABASE_FAILOVER_URLS: env['DATABASE_FAILOVER_URLS']! },
    );
  });
  after(async () => {
    worker?.child.kill('SIGKILL');
    await t?.close().catch(() => {});
    await stopStack({ dir, remove: true }, quiet).catch(() => {});
    rmSync(parent, { recursive: true, force: true });
  });

  type Worker = { child: ChildProcess; output: string[]; exited: Promise<number | null> };

  /** `npm run worker` as an operator starts it: the documented environment and nothing else. */
  function startWorker(): Worker {
    const child = spawn(process.execPath, ['src/apps/worker.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        DATABASE_URL: env['DATABASE_URL']!,
        DATABASE_FAILOVER_URLS: env['DATABASE_FAILOVER_URLS']!,
        DATA_DIR: dataDir,
        MAIL_TRANSPORT: 'file',
        JOBS_POLL_INTERVAL: '500ms',
        // A job the worker had taken when the primary died stays active until its lease ends,
        // then runs again (at least once): a short lease keeps the test's wait short.
        JOBS_LEASE: '8s',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout!.on('data', (b: Buffer) => output.push(b.toString()));
    child.stderr!.on('data', (b: Buffer) => output.push(b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return { child, output, exited };
  }

  async function untilStarted(w: Worker): Promise<void> {
    const end = Date.now() + 60_000;
    while (!w.output.join('').includes('worker started')) {
      if (w.child.exitCode !== null || Date.now() > end)
        throw new Error(`the worker did not start:\n${w.output.join('').slice(-4000)}`);
      await sleep(100);
    }
  }

  async function onStandby<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
    const c = new pg.Client({ host: '127.0.0.1', port: standbyPort, user: 'postgres', database: 'bazaar' });
    await c.connect();
    try {
      return (await c.query<T>(text, values)).rows;
    } finally {
      await c.end();
    }
  }

  async function signUp(role: 'buyer' | 'seller'): Promise<Buyer> {
    const email = `${role}-${uuidv7()}@failover.test`;
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      payload: { email, password: PASSWORD, name: `A ${role}`, role },
    });
    assert.equal(res.statusCode, 201, res.body);
    return { cookie: sessionCookie(res), email };
  }

  /** Confirmation emails written so far, counted by order id. */
  function confirmations(): Map<string, number> {
    const counts = new Map<string, number>();
    const mailDir = join(dataDir, 'mail');
    if (!existsSync(mailDir)) return counts;
    for (const name of readdirSync(mailDir).filter((n) => n.endsWith('.eml'))) {
      const m = /^Subject: Your Bazaar order ([0-9a-f-]{36})\r?$/m.exec(
        readFileSync(join(mailDir, name), 'utf8'),
      );
      if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
    }
    return counts;
  }

  async function untilEmailed(orderIds: readonly string[], what: string, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (orderIds.some((id) => !confirmations().has(id))) {
      if (Date.now() > end) {
        const missing = orderIds.filter((id) => !confirmations().has(id));
        throw new Error(
          `${missing.length} order(s) ${what} got no email: ${missing.join(', ')}\nworker:\n${worker?.output.join('').slice(-4000)}`,
        );
      }
      await sleep(200);
    }
  }

  /** Places one order, retrying its key after a 503 as a client would; the order id, or undefined. */
  async function checkout(buyer: Buyer, patienceMs = 45_000): Promise<string | undefined> {
    const key = uuidv7();
    const giveUp = Date.now() + patienceMs;
    for (;;) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { cookie: buyer.cookie, 'idempotency-key': key },
      });
      if (res.statusCode === 201 || res.statusCode === 200) return (res.json() as { id: string }).id;
      assert.ok([503, 409].includes(res.statusCode), `unexpected ${res.statusCode}: ${res.body}`);
      if (Date.now() > giveUp) return undefined;
      await sleep(200);
    }
  }

  it('when the primary dies mid-stream and the standby is promoted, then every order gets its email exactly once and a restarted worker works', async () => {
    const seller = await signUp('seller');
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: { cookie: seller.cookie },
      payload: {
        categoryId: KITCHEN,
        title: 'Failover jug',
        priceMinor: 1800,
        stock: 1000,
        status: 'published',
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const product = created.json() as Product;
    const buyers: Buyer[] = [];
    for (let i = 0; i < PER_PHASE * 3 + 1; i++) {
      const b = await signUp('buyer');
      const res = await t.app.inject({
        method: 'PUT',
        url: `/api/cart/items/${product.id}`,
        headers: { cookie: b.cookie },
        payload: { quantity: 1 },
      });
      assert.equal(res.statusCode, 200, res.body);
      buyers.push(b);
    }

    worker = startWorker();
    await untilStarted(worker);

    // Before: the worker delivers.
    const before: string[] = [];
    for (const b of buyers.slice(0, PER_PHASE)) before.push((await checkout(b))!);
    await untilEmailed(before, 'placed before the failover');

    // During: checkouts in flight while the primary is killed and the standby promoted.
    const during = Promise.all(
      buyers.slice(PER_PHASE, 2 * PER_PHASE).map(async (b, i) => {
        await sleep(i * 150);
        return checkout(b);
      }),
    );
    await sleep(300);
    await stopStack({ dir, node: 'primary', mode: 'immediate' }, quiet);
    await promote(dir, 'standby', quiet, { repoint: false });
    const duringIds = (await during).filter((id): id is string => id !== undefined);

    // After.
    const afterIds: string[] = [];
    for (const b of buyers.slice(2 * PER_PHASE, 3 * PER_PHASE)) afterIds.push((await checkout(b))!);
    assert.equal(afterIds.filter(Boolean).length, PER_PHASE, 'every checkout after the promotion succeeds');

    // Every order on the new primary (acknowledged or not) is emailed exactly once.
    const orders = (await onStandby<{ id: string }>('select id from orders.orders')).map((r) => r.id);
    for (const id of [...before, ...duringIds, ...afterIds])
      assert.ok(orders.includes(id), `order ${id} kept`);
    await untilEmailed(orders, 'on the new primary');
    assert.equal(worker.child.exitCode, null, `the worker died:\n${worker.output.join('').slice(-4000)}`);

    // Nothing left behind: the outboxes relayed, every job of the consumers done.
    const end = Date.now() + 45_000;
    for (;;) {
      const [left] = await onStandby<{ outbox: number; jobs: number }>(
        `select (select count(*)::int from orders.outbox where published_at is null)
                + (select count(*)::int from users.outbox where published_at is null) as outbox,
                (select count(*)::int from pgboss.job
                  where state::text in ('created', 'retry', 'active', 'failed') and name not like '__pgboss%') as jobs`,
      );
      if (left!.outbox === 0 && left!.jobs === 0) break;
      if (Date.now() > end) throw new Error(`left behind after the failover: ${JSON.stringify(left)}`);
      await sleep(250);
    }

    const errorLines = worker.output
      .join('')
      .split('\n')
      .filter((l) => l.includes('"level":50')).length;

    // A worker started again with the same environment (its first host now dead) works.
    worker.child.kill('SIGKILL');
    await worker.exited;
    worker = startWorker();
    await untilStarted(worker);
    const last = await checkout(buyers.at(-1)!);
    assert.ok(last, 'a checkout after the restart succeeds');
    await untilEmailed([last], 'placed after the worker restarted');

    const counts = confirmations();
    const repeated = [...counts].filter(([, n]) => n !== 1);
    assert.deepEqual(repeated, [], 'no order was emailed twice');
    assert.equal(
      counts.size,
      orders.length + 1,
      'one confirmation per order, and none for orders that do not exist',
    );
    console.log(
      `failover-worker: ${orders.length + 1} orders (${before.length} before, ${duringIds.length} acknowledged during, ` +
        `${afterIds.length} after, 1 after the restart), each emailed once; ${errorLines} error log lines from the worker across the failover`,
    );
  });
});
