/** Helpers for benchmarks: child servers, free ports, autocannon runs, tables, JSON results. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import autocannon from 'autocannon';

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
};

export async function load(
  name: string,
  url: string,
  paths: () => string,
  options: {
    seconds: number;
    connections: number;
    /** Unmeasured run first; default a quarter of `seconds` (at least 1). */
    warmupSeconds?: number;
    /** Given each client of the measured run only, e.g. `ResponseCounters.setupClient`. */
    setupClient?: (client: autocannon.Client) => void;
  },
): Promise<LoadResult> {
  const run = (seconds: number, setupClient?: (client: autocannon.Client) => void) =>
    autocannon({
      url,
      connections: options.connections,
      duration: seconds,
      requests: [{ setupRequest: (req) => ({ ...req, path: paths() }) }],
      ...(setupClient ? { setupClient } : {}),
    });
  await run(options.warmupSeconds ?? Math.max(1, Math.round(options.seconds / 4))); // warm-up: JIT, pools, caches
  const r = await run(options.seconds, options.setupClient);
  return {
    name,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

export const machine = (): string =>
  `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(cells[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

export async function writeResult(name: string, data: unknown): Promise<string> {
  const dir = `${ROOT}bench/results`;
  await mkdir(dir, { recursive: true });
  const file = `${dir}/${name}-${new Date().toISOString().replaceAll(':', '-')}.json`;
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** A random element. */
export const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

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
