/**
 * npm run bench:startup — how long a process takes from spawn to its first `GET /readyz` 200, and
 * its resident memory once idle, in one run, on one machine:
 *   bare Fastify + pg       bench/baseline-server.ts `ready`: one route asking PostgreSQL `select 1`
 *   web on PostgreSQL       `npm start` (bin/web.js) with DATABASE_URL (migrations current, SEED=false)
 *   web embedded            `npm start` on PGlite with an existing data directory
 * Both web sides run with SERVE_WEB=false (no SPA build check) and LOG_LEVEL=warn, and share a
 * compile cache made for the run (NODE_COMPILE_CACHE): one unmeasured start of each fills it, as
 * the first start after an install does; its time is printed and kept in the result. Rounds start the
 * sides one after another, in an order that rotates every round; the web sides' ratios to the bare
 * process are taken within each round and reported as median (min–max). Idle RSS is read from
 * /proc 2 s after readiness.
 *
 * Settings: DATABASE_URL (admin URL of a PostgreSQL server; default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_ROUNDS (default 7). The database and the data directory are made for the run and removed at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRunDatabase,
  freePort,
  machine,
  memoryMb,
  ROOT,
  runNode,
  spread,
  table,
  writeResult,
} from './support.ts';

const adminUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
/** How long after readiness the idle RSS is read. */
const IDLE_MS = 2000;

type Side = { name: string; does: string; args: string[]; env: Record<string, string> };
type Start = { readyMs: number; idleRssMb: number; load1: number };

/** Spawns `node <args>`, polls /readyz until 200, reads the idle RSS, stops it. */
async function start(side: Side): Promise<Start> {
  const port = await freePort();
  const began = performance.now();
  const child = spawn(process.execPath, side.args, {
    cwd: ROOT,
    env: { ...process.env, ...side.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${side.name} exited with ${child.exitCode}:\n${stderr}`);
      if (performance.now() - began > 120_000)
        throw new Error(`${side.name} not ready after 120 s:\n${stderr}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
      } catch {}
      await new Promise((r) => setTimeout(r, 10));
    }
    const readyMs = performance.now() - began;
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return { readyMs, idleRssMb: memoryMb(child.pid!).rss, load1: loadavg()[0]! };
  } finally {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
  }
}

console.log(`bench:startup on ${machine()}; ${ROUNDS} rounds`);
const database = await createRunDatabase(adminUrl, 'startup');
const url = new URL(database.url);
const dir = await mkdtemp(join(tmpdir(), 'bazaar-bench-startup-'));
const compileCache = await mkdtemp(join(tmpdir(), 'bazaar-bench-compile-cache-'));
try {
  // Empty values unset what this process was given (a DATABASE_URL, a REDIS_URL): each side gets only its own.
  const quiet = { LOG_LEVEL: 'warn', DATABASE_URL: '', REDIS_URL: '' };
  console.log('migrating the PostgreSQL database and seeding the embedded one (200 products)…');
  await runNode(['bin/bazaar.js', 'migrate'], { ...quiet, DATABASE_URL: url.toString() });
  await runNode(['bin/bazaar.js', 'seed', '--products', '200', '--sellers', '5', '--buyers', '5'], {
    ...quiet,
    DATA_DIR: dir,
  });
  const web = { ...quiet, SEED: 'false', SERVE_WEB: 'false', NODE_COMPILE_CACHE: compileCache };
  const sides: Side[] = [
    {
      name: 'bare Fastify + pg',
      does: 'Fastify, a pg pool, /readyz runs select 1',
      args: ['bench/baseline-server.ts', 'ready', url.toString()],
      env: {},
    },
    {
      name: 'web on PostgreSQL',
      does: 'npm start with DATABASE_URL: config, platform, migrations check, modules, routes',
      args: ['bin/web.js'],
      env: { ...web, DATABASE_URL: url.toString() },
    },
    {
      name: 'web embedded (PGlite)',
      does: 'npm start on an existing data directory: PGlite opens it, then as above, the worker in-process',
      args: ['bin/web.js'],
      env: { ...web, DATA_DIR: dir },
    },
  ];
  const firstStarts = new Map<Side, Start>();
  for (const side of sides.slice(1)) {
    firstStarts.set(side, await start(side));
    console.log(
      `first start, empty compile cache: ${side.name} ${Math.round(firstStarts.get(side)!.readyMs)} ms`,
    );
  }
  const starts = new Map<Side, Start[]>(sides.map((s) => [s, []]));
  const ratios = new Map<Side, number[]>(sides.map((s) => [s, []]));
  const rssRatios = new Map<Side, number[]>(sides.map((s) => [s, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    const shift = round % sides.length;
    const order = [...sides.slice(shift), ...sides.slice(0, shift)];
    const thisRound = new Map<Side, Start>();
    for (const side of order) {
      const s = await start(side);
      thisRound.set(side, s);
      starts.get(side)!.push(s);
    }
    const bare = thisRound.get(sides[0]!)!;
    for (const side of sides) {
      ratios.get(side)!.push(thisRound.get(side)!.readyMs / bare.readyMs);
      rssRatios.get(side)!.push(thisRound.get(side)!.idleRssMb / bare.idleRssMb);
    }
    console.log(
      `round ${round}/${ROUNDS}: ${sides.map((s) => `${s.name} ${Math.round(thisRound.get(s)!.readyMs)} ms`).join(', ')} (load ${loadavg()[0]!.toFixed(2)})`,
    );
  }
  const headers = [
    'process',
    'what it does',
    'spawn → /readyz 200, ms',
    'vs bare (per round)',
    'idle RSS MB',
    'RSS vs bare',
    'load avg',
  ];
  const rows = sides.map((side) => {
    const ss = starts.get(side)!;
    const isBare = side === sides[0];
    return [
      side.name,
      side.does,
      spread(
        ss.map((s) => s.readyMs),
        0,
      ),
      isBare ? '1.00' : spread(ratios.get(side)!),
      spread(
        ss.map((s) => s.idleRssMb),
        0,
      ),
      isBare ? '1.00' : spread(rssRatios.get(side)!),
      `${Math.min(...ss.map((s) => s.load1)).toFixed(1)}–${Math.max(...ss.map((s) => s.load1)).toFixed(1)}`,
    ];
  });
  console.log(`\n${table(headers, rows)}`);
  console.log('\nmedian (min–max) over the rounds; ratios are taken within each round.');
  const file = await writeResult('startup', {
    machine: machine(),
    rounds: ROUNDS,
    idleMs: IDLE_MS,
    sides: sides.map((side) => ({
      name: side.name,
      does: side.does,
      firstStart: firstStarts.get(side),
      starts: starts.get(side),
      ratios: ratios.get(side),
      rssRatios: rssRatios.get(side),
    })),
  });
  console.log(`\nwritten ${file}`);
} finally {
  await database.drop();
  await rm(dir, { recursive: true, force: true });
  await rm(compileCache, { recursive: true, force: true });
}
