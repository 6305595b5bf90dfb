/**
 * `bazaar stack up|status|down`: the whole "scale" topology on one machine, from Debian packages
 * (installed with apt when missing) and this repository's entry points:
 *
 *   client → nginx (edge cache, entry URL) → HAProxy (load balancer) → web1…webN → PostgreSQL
 *                                                                        ↘ Redis ↙  (+ workers)
 *
 * - the database topology of `bazaar stack db` in DIR/db (stack-db.ts), then `bazaar migrate`
 *   and `bazaar seed` once per `up` (both idempotent);
 * - its own redis-server (no persistence) for sessions, kv, the clickstream and the cache's second
 *   tier and bus;
 * - N web processes (`SESSION_STORE=redis`, `KV_STORE=redis`, `STREAM_STORE=redis`, `CACHE=redis`,
 *   no worker inside, `SHUTDOWN_DELAY` longer than HAProxy needs to see `/readyz` fail) and M workers;
 * - HAProxy: round robin, active checks of `GET /readyz` every 500 ms (down after 2 failures,
 *   up after 2 passes), 3 retries with redispatch; beyond connection failures only idempotent
 *   methods are retried; no sticky sessions;
 * - nginx in front: caches `/media/*` and `/assets/*` as their Cache-Control says (with
 *   `X-Cache-Status`), passes everything else through uncached.
 *
 * DIR/web.env, when present, adds settings to the web processes at each start (webEnvironment).
 *
 * Every server is a detached child process with a pid file in DIR/run and a log in DIR/logs;
 * DIR/fleet.json records each one's name, role, port and pid. `down` stops only recorded pids
 * whose command line still matches what was started, and then the database topology.
 * Ports from the base port P: nginx P, HAProxy P+1, HAProxy stats page P+2, Redis P+3, web i
 * P+10+i, PostgreSQL P+40 (replicas and standby after it).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  assertPortFree,
  createStack,
  exec,
  type Log,
  type NodeState,
  pidOf,
  readManifest,
  StackError,
  stackEnvironment,
  stackStatus,
  stopStack,
} from './stack-db.ts';

export type FleetRole = 'nginx' | 'haproxy' | 'web' | 'worker' | 'redis';

export type FleetProcess = Readonly<{
  name: string;
  role: FleetRole;
  /** Listening port; null for workers. */
  port: number | null;
  /** Last pid started; the pid file in DIR/run is the source of truth. */
  pid: number | null;
  log: string;
}>;

export type FleetManifest = Readonly<{
  version: 1;
  dir: string;
  basePort: number;
  web: number;
  workers: number;
  replicas: number;
  standby: boolean;
  /** nginx: where clients go. */
  entryUrl: string;
  /** HAProxy's frontend (behind nginx). */
  balancerUrl: string;
  processes: readonly FleetProcess[];
}>;

export type UpOptions = Readonly<{
  web: number;
  workers: number;
  replicas: number;
  standby: boolean;
  dir: string;
  basePort: number;
  /** PostgreSQL with fsync off: for tests and demos. */
  fast: boolean;
  /** Seed generated photos too (the workers turn them into variants). */
  photos: boolean;
}>;

export const FLEET_DEFAULT_DIR = join(tmpdir(), 'bazaar-fleet');
export const FLEET_DEFAULT_BASE_PORT = 38000;
/** HAProxy's check interval and fall count; web's SHUTDOWN_DELAY outlasts their product. */
const CHECK_INTER_MS = 500;
const CHECK_FALL = 2;
const SHUTDOWN_DELAY_MS = CHECK_INTER_MS * CHECK_FALL + 1000;
const SHUTDOWN_GRACE_MS = 10_000;
const MANIFEST = 'fleet.json';
const WEB_ENV = 'web.env';
const APPS = resolve(import.meta.dirname, '../../src/apps');

export const fleetPorts = (base: number) => ({
  nginx: base,
  haproxy: base + 1,
  haproxyStats: base + 2,
  redis: base + 3,
  web: (i: number) => base + 10 + i,
  db: base + 40,
});

// ---------------------------------------------------------------------------------------------
// up

