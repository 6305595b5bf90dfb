/**
 * The `bazaar` command as a user runs it: a child process (`node src/apps/cli.ts …`) on a real
 * database (PGlite in a temporary DATA_DIR; PostgreSQL when DATABASE_URL is set), checked through
 * the API and the database afterwards.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pino from 'pino';
import { MODULES } from '../src/apps/modules.ts';
import { DEMO_PASSWORD } from '../src/apps/seed-data.ts';
import { loadConfig } from '../src/config/config.ts';
import { buildApp } from '../src/http/app.ts';
import { createPlatform } from '../src/platform/platform.ts';
import { BACKENDS } from './support/engines.ts';
import { sessionCookie } from './support/test-app.ts';

const CLI = fileURLToPath(new URL('../src/apps/cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

type Run = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

/** Runs the CLI with only the given settings in its environment (none inherited from this process). */
function bazaar(
  args: readonly string[],
  env: Record<string, string> = {},
  options: {
    input?: string;
    /** Sends `signal` `afterMs` after `when` first holds for the stderr so far. */
    kill?: { signal: NodeJS.Signals; when: (stderr: string) => boolean; afterMs: number };
  } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', LOG_LEVEL: 'warn', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      const kill = options.kill;
      if (!killed && kill?.when(stderr)) {
        killed = true;
        setTimeout(() => child.kill(kill.signal), kill.afterMs);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

describe('bazaar help and usage errors', () => {
  for (const args of [
    ['--help'],
    ['-h'],
    ['help', 'seed'],
    ['seed', '--help'],
    ['seed', '-h'],
    ['migrate', '--help'],
    ['jobs', '--help'],
    ['jobs', 'list', '--help'],
    ['stack', '--help'],
    ['stack', 'db', '--help'],
    ['users', '--help'],
    ['users', 'create-admin', '-h'],
  ]) {
    it(`when run as "bazaar ${args.join(' ')}", then it prints usage and exits 0`, async () => {
      const run = await bazaar(args);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /usage: bazaar/);
      assert.equal(run.stderr, '');
    });
  }

  it('when asked for help, then every command is listed', async () => {
    const run = await bazaar(['--help']);
    for (const command of ['seed', 'migrate', 'jobs', 'stack', 'users']) {
      assert.match(run.stdout, new RegExp(`^  ${command}\\s`, 'm'));
    }
  });

  it('when run with no command, then it prints the help on stderr and exits 2', async () => {
    const run = await bazaar([]);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^usage: bazaar <command>/);
    assert.match(run.stderr, /^ {2}seed\s/m);
  });

  for (const [args, message] of [
    [['frobnicate'], /unknown command "frobnicate"; the commands are .*seed/],
    [['seed', '--products', '-5'], /--products must be a whole number from 0 to 10000000, not "-5"/],
    [['seed', '--products', '--photos'], /^bazaar seed: --products needs a value after it\n/],
    [['seed', '--orders'], /^bazaar seed: --orders needs a value after it\n/],
    [['jobs', 'list', '--limit', '-1'], /--limit must be a whole number from 1 to 10000, not "-1"/],
    [
      ['seed', '--bogus'],
      /bazaar seed: unknown option --bogus\nusage: bazaar seed .*\nRun "bazaar seed --help"/,
    ],
    [['seed', '--orders', 'many'], /--orders must be a whole number from 0 to 10000000, not "many"/],
    [['seed', '--batch-size', '0'], /--batch-size must be at least 1/],
    [['migrate', 'now'], /bazaar migrate: unexpected argument 'now'/],
    [['jobs', 'explode'], /unknown jobs command "explode"/],
    [['users'], /say what to do: create-admin/],
    [
      ['users', 'create-admin', '--email', 'not-an-email'],
      /--email must be an email address, not "not-an-email"/,
    ],
    [
      ['users', 'create-admin', '--email', 'a@b.test', '--password', 'hunter2hunter2'],
      /not taken from the command line/,
    ],
  ] as const) {
    it(`when run as "bazaar ${args.join(' ')}", then it says what is wrong in one line and exits 2`, async () => {
      const run = await bazaar(args);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.ok(run.stderr.split('\n')[0]!.length < 200, 'one short first line');
      assert.match(run.stderr, /--help/, 'a hint where to read more');
    });
  }

  it('when the database cannot be reached, then it says so in one sentence and exits 1', async () => {
    const run = await bazaar(['seed', '--products', '1'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:9/nothing',
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^bazaar seed: cannot reach the database .*check DATABASE_URL/m);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  });
});

for (const backend of BACKENDS) {
  describe(`bazaar seed and users on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Record<string, string>;
    let dataDir: string;
    let drop: () => Promise<void>;
    const seedArgs = ['seed', '--products', '300', '--sellers', '5', '--buyers', '20'];

    /** Opens the app on the seeded database (after the CLI has exited: PGlite allows one process). */
    async function withApp<T>(
      fn: (ctx: {
        inject: Awaited<ReturnType<typeof buildApp>>['app']['inject'];
        q: <R>(query: ReturnType<typeof sql>) => Promise<R[]>;
      }) => Promise<T>,
    ): Promise<T> {
      const config = loadConfig({ ...env, SEED: 'false', LOG_LEVEL: 'silent', RUN_WORKER_IN_WEB: 'false' });
      const platform = await createPlatform(config, { processName: 'test' });
      const { app } = await buildApp({
        config,
        platform,
        modules: MODULES,
        logger: pino({ level: 'silent' }),
      });
      await app.ready();
      try {
        return await fn({
          inject: app.inject.bind(app),
          q: async (query) => (await query.execute(platform.sql.for('platform').write)).rows as never,
        });
      } finally {
        await app.close();
        await platform.close();
      }
    }

    const counts = () =>
      withApp(async ({ q }) => {
        const [row] = await q<{ products: number; orders: number; negative: number }>(
          sql`select (select count(*)::int from catalog.products) as products,
                     (select count(*)::int from orders.orders) as orders,
                     (select count(*)::int from catalog.products where stock < 0) as negative`,
        );
        return {
          products: Number(row!.products),
          orders: Number(row!.orders),
          negative: Number(row!.negative),
        };
      });

    const stock = () =>
      withApp(async ({ q }) => {
        const rows = await q<{ id: string; stock: number; ordered: number }>(
          sql`select p.id, p.stock, coalesce((select sum(l.quantity) from orders.order_lines l
                join orders.orders o on o.buyer_id = l.buyer_id and o.id = l.order_id
                where l.product_id = p.id and o.status <> 'cancelled'), 0)::int as ordered
              from catalog.products p`,
        );
        return new Map(rows.map((r) => [r.id, { stock: Number(r.stock), ordered: Number(r.ordered) }]));
      });

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'bazaar-cli-'));
      const db = await backend.createDatabase();
      drop = db.drop;
      env = db.url
        ? {
            DATABASE_URL: db.url,
            MIGRATE_ON_START: 'true',
            ...(db.replicaUrls ? { DATABASE_REPLICA_URLS: db.replicaUrls } : {}),
          }
        : { DATA_DIR: dataDir };
    });
    after(async () => {
      await drop?.();
      await rm(dataDir, { recursive: true, force: true });
    });

    let initial: Map<string, { stock: number; ordered: number }>;

    it('when seeded with products only, then the catalog has exactly that many and no orders', async () => {
      const run = await bazaar([...seedArgs, '--orders', '0'], env);
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stdout,
        /300 products added \(300 in the catalog\); 0 orders added \(0 by the demo buyers\)/,
      );
      assert.match(run.stdout, /rates: accounts \d+ rows\/s .*products \d+ rows\/s/);
      assert.match(run.stderr, /products \[#+\] 300\/300 rows 100% · \d+ rows\/s/);
      assert.deepEqual(await counts(), { products: 300, orders: 0, negative: 0 });
      initial = await stock();
    });

    it('when seeded with 100 orders, then exactly 100 exist, with a progress bar and rate', async () => {
      const run = await bazaar([...seedArgs, '--orders', '100'], env);
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stdout,
        /0 products added \(300 in the catalog\); 100 orders added \(100 by the demo buyers\)/,
      );
      assert.match(run.stderr, /orders {3}\[#+\] 100\/100 rows 100% · \d+ rows\/s/);
      assert.deepEqual(await counts(), { products: 300, orders: 100, negative: 0 });
    });

    it('when a run to 200 orders gets Ctrl-C, then it stops after the batches in flight and says how to finish', async () => {
      const stopped = await bazaar([...seedArgs, '--orders', '200', '--batch-size', '5'], env, {
        kill: { signal: 'SIGINT', when: (stderr) => /orders {3}\[/.test(stderr), afterMs: 150 },
      });
      assert.equal(stopped.code, 130, stopped.stderr);
      assert.match(stopped.stderr, /stopping after the batch in flight/);
      assert.match(stopped.stderr, /^bazaar seed: interrupted; run the same command again to finish/m);
      const { orders } = await counts();
      assert.ok(orders >= 100 && orders < 200, `${orders} orders after Ctrl-C`);
    });

    it('when a run to 200 orders is killed midway, then the next run reaches exactly 200 and a rerun adds none', async () => {
      const killed = await bazaar([...seedArgs, '--orders', '200', '--batch-size', '5'], env, {
        kill: { signal: 'SIGKILL', when: (stderr) => /orders {3}\[/.test(stderr), afterMs: 150 },
      });
      const between = await counts();
      assert.ok(
        killed.signal === 'SIGKILL' || between.orders === 200,
        `killed (${killed.signal}) or finished first (${between.orders} orders)`,
      );
      assert.ok(between.orders >= 100 && between.orders <= 200, `${between.orders} orders after the kill`);

      const resumed = await bazaar([...seedArgs, '--orders', '200', '--batch-size', '5'], env);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(
        resumed.stdout,
        new RegExp(`${200 - between.orders} orders added \\(200 by the demo buyers\\)`),
      );
      const rerun = await bazaar([...seedArgs, '--orders', '200'], env);
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.match(
        rerun.stdout,
        /0 products added \(300 in the catalog\); 0 orders added \(200 by the demo buyers\)/,
      );
      assert.deepEqual(await counts(), { products: 300, orders: 200, negative: 0 });
    });

    it('when orders are seeded, then each product has its initial stock less the units of orders not cancelled', async () => {
      const now = await stock();
      assert.equal(now.size, 300);
      let sold = 0;
      for (const [id, { stock: left, ordered }] of now) {
        assert.equal(left, initial.get(id)!.stock - ordered, `stock of ${id}`);
        sold += ordered;
      }
      assert.ok(sold > 100, `${sold} units sold`);
    });

    it('when a seeded buyer signs in, then GET /api/orders shows their orders', async () => {
      await withApp(async ({ inject, q }) => {
        const [busiest] = await q<{ email: string; n: number }>(
          sql`select u.email, count(*)::int as n from orders.orders o join users.users u on u.id = o.buyer_id
              group by u.email order by n desc, u.email limit 1`,
        );
        const login = await inject({
          method: 'POST',
          url: '/api/auth/login',
          payload: { email: busiest!.email, password: DEMO_PASSWORD },
        });
        assert.equal(login.statusCode, 200, login.body);
        const res = await inject({ url: '/api/orders?limit=100', headers: { cookie: sessionCookie(login) } });
        assert.equal(res.statusCode, 200);
        assert.equal(res.json().items.length, Number(busiest!.n));
      });
    });

    it('when an admin is created with --password-stdin, then they can sign in as an admin', async () => {
      const run = await bazaar(
        ['users', 'create-admin', '--email', 'Boss@Example.test', '--name', 'The Boss', '--password-stdin'],
        env,
        { input: 'correct-horse-battery\n' },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /created admin boss@example\.test \(The Boss\)/);
      const again = await bazaar(['users', 'create-admin', '--email', 'boss@example.test'], env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /already an admin; nothing changed/);
      await withApp(async ({ inject }) => {
        const login = await inject({
          method: 'POST',
          url: '/api/auth/login',
          payload: { email: 'boss@example.test', password: 'correct-horse-battery' },
        });
        assert.equal(login.statusCode, 200, login.body);
        assert.equal(login.json().user.role, 'admin');
      });
    });

    it('when an existing buyer is made admin, then they sign in with their own password as an admin', async () => {
      const run = await bazaar(['users', 'create-admin', '--email', 'buyer3@bazaar.test'], env);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /promoted buyer3@bazaar\.test from buyer to admin; the password is unchanged/);
      await withApp(async ({ inject }) => {
        const login = await inject({
          method: 'POST',
          url: '/api/auth/login',
          payload: { email: 'buyer3@bazaar.test', password: DEMO_PASSWORD },
        });
        assert.equal(login.statusCode, 200, login.body);
        assert.equal(login.json().user.role, 'admin');
      });
    });

    it('when the password is too short or there is no terminal to ask, then nothing is created and it says why', async () => {
      const short = await bazaar(
        ['users', 'create-admin', '--email', 'new@example.test', '--password-stdin'],
        env,
        {
          input: 'short\n',
        },
      );
      assert.equal(short.code, 1, short.stderr);
      assert.match(
        short.stderr,
        /^bazaar users: the password must be 10 to 128 characters \(it has 5\); nothing was created$/m,
      );
      const noTty = await bazaar(['users', 'create-admin', '--email', 'new@example.test'], env);
      assert.equal(noTty.code, 2, noTty.stderr);
      assert.match(noTty.stderr, /standard input is not a terminal.*--password-stdin/);
      const found = await withApp(({ q }) =>
        q(sql`select 1 from users.users where email = 'new@example.test'`),
      );
      assert.equal(found.length, 0);
    });
  });
}
