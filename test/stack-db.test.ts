/**
 * `bazaar stack db` against the machine's PostgreSQL binaries: it builds a primary, two replicas
 * and a synchronous standby, reports roles and lag, refuses another topology in the same folder,
 * promotes the standby (the replicas follow it), and stop leaves no process behind.
 * Skips when the PostgreSQL server programs are absent (CI has them: BAZAAR_REQUIRE_ENGINES=1).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  createStack,
  pidOf,
  promote,
  readManifest,
  type StackManifest,
  stackStatus,
  stopStack,
} from '../ops/stack/stack-db.ts';

const pgSkip: string | undefined = existsSync('/usr/lib/postgresql/15/bin/initdb')
  ? undefined
  : 'PostgreSQL server programs are absent (apt-get install postgresql-15)';
if (pgSkip && process.env['BAZAAR_REQUIRE_ENGINES'] === '1')
  throw new Error(`BAZAAR_REQUIRE_ENGINES=1 but ${pgSkip}`);

const run = promisify(execFile);
const quiet = () => {};

describe('bazaar stack db', { skip: pgSkip }, () => {
  const parent = mkdtempSync(join(tmpdir(), 'bazaar-stack-test-'));
  chmodSync(parent, 0o755); // the postgres user must reach DIR
  const dir = join(parent, 'stack');
  // Below the ephemeral port range (32768-60999), so no outgoing socket can hold these ports.
  const basePort = 27100 + 10 * Math.floor(Math.random() * 40);
  let manifest: StackManifest;

  before(async () => {
    manifest = await createStack(
      { replicas: 2, standby: true, delayMs: 0, dir, basePort, fast: true },
      quiet,
    );
  });
  after(async () => {
    await stopStack({ dir, remove: true }, quiet).catch(() => {});
    rmSync(parent, { recursive: true, force: true });
  });

  async function query<T extends pg.QueryResultRow>(port: number, text: string): Promise<T[]> {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'bazaar' });
    await c.connect();
    try {
      return (await c.query<T>(text)).rows;
    } finally {
      await c.end();
    }
  }

  async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('when built, then status shows a primary, two replicas and a standby streaming with lag known', async () => {
    await until(async () => (await stackStatus(dir)).every((s) => s.lagBytes !== null));
    const states = await stackStatus(dir);
    assert.deepEqual(
      states.map((s) => [s.name, s.role, s.port]),
      [
        ['primary', 'primary', basePort],
        ['replica1', 'replica', basePort + 1],
        ['replica2', 'replica', basePort + 2],
        ['standby', 'standby', basePort + 3],
      ],
    );
    for (const s of states) {
      assert.ok(s.pid !== null && s.pid > 0, `${s.name} has a pid`);
      assert.equal(typeof s.lagBytes, 'number', `${s.name} lag is known`);
    }
    const sync = await query<{ application_name: string; sync_state: string }>(
      basePort,
      'select application_name, sync_state from pg_stat_replication order by 1',
    );
    assert.deepEqual(
      sync.map((r) => [r.application_name, r.sync_state]),
      [
        ['replica1', 'async'],
        ['replica2', 'async'],
        ['standby', 'sync'],
      ],
    );
  });

  it('when status runs through the CLI with --json, then it prints the same roles', async () => {
    const { stdout } = await run(process.execPath, [
      'src/apps/cli.ts',
      'stack',
      'db',
      'status',
      '--json',
      '--dir',
      dir,
    ]);
    const states = JSON.parse(stdout) as { name: string; role: string }[];
    assert.deepEqual(
      states.map((s) => s.role),
      ['primary', 'replica', 'replica', 'standby'],
    );
  });

  it('when asked again for the same topology, then it reuses it; for another one, then it refuses', async () => {
    const again = await createStack(
      { replicas: 2, standby: true, delayMs: 0, dir, basePort, fast: true },
      quiet,
    );
    assert.deepEqual(again, manifest);
    await assert.rejects(
      createStack({ replicas: 1, standby: false, delayMs: 0, dir, basePort, fast: true }, quiet),
      /already holds another topology/,
    );
  });

  it('when the primary stops and the standby is promoted, then it takes writes and the replicas follow it', async () => {
    await query(basePort, 'create table t (v int)');
    await stopStack({ dir, node: 'primary' }, quiet);
    const next = await promote(dir, undefined, quiet);
    assert.equal(next.primary, 'standby');
    const standbyPort = basePort + 3;
    await query(standbyPort, 'insert into t values (42)');
    for (const port of [basePort + 1, basePort + 2]) {
      await until(
        async () => (await query<{ n: number }>(port, 'select count(*)::int as n from t'))[0]!.n === 1,
      );
    }
    const states = await stackStatus(dir);
    assert.equal(states.find((s) => s.name === 'standby')!.role, 'primary');
    assert.equal(states.find((s) => s.name === 'primary')!.role, 'stopped');
  });

  it('when stopped, then no process of the stack remains', async () => {
    const nodes = readManifest(dir)!.nodes;
    await stopStack({ dir }, quiet);
    for (const node of nodes) assert.equal(pidOf(node), undefined, `${node.name} stopped`);
  });
});

describe('bazaar stack help', () => {
  const bazaar = fileURLToPath(new URL('../bin/bazaar.js', import.meta.url));
  /** The usage text, without the command's one-line summary that follows it. */
  const help = async (...args: string[]) =>
    (await run(process.execPath, [bazaar, 'stack', ...args])).stdout.trimEnd().replace(/\n\n[^\n]*$/, '');

  it('when asked for help on db, then it describes db alone; on up, the fleet alone; on stack, both', async () => {
    const db = await help('db', '--help');
    assert.match(db, /^usage: bazaar stack db --replicas N/);
    assert.match(db, /--immediate/);
    assert.doesNotMatch(db, /stack up|HAProxy/);
    const fleet = await help('up', '--help');
    assert.match(fleet, /^usage: bazaar stack up --web N/);
    assert.doesNotMatch(fleet, /stack db promote|--pgbouncer/);
    const both = await help('--help');
    assert.match(both, /stack up --web N/);
    assert.match(both, /stack db promote/);
  });
});