export async function fleetUp(options: UpOptions, log: Log): Promise<FleetManifest> {
  const dir = resolve(options.dir);
  const existing = readFleet(dir);
  const manifest = existing ?? plan({ ...options, dir });
  if (existing) {
    const same =
      existing.web === options.web &&
      existing.workers === options.workers &&
      existing.replicas === options.replicas &&
      existing.standby === options.standby &&
      existing.basePort === options.basePort;
    if (!same) {
      throw new StackError(
        `${dir} already holds another fleet (${existing.web} web, ${existing.workers} worker(s), ` +
          `${existing.replicas} replica(s), base port ${existing.basePort}); run "bazaar stack down --dir ${dir} --remove" ` +
          'first, or choose another --dir',
      );
    }
    log(`${dir} already holds this fleet; starting what is stopped`);
  } else if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new StackError(`${dir} is not empty and holds no ${MANIFEST}; choose another --dir`);
  }

  const bins = {
    redis: await ensureProgram('redis-server', 'redis-server', log),
    haproxy: await ensureProgram('haproxy', 'haproxy', log),
    nginx: await ensureProgram('nginx', 'nginx', log),
  };
  // Ports of processes that are not running must be free, before anything starts.
  const ports = fleetPorts(manifest.basePort);
  for (const p of manifest.processes) {
    if (p.port !== null && livePid(manifest, p) === undefined) await portFree(p.port, p.name);
  }
  if (!readManifest(join(dir, 'db'))) {
    for (let i = 0; i <= options.replicas + (options.standby ? 1 : 0); i++)
      await portFree(ports.db + i, 'postgres');
  }

  for (const sub of ['logs', 'run', 'data', 'redis', 'haproxy', 'nginx']) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  chmodSync(dir, 0o755); // nginx's workers (nobody when root) reach DIR/nginx
  if (!existing) writeFleet(manifest);
  writeConfigs(manifest);

  log(
    `database: primary${options.replicas ? ` + ${options.replicas} replica(s)` : ''}${options.standby ? ' + standby' : ''} in ${join(dir, 'db')}`,
  );
  const db = await createStack(
    {
      replicas: options.replicas,
      standby: options.standby,
      delayMs: 0,
      dir: join(dir, 'db'),
      basePort: ports.db,
      fast: options.fast,
    },
    (line) => log(`  ${line}`),
  );
  const env = appEnvironment(manifest, stackEnvironment(db));

  const redis = processNamed(manifest, 'redis');
  if (livePid(manifest, redis) === undefined) {
    log(`redis on port ${redis.port}`);
    launch(manifest, redis, bins);
    await waitFor(manifest, redis, () => redisPing(redis.port!), 10_000);
  }

  log('migrations: bazaar migrate');
  await runCli(['migrate'], env, manifest, 'migrate');
  log(`demo data: bazaar seed${options.photos ? ' --photos' : ''}`);
  await runCli(options.photos ? ['seed', '--photos'] : ['seed'], env, manifest, 'seed');

  const apps = manifest.processes.filter((p) => p.role === 'web' || p.role === 'worker');
  const starting: Promise<void>[] = [];
  for (const p of apps) {
    if (livePid(manifest, p) !== undefined) continue;
    log(p.role === 'web' ? `${p.name} on port ${p.port}` : `${p.name}`);
    const from = logSize(p);
    launch(manifest, p, bins);
    starting.push(
      waitFor(
        manifest,
        p,
        p.role === 'web'
          ? () => httpOk(`http://127.0.0.1:${p.port}/readyz`)
          : async () => logSince(p, from).includes('worker started'),
        60_000,
      ),
    );
  }
  await Promise.all(starting);

  for (const name of ['haproxy', 'nginx']) {
    const p = processNamed(manifest, name);
    if (livePid(manifest, p) !== undefined) continue;
    log(
      name === 'haproxy'
        ? `haproxy on port ${p.port} (stats on ${ports.haproxyStats})`
        : `nginx on port ${p.port}`,
    );
    launch(manifest, p, bins);
    await waitFor(manifest, p, () => httpOk(`http://127.0.0.1:${p.port}/readyz`), 15_000);
  }
  log(`ready: ${manifest.entryUrl}`);
  return readFleet(dir)!;
}

