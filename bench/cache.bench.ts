/**
 * npm run bench:cache — the catalog cache on the fleet of `bazaar stack up` (2 web instances,
 * 1 worker, PostgreSQL without replicas, its own Redis, HAProxy), cache off versus cache on, in one
 * run, all through HAProxy:
 *
 *   mix: 80% product detail (Zipf s=1.1 popularity over every product), 15% first page of a
 *        category listing, 5% first page of a search; 32 connections
 *   1. cache off (CACHE=none on both web instances)
 *   2. cache on (memory + Redis), after a 5 s unmeasured warm-up: the cache starts empty
 *   3. cache on, after one request for every product on each web instance's own port (each one's
 *      memory tier, sized for it, holds the whole catalog, as it would after running a while),
 *      then the same 5 s warm-up
 *   4. product detail alone, cache on, web instances restarted as production runs them (no
 *      counter headers) and warmed as in 3: each web instance on its own port (the two counted
 *      together, each alone in its slices: processes of the same code differ in speed) and a bare
 *      Fastify JSON route (bench/baseline-server.ts), all without HAProxy, so their ratio is like for
 *      like: after one warm-up each, BENCH_PAIRS (default 5) pairs of BENCH_SECONDS per side, each side's time
 *      cut into 5 slices interleaved with the others' (the order rotates every slice), the median
 *      pair reported; and through HAProxy for information. A third side in every slice, for
 *      information: a bare Fastify route that looks each product id up among every product's JSON
 *      (made once, in a Map): what holding a catalog and sending each product's own body costs
 *      without anything else the app does per request. Every side gets the same paths (`/…/<product id>`, Zipf)
 *      from wrk (installed with apt when missing; else autocannon, said at the start): phases 1–3
 *      read every response's counters, which needs autocannon in this process, and on two cores
 *      that generator, not the servers, would set phase 4's rates (the bare route's most)
 *
 * Per phase: req/s, p50/p99, errors and non-2xx, Redis reads (GETs) per response, and in phases
 * 1–3 from the counters every response carries (EXPOSE_COUNTERS=true): the cache hit ratio and
 * database queries per request; also the CPU time of the serving processes per response
 * (/proc), which holds when the machine is shared and req/s do not (the ratio of bare to app CPU
 * per request is the req/s ratio both would reach on cores of their own). Web instances run
 * with LOG_LEVEL=warn (no request log, as the baseline); settings reach them through the fleet's
 * DIR/web.env and `bazaar stack restart webN`. The fleet lives in a temporary folder on base port
 * 31000–31800 and is torn down at the end, on error and on Ctrl-C.
 *
 * Settings: BENCH_PRODUCTS (default 100000), BENCH_SECONDS per measured run (default 20),
 * BENCH_CONNECTIONS (default 32), BENCH_PAIRS (default 5), BENCH_PHASES (default 1,2,3,4; phase
 * 4 always: it restarts the web instances without counter headers and makes its own pass over
 * every product on each, so it measures processes that served nothing else),
 * BENCH_CPU_PROFILE=DIR (the web instances write V8 CPU profiles, `--cpu-prof`, into DIR from
 * the cache-on restart to teardown; profiling slows them, so read such a run's profiles, not its
 * figures).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { readManifest, stackEnvironment } from '../ops/stack/stack-db.ts';
import { fleetDown, fleetPorts, readFleet } from '../ops/stack/stack-fleet.ts';
import { prng } from '../src/apps/seed-data.ts';
import {
  chooseLoadGenerator,
  cpuUs,
  type LoadResult,
  load,
  machine,
  median,
  type ResponseCounters,
  responseCounters,
  runNode,
  spread,
  startNode,
  table,
  writeResult,
} from './support.ts';

const PRODUCTS = Number(process.env['BENCH_PRODUCTS'] ?? 100_000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 20);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const WARMUP_SECONDS = 5;
/** Paired runs of product detail against the bare route (phase 4). */
const PAIR_ROUNDS = Number(process.env['BENCH_PAIRS'] ?? 5);
/** Which phases run (phase 4 always): e.g. BENCH_PHASES=4. */
const PHASES = new Set((process.env['BENCH_PHASES'] ?? '1,2,3,4').split(',').map((x) => x.trim()));
if (!PHASES.has('4') || [...PHASES].some((p) => !['1', '2', '3', '4'].includes(p))) {
  console.error(
    `BENCH_PHASES must list phases 1–4 and include 4, e.g. BENCH_PHASES=1,2,3,4 or BENCH_PHASES=4; got "${process.env['BENCH_PHASES']}"`,
  );
  process.exit(2);
}
/** BENCH_CPU_PROFILE=DIR: web instances write V8 CPU profiles there (cache on, until teardown). */
const PROFILE_DIR = process.env['BENCH_CPU_PROFILE'] ? resolve(process.env['BENCH_CPU_PROFILE']) : undefined;
/** Interleaved slices per side in each pair. */
const PAIR_SLICES = 5;
let pairRatios: number[] = [];
let lookupRatios: number[] = [];
const ZIPF_S = 1.1;
/**
 * The memory tier sized to hold the whole catalog, with room for listings and searches (the
 * defaults, 100,000 entries and 64 MiB, would evict part of a 100,000-product catalog, and every
 * evicted page read would be a Redis read).
 */
