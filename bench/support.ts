/** Helpers for benchmarks: child servers, free ports, load runs (wrk or autocannon), tables, JSON results. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { ensureProgram } from '../ops/stack/stack-fleet.ts';

export const ROOT = new URL('../', import.meta.url).pathname;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export type Child = { process: ChildProcess; stop(): Promise<void>; output(): string };

/** Starts `node <args>` and resolves once `ready` matches its output (or rejects with the output). */
export async function startNode(
  args: string[],
  env: Record<string, string>,
  /** Output that means "ready"; null resolves at once (the caller polls the server itself). */
  ready: RegExp | null,
  timeoutMs = 120_000,
): Promise<Child & { match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const onData = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out starting ${args.join(' ')}:\n${out}`)),
      timeoutMs,
    );
    const check = () => {
      const m = ready ? ready.exec(out) : (/^/.exec('') as RegExpExecArray);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    if (!ready) check();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`));
    });
  });
  return {
    process: child,
    match,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
      }),
  };
}

/** Runs a node script to completion, echoing its output; rejects on a non-zero exit. */
export function runNode(args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: 'inherit',
    });
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited with ${code}`)),
    );
  });
}

export type LoadResult = {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Responses in the measured run. */
  responses: number;
  generator: LoadGenerator;
};

/**
 * The load generator of runs that need no per-response hook: wrk (C, Debian's package; one
 * thread) when installed, else autocannon in this process. autocannon spends more CPU per request
 * than the servers measured here; on a two-core machine it caps the fastest routes (a bare
 * Fastify route most), so ratios to those baselines come out lower than the servers' own.
 * Runs that read every response's headers (`setupClient`) always use autocannon.
 */
export type LoadGenerator = 'wrk' | 'autocannon';
let wrkPath: string | undefined;

/** Finds wrk, installing it with apt when root; says which generator the runs will use. */
export async function chooseLoadGenerator(log: (line: string) => void = console.log): Promise<LoadGenerator> {
  try {
    wrkPath = await ensureProgram('wrk', 'wrk', log);
    log(`load generator: wrk (${wrkPath}), one thread`);
    return 'wrk';
  } catch (err) {
    wrkPath = undefined;
    log(
      `load generator: autocannon in this process (${(err as Error).message}); it caps the fastest ` +
        'routes on a small machine, so ratios to the bare Fastify route come out low',
    );
    return 'autocannon';
  }
}

/** wrk's script: cycles through a file of request paths; prints one result line at the end. */
const WRK_SCRIPT = `local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local i = math.random(#paths)
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write, e.timeout, e.status, latency:percentile(50), latency:percentile(99)))
end
`;
/** Paths drawn per wrk run (wrk cycles through them). */
const WRK_PATHS = 100_000;

async function wrkRun(
  url: string,
  pathsFile: string,
  scriptFile: string,
  seconds: number,
  connections: number,
) {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      wrkPath!,
      ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', scriptFile, url],
      { env: { ...process.env, BENCH_PATHS: pathsFile }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}:\n${text}`)),
    );
  });
  const m = /WRK_RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
  if (!m) throw new Error(`wrk printed no result:\n${out}`);
  const [requests, durationUs, socketErrors, timeouts, non2xx, p50Us, p99Us] = m
    .slice(1)
    .map(Number) as number[];
  return {
    responses: requests!,
    rps: requests! / (durationUs! / 1e6),
    errors: socketErrors! + timeouts!,
    non2xx: non2xx!,
    p50: Math.round(p50Us! / 100) / 10,
    p99: Math.round(p99Us! / 100) / 10,
  };
}