function plan(options: UpOptions): FleetManifest {
  const ports = fleetPorts(options.basePort);
  const logOf = (name: string) => join(options.dir, 'logs', `${name}.log`);
  const processes: FleetProcess[] = [
    { name: 'redis', role: 'redis', port: ports.redis, pid: null, log: logOf('redis') },
  ];
  for (let i = 1; i <= options.web; i++) {
    processes.push({ name: `web${i}`, role: 'web', port: ports.web(i), pid: null, log: logOf(`web${i}`) });
  }
  for (let i = 1; i <= options.workers; i++) {
    processes.push({ name: `worker${i}`, role: 'worker', port: null, pid: null, log: logOf(`worker${i}`) });
  }
  processes.push(
    { name: 'haproxy', role: 'haproxy', port: ports.haproxy, pid: null, log: logOf('haproxy') },
    { name: 'nginx', role: 'nginx', port: ports.nginx, pid: null, log: logOf('nginx') },
  );
  return {
    version: 1,
    dir: options.dir,
    basePort: options.basePort,
    web: options.web,
    workers: options.workers,
    replicas: options.replicas,
    standby: options.standby,
    entryUrl: `http://127.0.0.1:${ports.nginx}`,
    balancerUrl: `http://127.0.0.1:${ports.haproxy}`,
    processes,
  };
}

/** The environment of web, worker and CLI processes: the database, Redis, and fleet settings. */
function appEnvironment(manifest: FleetManifest, database: Record<string, string>): Record<string, string> {
  const secretFile = join(manifest.dir, 'run', 'upload-secret');
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const redis = processNamed(manifest, 'redis');
  return {
    ...database,
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    SESSION_STORE: 'redis',
    KV_STORE: 'redis',
    STREAM_STORE: 'redis',
    // Redis keeps the clickstream in memory: an hour after the roll-up counted it, not a week.
    CLICKSTREAM_RETENTION: '1h',
    CACHE: 'redis',
    RUN_WORKER_IN_WEB: 'false',
    MIGRATE_ON_START: 'false',
    SEED: 'false',
    HOST: '127.0.0.1',
    TRUST_PROXY: 'true',
    DATA_DIR: join(manifest.dir, 'data'),
    UPLOAD_SIGNING_SECRET: readFileSync(secretFile, 'utf8').trim(),
    SHUTDOWN_GRACE: `${SHUTDOWN_GRACE_MS}ms`,
    SHUTDOWN_DELAY: `${SHUTDOWN_DELAY_MS}ms`,
    LOG_LEVEL: 'info',
  };
}

// ---------------------------------------------------------------------------------------------
// configuration files

function writeConfigs(m: FleetManifest): void {
  const ports = fleetPorts(m.basePort);
  const web = m.processes.filter((p) => p.role === 'web');
  writeFileSync(
    join(m.dir, 'haproxy', 'haproxy.cfg'),
    renderTemplate('haproxy.cfg', {
      socket: join(m.dir, 'haproxy', 'haproxy.sock'),
      port: ports.haproxy,
      statsPort: ports.haproxyStats,
      checkInterMs: CHECK_INTER_MS,
      checkFastInterMs: CHECK_INTER_MS / 2,
      checkFall: CHECK_FALL,
      servers: web.map((p) => `  server ${p.name} 127.0.0.1:${p.port} check`).join('\n'),
    }),
  );
  const n = join(m.dir, 'nginx');
  const nginx = { dir: n, logs: join(m.dir, 'logs'), port: ports.nginx, balancerPort: ports.haproxy };
  writeFileSync(join(n, 'forward.conf'), renderTemplate('forward.conf', {}));
  writeFileSync(join(n, 'nginx.conf'), renderTemplate('nginx.conf', nginx));
}

const TEMPLATES = join(import.meta.dirname, 'templates');

/** A file of templates/ with each `{{name}}` replaced; a name without a value is an error. */
export function renderTemplate(name: string, values: Readonly<Record<string, string | number>>): string {
  return readFileSync(join(TEMPLATES, name), 'utf8').replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`template ${name} needs a value for {{${key}}}`);
    return String(value);
  });
}

// ---------------------------------------------------------------------------------------------
// processes

type Bins = Readonly<{ redis: string; haproxy: string; nginx: string }>;

type Command = Readonly<{ file: string; args: string[]; env?: Record<string, string> }>;