const CACHE_SIZE = {
  CACHE_MEMORY_ITEMS: String(Math.max(100_000, Math.ceil(PRODUCTS * 1.5))),
  CACHE_MEMORY_MB: String(Math.max(64, Math.ceil(PRODUCTS / 1000) + 64)),
};
const MIX = { detail: 0.8, listing: 0.15, search: 0.05 } as const;

const step = (line: string) => console.log(`\n== ${line}`);
const log = (line: string) => console.log(`  ${line}`);
const load1 = () => loadavg()[0]!.toFixed(2);

const parent = mkdtempSync(join(tmpdir(), 'bazaar-bench-cache-'));
chmodSync(parent, 0o755);
const dir = join(parent, 'fleet');
const basePort = 31000 + 100 * Math.floor(Math.random() * 9);
const ports = fleetPorts(basePort);
const balancer = `http://127.0.0.1:${ports.haproxy}`;

let baseline: Awaited<ReturnType<typeof startNode>> | undefined;
let lookupBaseline: Awaited<ReturnType<typeof startNode>> | undefined;
/** The fleet's Redis, for its command counts. */
const redis = new Redis({ host: '127.0.0.1', port: ports.redis, lazyConnect: true, maxRetriesPerRequest: 1 });
let tornDown: Promise<void> | undefined;
function tearDown(): Promise<void> {
  tornDown ??= (async () => {
    step('tearing the fleet down');
    await baseline?.stop();
    await lookupBaseline?.stop();
    redis.disconnect();
    await fleetDown({ dir, remove: true }, log).catch((err: Error) =>
      console.error(`  stack down failed: ${err.message}; run: bazaar stack down --dir ${dir} --remove`),
    );
    rmSync(parent, { recursive: true, force: true });
  })();
  return tornDown;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping`);
    tearDown().finally(() => process.exit(130));
  });
}

/** Zipf(s) over ranks 0…n-1: the CDF once, then a binary search per draw. */
function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / (k + 1) ** s;
    cdf[k] = sum;
  }
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/**
 * One request for every product on each web instance's own port, so each one's memory tier holds
 * the whole catalog, as an instance's would after running a while (through HAProxy each would get
 * half, and the other half would be Redis reads).
 */
async function warmEveryInstance(ids: readonly string[]): Promise<void> {
  // Phase 4 measures both instances, whose entries must not near their 5-minute TTL while it does
  // (a pass over 100,000 products takes a minute or more per instance on a slow machine; phase 4
  // shows Redis reads per response, which such expiry would raise). web2 first, then web1.
  const webs = readFleet(dir)!.processes.filter((x) => x.role === 'web');
  for (const p of webs.reverse()) {
    let next = 0;
    const started = performance.now();
    const progress = setInterval(
      () =>
        log(
          `warming ${p.name}: ${next}/${ids.length} (${Math.round(next / ((performance.now() - started) / 1000))}/s)`,
        ),
      10_000,
    );
    const r = await autocannon({
      url: `http://127.0.0.1:${p.port}`,
      connections: CONNECTIONS,
      amount: ids.length,
      requests: [{ setupRequest: (req) => ({ ...req, path: `/api/products/${ids[next++ % ids.length]}` }) }],
    });
    clearInterval(progress);
    log(
      `${p.name} warmed in ${((performance.now() - started) / 1000).toFixed(0)}s (${r.non2xx + r.errors} failed requests)`,
    );
  }
}