export async function load(
  name: string,
  url: string,
  paths: () => string,
  options: {
    seconds: number;
    connections: number;
    /** Unmeasured run first (0: none); default a quarter of `seconds` (at least 1). */
    warmupSeconds?: number;
    /** Given each client of the measured run only, e.g. `ResponseCounters.setupClient`; means autocannon. */
    setupClient?: (client: autocannon.Client) => void;
    /** Called just before the measured run starts. */
    onMeasuredRun?: () => void;
  },
): Promise<LoadResult> {
  const warmupSeconds = options.warmupSeconds ?? Math.max(1, Math.round(options.seconds / 4));
  if (wrkPath && !options.setupClient) {
    const dir = await mkdtemp(join(tmpdir(), 'bazaar-wrk-'));
    try {
      const pathsFile = join(dir, 'paths');
      const scriptFile = join(dir, 'paths.lua');
      await writeFile(pathsFile, `${Array.from({ length: WRK_PATHS }, paths).join('\n')}\n`);
      await writeFile(scriptFile, WRK_SCRIPT);
      if (warmupSeconds > 0) await wrkRun(url, pathsFile, scriptFile, warmupSeconds, options.connections); // warm-up: JIT, pools, caches
      options.onMeasuredRun?.();
      const r = await wrkRun(url, pathsFile, scriptFile, options.seconds, options.connections);
      return { name, ...r, generator: 'wrk' };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const run = (seconds: number, setupClient?: (client: autocannon.Client) => void) =>
    autocannon({
      url,
      connections: options.connections,
      duration: seconds,
      requests: [{ setupRequest: (req) => ({ ...req, path: paths() }) }],
      ...(setupClient ? { setupClient } : {}),
    });
  if (warmupSeconds > 0) await run(warmupSeconds); // warm-up: JIT, pools, caches
  options.onMeasuredRun?.();
  const r = await run(options.seconds, options.setupClient);
  return {
    name,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    responses: r.requests.total,
    generator: 'autocannon',
  };
}

export const machine = (): string =>
  `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;

/** Every table a bench printed, in order; written with its result (bench:report renders them). */
const printed: { headers: string[]; rows: string[][] }[] = [];
const loadAtStart = loadavg();

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  printed.push({ headers, rows: cells.slice(1) });
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(cells[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

/** The commit measured, with `+dirty` when the work tree has changes; `unknown` outside git. */
function commit(): string {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short=12', 'HEAD');
  if (!head) return 'unknown';
  return git('status', '--porcelain', '--untracked-files=no') ? `${head}+dirty` : head;
}

/**
 * Writes `bench/results/<name>-<time>.json`: what ran (command and BENCH_* settings), where
 * (CPU model, cores, memory, load average at start and end, Node, commit), the printed tables,
 * and the bench's own figures (`data`). `npm run bench:report` renders the latest of each bench.
 */
export async function writeResult(name: string, data: unknown): Promise<string> {
  const dir = `${ROOT}bench/results`;
  await mkdir(dir, { recursive: true });
  const at = new Date();
  const file = `${dir}/${name}-${at.toISOString().replaceAll(':', '-')}.json`;
  const settings = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_')));
  const result = {
    bench: name,
    at: at.toISOString(),
    command: `${Object.entries(settings)
      .map(([k, v]) => `${k}=${v} `)
      .join('')}npm run bench:${name}`,
    settings,
    machine: {
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      loadAverage: { start: loadAtStart.map(round2), end: loadavg().map(round2) },
      node: process.version,
    },
    commit: commit(),
    tables: printed,
    data,
  };
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** A random element. */
export const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

export type Category = { slug: string; id: string; scope: 'top' | 'child' };
export type Catalog = { ids: string[]; categories: Category[]; words: string[] };

/** Ids, categories and title words, read through the public API like any client. */
export async function discover(base: string): Promise<Catalog> {
  const ids: string[] = [];
  const words = new Set<string>();
  let cursor: string | null = null;
  do {
    const res = await fetch(`${base}/api/products?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    if (!res.ok) throw new Error(`listing failed: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { items: { id: string; title: string }[]; nextCursor: string | null };
    for (const p of page.items) {
      ids.push(p.id);
      for (const w of p.title.toLowerCase().split(/[^a-z]+/)) if (w.length >= 4) words.add(w);
    }
    cursor = page.nextCursor;
  } while (cursor && ids.length < 5000);
  const tree = (await (await fetch(`${base}/api/categories`)).json()) as {
    id: string;
    slug: string;
    children: { id: string; slug: string }[];
  }[];
  const categories = tree.flatMap((c): Category[] => [
    { slug: c.slug, id: c.id, scope: 'top' },
    ...c.children.map((x): Category => ({ slug: x.slug, id: x.id, scope: 'child' })),
  ]);
  return { ids, categories, words: [...words] };
}

/** Resolves once `${base}/readyz` answers 200 (polls for up to 30 s). */
export async function waitReady(base: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${base} did not become ready`);
}

/**
 * Sums of the per-response counters the app sends with EXPOSE_COUNTERS=true (`x-db-queries: N`,
 * `x-cache: hit=N miss=N stale=N`), over every response of the clients given `setupClient`.
 * Responses without them (a baseline server, an error from the balancer) count in `responses` only.
 */
export type ResponseCounters = {
  responses: number;
  /** Responses that carried `x-db-queries`. */
  counted: number;
  dbQueries: number;
  hits: number;
  misses: number;
  stale: number;
  setupClient(client: autocannon.Client): void;
};

export function responseCounters(): ResponseCounters {
  const c: ResponseCounters = {
    responses: 0,
    counted: 0,
    dbQueries: 0,
    hits: 0,
    misses: 0,
    stale: 0,
    setupClient(client) {
      // autocannon's parser hands over the raw header list: name, value, name, value…
      (client as NodeJS.EventEmitter).on('headers', ({ headers }: { headers: string[] }) => {
        c.responses++;
        for (let i = 0; i + 1 < headers.length; i += 2) {
          const name = headers[i]!.toLowerCase();
          if (name === 'x-db-queries') {
            c.counted++;
            c.dbQueries += Number(headers[i + 1]);
          } else if (name === 'x-cache') {
            const m = /hit=(\d+) miss=(\d+) stale=(\d+)/.exec(headers[i + 1]!);
            if (m) {
              c.hits += Number(m[1]);
              c.misses += Number(m[2]);
              c.stale += Number(m[3]);
            }
          }
        }
      });
    },
  };
  return c;
}

/** The middle of `xs` (the mean of the two middle values for an even count). */
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** `median (min–max)` of per-round figures; `-` when there are none. */
export const spread = (xs: readonly number[], digits = 2): string =>
  xs.length === 0
    ? '-'
    : `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

/** CPU time of a process so far, in µs (Linux: utime + stime in /proc/PID/stat, clock ticks of 10 ms). */
export function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Resident memory of a process in MB: now, and its peak since it started (Linux: VmRSS, VmHWM). */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** Runs one statement on its own connection to `url`. */
export async function sqlOnce(url: string, statement: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(statement);
  } finally {
    await c.end();
  }
}

/**
 * A database of this run's own on the server of `adminUrl` (never a fixed name: two runs at once
 * must not drop each other's); `drop` removes it, and only it.
 */
export async function createRunDatabase(
  adminUrl: string,
  label: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bazaar_bench_${label}_${process.pid}_${Date.now().toString(36)}`;
  await sqlOnce(adminUrl, `create database ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: () => sqlOnce(adminUrl, `drop database if exists ${name} with (force)`).then(() => {}),
  };
}