/** Whether a live process's command line (and environment) is the one `up` started. */
function matcher(m: FleetManifest, p: FleetProcess): (cmdline: string, environ: string) => boolean {
  switch (p.role) {
    case 'redis':
      // Redis retitles itself "redis-server 127.0.0.1:PORT" once started.
      return (cmd) =>
        cmd.includes('redis-server') && (cmd.includes(`:${p.port}`) || cmd.includes(`--port ${p.port} `));
    case 'haproxy':
      return (cmd) => cmd.includes(join(m.dir, 'haproxy', 'haproxy.cfg'));
    case 'nginx':
      return (cmd) => cmd.includes(join(m.dir, 'nginx', 'nginx.conf'));
    case 'web':
    case 'worker':
      return (cmd, environ) =>
        cmd.includes(join(APPS, `${p.role}.ts`)) &&
        environ.split('\0').includes(`BAZAAR_FLEET=${m.dir}#${p.name}`);
  }
}

function commandOf(m: FleetManifest, p: FleetProcess, bins: Bins): Command {
  switch (p.role) {
    case 'redis':
      return {
        file: bins.redis,
        args: [
          '--bind',
          '127.0.0.1',
          '--port',
          String(p.port),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          join(m.dir, 'redis'),
          '--daemonize',
          'no',
        ],
      };
    case 'haproxy':
      return { file: bins.haproxy, args: ['-f', join(m.dir, 'haproxy', 'haproxy.cfg'), '-db'] };
    case 'nginx':
      return {
        file: bins.nginx,
        args: [
          '-c',
          join(m.dir, 'nginx', 'nginx.conf'),
          '-p',
          join(m.dir, 'nginx'),
          '-e',
          join(m.dir, 'logs', 'nginx-error.log'),
        ],
      };
    case 'web':
    case 'worker': {
      const db = readManifest(join(m.dir, 'db'));
      if (!db) throw new StackError(`no database topology in ${join(m.dir, 'db')}; run bazaar stack up`);
      return {
        file: process.execPath,
        args: [join(APPS, `${p.role}.ts`)],
        env: {
          ...appEnvironment(m, stackEnvironment(db)),
          ...(p.role === 'web' ? webEnvironment(m) : {}),
          ...(p.port !== null ? { PORT: String(p.port) } : {}),
          BAZAAR_FLEET: `${m.dir}#${p.name}`,
        },
      };
    }
  }
}

/**
 * Extra settings of the web processes from DIR/web.env (optional; `KEY=VALUE` lines, `#`
 * comments), over the fleet's own: read at every start, so editing it and running
 * `bazaar stack restart webN` changes one instance (e.g. `CACHE=none`, `EXPOSE_COUNTERS=true`).
 */
function webEnvironment(m: FleetManifest): Record<string, string> {
  const file = join(m.dir, WEB_ENV);
  if (!existsSync(file)) return {};
  const env: Record<string, string> = {};
  for (const [i, raw] of readFileSync(file, 'utf8').split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match || ['PORT', 'BAZAAR_FLEET'].includes(match[1]!)) {
      throw new StackError(
        `${file} line ${i + 1} is not KEY=VALUE (PORT and BAZAAR_FLEET are the fleet's): "${line}"; fix or remove it`,
      );
    }
    env[match[1]!] = match[2]!;
  }
  return env;
}

/** A few variables of ours pass to children; the rest of the caller's environment does not. */
function baseEnvironment(): Record<string, string> {
  const keep: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']) {
    const v = process.env[k];
    if (v !== undefined) keep[k] = v;
  }
  return keep;
}

function pidFile(m: FleetManifest, p: FleetProcess): string {
  return join(m.dir, 'run', `${p.name}.pid`);
}

function launch(m: FleetManifest, p: FleetProcess, bins: Bins): number {
  const command = commandOf(m, p, bins);
  const out = openSync(p.log, 'a');
  const child = spawn(command.file, command.args, {
    detached: true,
    stdio: ['ignore', out, out],
    cwd: m.dir,
    env: { ...baseEnvironment(), ...command.env },
  });
  closeSync(out);
  child.on('error', () => {});
  if (child.pid === undefined) throw new StackError(`could not start ${p.name} (${command.file})`);
  child.unref();
  writeFileSync(pidFile(m, p), `${child.pid}\n`);
  writeFleet({
    ...m,
    processes: (readFleet(m.dir) ?? m).processes.map((x) =>
      x.name === p.name ? { ...x, pid: child.pid! } : x,
    ),
  });
  return child.pid;
}

/** The recorded pid of a process when it runs and is still the program that was started. */
function livePid(m: FleetManifest, p: FleetProcess): number | undefined {
  const file = pidFile(m, p);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isSafeInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const cmdline = procText(pid, 'cmdline').replaceAll('\0', ' ');
  return matcher(m, p)(cmdline, procText(pid, 'environ')) ? pid : undefined;
}