/** Writes DIR/web.env and restarts each web instance with it (graceful, one at a time). */
async function webSettings(settings: Record<string, string>): Promise<void> {
  const lines = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  log(`web settings: ${lines.join(' ')}`);
  writeFileSync(join(dir, 'web.env'), `${lines.join('\n')}\n`);
  for (const p of readFleet(dir)!.processes.filter((x) => x.role === 'web')) {
    await runNode(['bin/bazaar.js', 'stack', 'restart', p.name, '--dir', dir], {});
  }
}

type Row = LoadResult & {
  phase: string;
  via: string;
  load1: string;
  counters?: ResponseCounters;
  /** CPU time (user + system) of the serving processes per response, in µs. */
  cpuUsPerRequest?: number;
  /** Reads of the cache's Redis tier (GET commands on the fleet's Redis) per response: memory-tier misses. */
  l2ReadsPerRequest?: number;
};

/** GET commands the fleet's Redis has run so far (INFO commandstats): the cache's L2 reads. */
async function redisGets(): Promise<number> {
  const info = String(await redis.info('commandstats'));
  return Number(/^cmdstat_get:calls=(\d+)/m.exec(info)?.[1] ?? 0);
}

const webPids = (...names: string[]) =>
  readFleet(dir)!
    .processes.filter((p) => names.includes(p.name))
    .map((p) => p.pid!);

type MeasureOptions = {
  /** Read every response's counters (autocannon); without, the run may use wrk. */
  counted?: boolean;
  seconds?: number;
  warmupSeconds?: number;
  /** No line per run (phase 4's slices are summed up per pair). */
  quiet?: boolean;
  /** Count the fleet's Redis GETs per response (the cache's L2 reads); default true. */
  l2?: boolean;
};

async function measure(
  phase: string,
  via: string,
  url: string,
  paths: () => string,
  /** The serving processes, whose CPU time per response is reported. */
  pids: readonly number[],
  {
    counted = true,
    seconds = SECONDS,
    warmupSeconds = WARMUP_SECONDS,
    quiet = false,
    l2 = true,
  }: MeasureOptions = {},
): Promise<Row> {
  if (!quiet) log(`${phase} via ${via}: ${warmupSeconds}s warm-up, then ${seconds}s measured…`);
  const counters = counted ? responseCounters() : undefined;
  const cpu = () => pids.reduce((sum, pid) => sum + cpuUs(pid), 0);
  let cpuAtStart = 0;
  let getsAtStart: Promise<number> | undefined;
  const r = await load(phase, url, paths, {
    seconds,
    connections: CONNECTIONS,
    warmupSeconds,
    onMeasuredRun: () => {
      cpuAtStart = cpu();
      if (l2) getsAtStart = redisGets();
    },
    ...(counters ? { setupClient: counters.setupClient } : {}),
  });
  const cpuUsPerRequest = (cpu() - cpuAtStart) / Math.max(1, r.responses);
  const l2Reads = getsAtStart ? (await redisGets()) - (await getsAtStart) : undefined;
  const row: Row = {
    ...r,
    phase,
    via,
    load1: load1(),
    ...(counters ? { counters } : {}),
    cpuUsPerRequest,
    ...(l2Reads === undefined ? {} : { l2ReadsPerRequest: l2Reads / Math.max(1, r.responses) }),
  };
  if (quiet) return row;
  log(
    `${Math.round(r.rps)} req/s (${r.generator}), p50 ${r.p50} ms, p99 ${r.p99} ms, hit ratio ${hitRatio(row)}, ` +
      `db queries/req ${queriesPerRequest(row)}, Redis reads/req ${row.l2ReadsPerRequest?.toFixed(3) ?? '-'}, server CPU ${Math.round(cpuUsPerRequest)} µs/req, ` +
      `errors ${r.errors}, non-2xx ${r.non2xx}, load ${row.load1}`,
  );
  return row;
}