function procText(pid: number, what: 'cmdline' | 'environ'): string {
  try {
    return readFileSync(`/proc/${pid}/${what}`, 'utf8');
  } catch {
    return '';
  }
}

/** Alive and not a zombie (a child of this process that exited but is not reaped yet). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

async function waitFor(
  m: FleetManifest,
  p: FleetProcess,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (livePid(m, p) === undefined) {
      throw new StackError(`${p.name} exited while starting; its log ${p.log} ends with:\n${tail(p.log)}`);
    }
    if (Date.now() > until) {
      throw new StackError(
        `${p.name} was not ready after ${timeoutMs / 1000}s; see ${p.log}:\n${tail(p.log)}`,
      );
    }
    await sleep(200);
  }
}

async function runCli(
  args: string[],
  env: Record<string, string>,
  m: FleetManifest,
  name: string,
): Promise<void> {
  const logFile = join(m.dir, 'logs', `${name}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [join(APPS, 'cli.ts'), ...args], {
    stdio: ['ignore', out, out],
    cwd: m.dir,
    env: { ...baseEnvironment(), ...env },
  });
  closeSync(out);
  const code = await new Promise<number | null>((r) => {
    child.on('error', () => r(-1));
    child.on('close', (c) => r(c));
  });
  if (code !== 0)
    throw new StackError(
      `bazaar ${args.join(' ')} failed (exit ${code}); ${logFile} ends with:\n${tail(logFile)}`,
    );
}

function logSize(p: FleetProcess): number {
  return existsSync(p.log) ? statSync(p.log).size : 0;
}

function logSince(p: FleetProcess, from: number): string {
  return existsSync(p.log) ? readFileSync(p.log).subarray(from).toString('utf8') : '';
}

function tail(file: string, lines = 8): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function portFree(port: number, name: string): Promise<void> {
  try {
    await assertPortFree(port);
  } catch {
    throw new StackError(
      `port ${port} (${name}) is busy; the fleet uses ports P to P+${40 + 8 + 1} from --base-port P: ` +
        `choose another, e.g. --base-port ${port < 60_000 ? port + 100 - (port % 100) : 30000}`,
    );
  }
}

/** A program's path; installs its Debian package with apt (as root) when missing. */
export async function ensureProgram(program: string, pkg: string, log: Log): Promise<string> {
  const find = () =>
    ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/sbin', '/bin']
      .map((d) => join(d, program))
      .find((f) => existsSync(f));
  const found = find();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new StackError(`${program} is missing; install it with: sudo apt-get install ${pkg}`);
  }
  log(`${program} is missing; running: apt-get install -y ${pkg}`);
  try {
    await exec('apt-get', ['install', '-y', '--no-install-recommends', pkg]);
  } catch {
    log('apt-get install failed; running apt-get update and trying again');
    await exec('apt-get', ['update']);
    await exec('apt-get', ['install', '-y', '--no-install-recommends', pkg]);
  }
  const after = find();
  if (!after) throw new StackError(`apt-get install ${pkg} did not provide ${program}`);
  return after;
}

// ---------------------------------------------------------------------------------------------
// health

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === 200;
}

/** Redis's PING over a raw socket (RESP): true on +PONG. */
export function redisPing(port: number): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePing(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      got += d;
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
  });
}

export type BalancedServer = Readonly<{
  name: string;
  /** HAProxy's view: `UP`, `DOWN`, `UP 1/2` (going down), `DOWN 1/2` (coming up), `MAINT`… */
  status: string;
  /** Requests sent to it since HAProxy started. */
  requests: number;
}>;