/** Equal-length runs of one server as one: mean req/s, CPU per response over all, median latencies. */
function summed(runs: readonly Row[]): Row {
  const responses = runs.reduce((n, r) => n + r.responses, 0);
  return {
    ...runs[runs.length - 1]!,
    rps: runs.reduce((n, r) => n + r.rps, 0) / runs.length,
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    responses,
    cpuUsPerRequest: runs.reduce((n, r) => n + r.cpuUsPerRequest! * r.responses, 0) / Math.max(1, responses),
    ...(runs.every((r) => r.l2ReadsPerRequest !== undefined)
      ? {
          l2ReadsPerRequest:
            runs.reduce((n, r) => n + r.l2ReadsPerRequest! * r.responses, 0) / Math.max(1, responses),
        }
      : {}),
  };
}

const hitRatio = (r: Row) => {
  const c = r.counters;
  const lookups = c ? c.hits + c.misses + c.stale : 0;
  return c && lookups > 0 ? `${((100 * c.hits) / lookups).toFixed(1)}%` : '-';
};
const queriesPerRequest = (r: Row) =>
  r.counters && r.counters.counted > 0 ? (r.counters.dbQueries / r.counters.counted).toFixed(3) : '-';

try {
  console.log(
    `bench:cache on ${machine()}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `${PRODUCTS} products, ${SECONDS}s per measured run, ${CONNECTIONS} connections; mix ${MIX.detail * 100}% product detail ` +
      `(Zipf s=${ZIPF_S}) / ${MIX.listing * 100}% category listing / ${MIX.search * 100}% search`,
  );

  const generator = await chooseLoadGenerator(log);

  step(`fleet: bazaar stack up --web 2 --workers 1 --replicas 0 --fast in ${dir}, base port ${basePort}`);
  await runNode(
    [
      'bin/bazaar.js',
      'stack',
      'up',
      '--web',
      '2',
      '--workers',
      '1',
      '--replicas',
      '0',
      '--fast',
      '--dir',
      dir,
      '--base-port',
      String(basePort),
    ],
    {},
  );

  const db = readManifest(join(dir, 'db'));
  if (!db) throw new Error(`stack up left no database topology in ${join(dir, 'db')}`);
  const env: Record<string, string> = {
    ...stackEnvironment(db),
    REDIS_URL: `redis://127.0.0.1:${ports.redis}`,
    LOG_LEVEL: 'warn',
  };
  step(`seed: bazaar seed --products ${PRODUCTS}`);
  await runNode(['bin/bazaar.js', 'seed', '--products', String(PRODUCTS)], env);

  step('workload: product ids and title words from the database, categories through the API');
  const client = new pg.Client({ connectionString: env['DATABASE_URL'] });
  await client.connect();
  const ids = (
    await client.query<{ id: string }>(
      `select id from catalog.products where status = 'published' order by id`,
    )
  ).rows.map((r) => r.id);
  const titles = (await client.query<{ title: string }>('select title from catalog.products limit 5000'))
    .rows;
  await client.end();
  const random = prng(20_261_125);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [ids[i], ids[j]] = [ids[j]!, ids[i]!]; // popularity rank independent of age
  }
  const words = [
    ...new Set(titles.flatMap((t) => t.title.toLowerCase().split(/[^a-z]+/)).filter((w) => w.length >= 4)),
  ];
  const tree = (await (await fetch(`${balancer}/api/categories`)).json()) as {
    slug: string;
    children: { slug: string }[];
  }[];
  const categories = tree.flatMap((c) => [c.slug, ...c.children.map((x) => x.slug)]);
  const rank = zipf(ids.length, ZIPF_S, random);
  const detail = () => `/api/products/${ids[rank()]}`;
  const mix = () => {
    const r = random();
    if (r < MIX.detail) return detail();
    if (r < MIX.detail + MIX.listing)
      return `/api/products?category=${categories[Math.floor(random() * categories.length)]}`;
    return `/api/products?q=${encodeURIComponent(words[Math.floor(random() * words.length)]!)}`;
  };
  log(`${ids.length} published products, ${categories.length} categories, ${words.length} search words`);

  const rows: Row[] = [];

  if (PHASES.has('1')) {
    step('phase 1: cache off (CACHE=none)');
    await webSettings({ CACHE: 'none', EXPOSE_COUNTERS: 'true', LOG_LEVEL: 'warn' });
    rows.push(await measure('mix, cache off', 'HAProxy', balancer, mix, webPids('web1', 'web2')));
  }

  const profile: Record<string, string> = PROFILE_DIR
    ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${PROFILE_DIR}` }
    : {};
  if (PHASES.has('2') || PHASES.has('3')) {
    await webSettings({ EXPOSE_COUNTERS: 'true', LOG_LEVEL: 'warn', ...CACHE_SIZE, ...profile });
  }
  if (PHASES.has('2')) {
    step('phase 2: cache on (memory + Redis), starting empty');
    rows.push(
      await measure('mix, cache on (cold + 5 s warm-up)', 'HAProxy', balancer, mix, webPids('web1', 'web2')),
    );
  }

  if (PHASES.has('3')) {
    step(`phase 3: cache on, after one request for each of the ${ids.length} products on each web instance`);
    await warmEveryInstance(ids);
    rows.push(await measure('mix, cache on (warm)', 'HAProxy', balancer, mix, webPids('web1', 'web2')));
  }

  step(
    `phase 4: product detail alone, cache on, versus a bare Fastify JSON route (${PAIR_ROUNDS} paired rounds)`,
  );
  // As production runs: no counter headers (nothing reads them here), then the pass over every
  // product on each instance.
  await webSettings({ LOG_LEVEL: 'warn', ...CACHE_SIZE, ...profile });
  await warmEveryInstance(ids);
  baseline = await startNode(['bench/baseline-server.ts', 'json'], {}, /listening (\d+)/);
  const bareUrl = `http://127.0.0.1:${baseline.match[1]}`;
  const idsFile = join(parent, 'product-ids.txt');
  writeFileSync(idsFile, `${ids.join('\n')}\n`);
  lookupBaseline = await startNode(['bench/baseline-server.ts', 'lookup', idsFile], {}, /listening (\d+)/);
  const lookupUrl = `http://127.0.0.1:${lookupBaseline.match[1]}`;
  const bare = (options: MeasureOptions) =>
    measure(
      'bare Fastify JSON route',
      'direct',
      bareUrl,
      () => `/bench/${ids[rank()]}`, // the same paths' shape and length as the app's
      [baseline!.process.pid!],
      { ...options, l2: false },
    );
  const lookup = (options: MeasureOptions) =>
    measure(
      `bare Fastify route, one lookup among ${ids.length} products`,
      'direct',
      lookupUrl,
      () => `/bench/${ids[rank()]}`,
      [lookupBaseline!.process.pid!],
      { ...options, l2: false },
    );
  // Both web instances, each alone on its own port: a process's own speed varies by more than
  // the code does between runs here (heap layout, hash seeds, the JIT), and two halve that.
  const web = (n: 1 | 2) => (options: MeasureOptions) =>
    measure(
      'product detail, cache on',
      'web1, web2 direct',
      `http://127.0.0.1:${ports.web(n)}`,
      detail,
      webPids(`web${n}`),
      options,
    );
  const [web1, web2] = [web(1), web(2)];
  log(`warming the four up (${WARMUP_SECONDS}s each)…`);
  for (const side of [web1, web2, bare, lookup])
    await side({ counted: false, seconds: WARMUP_SECONDS, warmupSeconds: 0, quiet: true });
  // A shared machine's speed drifts within seconds, so each pair is PAIR_SLICES short slices per
  // side, interleaved (the order rotates every slice), summed per side: drift falls on all alike.
  // Product detail is the two web instances' slices together. The rows keep the median pair's
  // figures (the lookup route's of the same round).
  const pairs: { json: Row; direct: Row; lookup: Row }[] = [];
  const slice: MeasureOptions = {
    counted: false,
    seconds: Math.max(1, Math.round(SECONDS / PAIR_SLICES)),
    warmupSeconds: 0,
    quiet: true,
  };
  for (let round = 1; round <= PAIR_ROUNDS; round++) {
    const runs: Row[][] = [[], [], [], []];
    const sides = [web1, web2, bare, lookup];
    for (let i = 0; i < PAIR_SLICES; i++) {
      for (let k = 0; k < sides.length; k++) {
        const side = (round + i + k) % sides.length;
        runs[side]!.push(await sides[side]!(slice));
      }
    }
    const [one, two] = [summed(runs[0]!), summed(runs[1]!)];
    const pair = {
      direct: summed([...runs[0]!, ...runs[1]!]),
      json: summed(runs[2]!),
      lookup: summed(runs[3]!),
    };
    pairs.push(pair);
    log(
      `pair ${round}/${PAIR_ROUNDS}: product detail ${Math.round(pair.direct.rps)} req/s ` +
        `(web1 ${Math.round(one.cpuUsPerRequest!)}, web2 ${Math.round(two.cpuUsPerRequest!)} µs/req, ` +
        `${pair.direct.l2ReadsPerRequest!.toFixed(3)} Redis reads/req), ` +
        `bare ${Math.round(pair.json.rps)} req/s ` +
        `(${Math.round(pair.json.cpuUsPerRequest!)} µs/req): ${(pair.direct.rps / pair.json.rps).toFixed(2)}; ` +
        `bare lookup ${Math.round(pair.lookup.rps)} req/s (${Math.round(pair.lookup.cpuUsPerRequest!)} µs/req): ` +
        `${(pair.lookup.rps / pair.json.rps).toFixed(2)}, load ${load1()}`,
    );
  }
  await baseline.stop();
  baseline = undefined;
  await lookupBaseline.stop();
  lookupBaseline = undefined;
  const byRatio = [...pairs].sort((a, b) => a.direct.rps / a.json.rps - b.direct.rps / b.json.rps);
  const { json, direct, lookup: bareLookup } = byRatio[Math.floor(byRatio.length / 2)]!;
  lookupRatios = pairs.map((p) => p.lookup.rps / p.json.rps);
  pairRatios = pairs.map((p) => p.direct.rps / p.json.rps);
  log(`product detail / bare Fastify per pair: ${pairRatios.map((x) => x.toFixed(2)).join(' ')}`);
  const through = await measure(
    'product detail, cache on',
    'HAProxy',
    balancer,
    detail,
    webPids('web1', 'web2'),
    { counted: false },
  );
  rows.push(json, bareLookup, direct, through);

  const headers = [
    'phase',
    'via',
    'req/s',
    'p50 ms',
    'p99 ms',
    'cache hit ratio',
    'db queries/req',
    'Redis reads/req',
    'vs bare Fastify',
    'server CPU µs/req',
    'bare CPU / this CPU',
    'errors + non-2xx',
    'load generator',
    'load avg (1 min)',
  ];
  const cells = rows.map((r) => [
    r.phase,
    r.via,
    Math.round(r.rps),
    r.p50,
    r.p99,
    hitRatio(r),
    queriesPerRequest(r),
    r.l2ReadsPerRequest === undefined ? '-' : r.l2ReadsPerRequest.toFixed(3),
    r === json ? '1.00' : r === direct ? spread(pairRatios) : r === bareLookup ? spread(lookupRatios) : '-',
    Math.round(r.cpuUsPerRequest!),
    r === json
      ? '1.00'
      : r === direct || r === bareLookup
        ? spread(
            pairs.map(
              (p) => p.json.cpuUsPerRequest! / p[r === direct ? 'direct' : 'lookup'].cpuUsPerRequest!,
            ),
          )
        : '-',
    r.errors + r.non2xx,
    r.generator,
    r.load1,
  ]);
  console.log(`\n${table(headers, cells)}`);
  console.log(
    `\nproduct detail direct / bare Fastify, per pair: ${pairRatios.map((x) => x.toFixed(2)).join(' ')} (the table shows the median pair's figures, and every ratio as median (min–max) over the pairs)`,
  );
  console.log(
    `bare lookup route / bare Fastify, per pair: ${lookupRatios.map((x) => x.toFixed(2)).join(' ')} (for information: a catalog held and each product's own body sent, nothing else)`,
  );
  console.log(
    'targets (cache on, warm): hit ratio >= 95%, db queries/req <= 0.05; product detail: server CPU per response no worse than the previous commit (compare two runs side by side)',
  );
  const file = await writeResult('cache', {
    machine: machine(),
    loadAverageAtEnd: loadavg(),
    products: ids.length,
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    connections: CONNECTIONS,
    loadGenerator: generator,
    pairRatios,
    lookupRatios,
    zipfS: ZIPF_S,
    mix: MIX,
    rows: rows.map((r) => ({
      ...Object.fromEntries(headers.map((h, i) => [h, cells[rows.indexOf(r)]![i]])),
      counters: r.counters
        ? {
            responses: r.counters.responses,
            counted: r.counters.counted,
            dbQueries: r.counters.dbQueries,
            hits: r.counters.hits,
            misses: r.counters.misses,
            stale: r.counters.stale,
          }
        : undefined,
    })),
  });
  console.log(`\nwritten ${file}`);
} finally {
  await tearDown();
}