/** The web servers of HAProxy's backend, from `show stat` on its stats socket. */
export function haproxyServers(dir: string): Promise<BalancedServer[]> {
  const socketPath = join(resolve(dir), 'haproxy', 'haproxy.sock');
  return new Promise((resolveStats, reject) => {
    const socket = connect(socketPath);
    let csv = '';
    socket.setTimeout(2000, () => {
      socket.destroy();
      reject(new StackError(`no answer from HAProxy's stats socket ${socketPath}`));
    });
    socket.on('error', (err) =>
      reject(new StackError(`HAProxy's stats socket ${socketPath}: ${err.message}`)),
    );
    socket.on('connect', () => socket.write('show stat\n'));
    socket.on('data', (d) => {
      csv += d;
    });
    socket.on('end', () => {
      const [header, ...rows] = csv.trim().split('\n');
      const cols = (header ?? '').replace(/^# /, '').split(',');
      const at = (name: string) => cols.indexOf(name);
      resolveStats(
        rows
          .map((r) => r.split(','))
          .filter((r) => r[at('pxname')] === 'web' && !['FRONTEND', 'BACKEND'].includes(r[at('svname')]!))
          .map((r) => ({
            name: r[at('svname')]!,
            status: r[at('status')]!,
            requests: Number(r[at('stot')]),
          })),
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// status

export type ProcessState = Readonly<{
  name: string;
  role: FleetRole | 'postgres';
  port: number | null;
  pid: number | null;
  healthy: boolean;
  /** What was checked and what it said. */
  health: string;
}>;

export type FleetStatus = Readonly<{ entryUrl: string; dir: string; processes: ProcessState[] }>;

export async function fleetStatus(dirOption: string): Promise<FleetStatus> {
  const m = requireFleet(dirOption);
  const states: ProcessState[] = [];
  const dbDir = join(m.dir, 'db');
  const nodes: NodeState[] = readManifest(dbDir) ? await stackStatus(dbDir) : [];
  for (const n of nodes) {
    states.push({
      name: n.name,
      role: 'postgres',
      port: n.port,
      pid: n.pid,
      healthy: n.pid !== null && n.lsn !== null,
      health: n.pid === null ? 'stopped' : n.lsn !== null ? `${n.role}, answers queries` : 'not answering',
    });
  }
  const checks = m.processes.map(async (p): Promise<ProcessState> => {
    const pid = livePid(m, p) ?? null;
    const base = { name: p.name, role: p.role, port: p.port, pid };
    if (pid === null) return { ...base, healthy: false, health: 'stopped' };
    const probe = async (): Promise<[boolean, string]> => {
      switch (p.role) {
        case 'redis':
          return (await redisPing(p.port!)) ? [true, 'PING → PONG'] : [false, 'no PONG'];
        case 'worker':
          return [true, 'process alive'];
        case 'web':
          return (await httpOk(`http://127.0.0.1:${p.port}/readyz`))
            ? [true, 'GET /readyz → 200']
            : [false, 'GET /readyz not 200'];
        case 'haproxy': {
          const servers = await haproxyServers(m.dir);
          const up = servers.filter((s) => s.status === 'UP').length;
          return [up > 0, `${up}/${servers.length} web servers UP`];
        }
        case 'nginx':
          return (await httpOk(`http://127.0.0.1:${p.port}/readyz`))
            ? [true, 'GET /readyz through it → 200']
            : [false, 'GET /readyz through it not 200'];
      }
    };
    const [healthy, health] = await probe().catch((err: Error): [boolean, string] => [false, err.message]);
    return { ...base, healthy, health };
  });
  states.push(...(await Promise.all(checks)));
  return { entryUrl: m.entryUrl, dir: m.dir, processes: states };
}

// ---------------------------------------------------------------------------------------------
// stop, start one, down

/**
 * Sends a signal to one recorded process (only if its command line is still the one started).
 * With `wait`, resolves once it has exited, killing it after `waitMs`. Returns the pid signalled.
 */
export async function signalFleetProcess(
  dirOption: string,
  name: string,
  signal: NodeJS.Signals,
  options: { wait?: boolean; waitMs?: number } = {},
): Promise<number | undefined> {
  const m = requireFleet(dirOption);
  const p = processNamed(m, name);
  const pid = livePid(m, p);
  if (pid === undefined) return undefined;
  process.kill(pid, signal);
  if (options.wait) {
    const until = Date.now() + (options.waitMs ?? SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS + 5000);
    while (alive(pid)) {
      if (Date.now() > until) {
        process.kill(pid, 'SIGKILL');
        await sleep(100);
      } else await sleep(50);
    }
  }
  return pid;
}

/** Starts one recorded process again when it is not running and waits until it is ready. */
export async function startFleetProcess(dirOption: string, name: string, log: Log): Promise<number> {
  const m = requireFleet(dirOption);
  const p = processNamed(m, name);
  const running = livePid(m, p);
  if (running !== undefined) return running;
  const bins = {
    redis: await ensureProgram('redis-server', 'redis-server', log),
    haproxy: await ensureProgram('haproxy', 'haproxy', log),
    nginx: await ensureProgram('nginx', 'nginx', log),
  };
  if (p.port !== null) await portFree(p.port, p.name);
  log(`starting ${p.name}${p.port !== null ? ` on port ${p.port}` : ''}`);
  const from = logSize(p);
  const pid = launch(m, p, bins);
  const check =
    p.role === 'redis'
      ? () => redisPing(p.port!)
      : p.role === 'worker'
        ? async () => logSince(p, from).includes('worker started')
        : () => httpOk(`http://127.0.0.1:${p.port}/readyz`);
  await waitFor(m, p, check, 60_000);
  return pid;
}

/**
 * Graceful rotation of one process: SIGTERM (a web instance fails readiness, HAProxy stops
 * sending to it, in-flight requests finish), wait for the exit, start it again, wait until ready
 * (for a web instance: until HAProxy has it UP again, so the next one may be rotated).
 */
export async function restartFleetProcess(dirOption: string, name: string, log: Log): Promise<number> {
  log(`stopping ${name} (SIGTERM)`);
  await signalFleetProcess(dirOption, name, 'SIGTERM', { wait: true });
  const pid = await startFleetProcess(dirOption, name, log);
  const m = requireFleet(dirOption);
  const balancer = processNamed(m, 'haproxy');
  if (processNamed(m, name).role === 'web' && livePid(m, balancer) !== undefined) {
    // Rotating the next instance before HAProxy takes this one back could leave none in service.
    log(`waiting for HAProxy to mark ${name} UP`);
    await waitFor(
      m,
      balancer,
      async () => (await haproxyServers(m.dir)).find((s) => s.name === name)?.status === 'UP',
      30_000,
    );
  }
  return pid;
}

export type DownOptions = Readonly<{ dir: string; remove?: boolean }>;

/**
 * Stops what `up` started (recorded pids whose command line matches), then the database;
 * idempotent. False when DIR holds no fleet.
 */
export async function fleetDown(options: DownOptions, log: Log): Promise<boolean> {
  const dir = resolve(options.dir);
  const m = readFleet(dir);
  if (!m) {
    if (options.remove && existsSync(dir))
      throw new StackError(`${dir} holds no ${MANIFEST}; not removing it`);
    log(`nothing to stop: ${dir} holds no fleet`);
    return false;
  }
  const order: FleetRole[] = ['nginx', 'haproxy', 'web', 'worker', 'redis'];
  for (const role of order) {
    const group = m.processes.filter((p) => p.role === role);
    await Promise.all(
      group.map(async (p) => {
        const pid = livePid(m, p);
        if (pid === undefined) return;
        log(`stopping ${p.name} (pid ${pid})`);
        await signalFleetProcess(dir, p.name, 'SIGTERM', { wait: true });
      }),
    );
  }
  for (const p of m.processes) rmSync(pidFile(m, p), { force: true });
  writeFleet({ ...m, processes: m.processes.map((p) => ({ ...p, pid: null })) });
  // pg_ctl returns once the pid file is gone; the postmaster may still be exiting.
  const db = readManifest(join(dir, 'db'));
  const postmasters = (db?.nodes ?? []).map(pidOf).filter((pid) => pid !== undefined);
  await stopStack({ dir: join(dir, 'db') }, (line) => log(line));
  const until = Date.now() + 10_000;
  while (postmasters.some(alive) && Date.now() < until) await sleep(50);
  if (options.remove) {
    rmSync(join(dir, 'db'), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    log(`removed ${dir}`);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// manifest

export function readFleet(dir: string): FleetManifest | undefined {
  const file = join(resolve(dir), MANIFEST);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as FleetManifest;
}

function requireFleet(dir: string): FleetManifest {
  const m = readFleet(dir);
  if (!m)
    throw new StackError(`no fleet in ${resolve(dir)}; start one with: bazaar stack up --web 2 --workers 1`);
  return m;
}

function writeFleet(m: FleetManifest): void {
  mkdirSync(dirname(join(m.dir, MANIFEST)), { recursive: true });
  writeFileSync(join(m.dir, MANIFEST), `${JSON.stringify(m, null, 2)}\n`);
}

function processNamed(m: FleetManifest, name: string): FleetProcess {
  const p = m.processes.find((x) => x.name === name);
  if (!p)
    throw new StackError(`no process "${name}"; processes: ${m.processes.map((x) => x.name).join(', ')}`);
  return p;
}
