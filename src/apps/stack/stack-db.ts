/**
 * `bazaar stack db`: a real PostgreSQL topology on one machine, from the machine's own binaries.
 * A primary, N streaming replicas (pg_basebackup -R -X stream, one physical replication slot
 * each, optional `recovery_min_apply_delay`) and optionally a synchronous standby, each in a
 * folder of DIR with its own port (base, base+1…), its own log (DIR/<node>.log) and its
 * `application_name` (the node's name) in `pg_stat_replication`. DIR/stack.json records the
 * topology: `create` is idempotent (starts what is stopped) and refuses another topology in the
 * same DIR; `stop` stops exactly the nodes recorded there.
 *
 * PostgreSQL's server programs refuse to run as root: as root they run as the `postgres` user
 * (runuser) and DIR is given to it; as another user they run as that user.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export type NodeRole = 'primary' | 'replica' | 'standby';

export type StackNode = Readonly<{ name: string; role: NodeRole; port: number; dataDir: string }>;

export type StackManifest = Readonly<{
  version: 1;
  dir: string;
  basePort: number;
  replicas: number;
  standby: boolean;
  delayMs: number;
  /** The node currently acting as primary (changes on promote). */
  primary: string;
  nodes: readonly StackNode[];
}>;

export type CreateOptions = Readonly<{
  replicas: number;
  standby: boolean;
  delayMs: number;
  dir: string;
  basePort: number;
  /** fsync off: fast and unsafe on power loss; for tests and demos. */
  fast: boolean;
}>;

export type Log = (line: string) => void;

export class StackError extends Error {}

export const DEFAULT_DIR = join(tmpdir(), 'bazaar-stack');
export const DEFAULT_BASE_PORT = 55432;
const DATABASE = 'bazaar';
const MANIFEST = 'stack.json';

// ---------------------------------------------------------------------------------------------
// create / start

export async function createStack(options: CreateOptions, log: Log): Promise<StackManifest> {
  const bin = await findBinaries(log);
  const existing = readManifest(options.dir);
  if (existing) {
    const same =
      existing.replicas === options.replicas &&
      existing.standby === options.standby &&
      existing.delayMs === options.delayMs &&
      existing.basePort === options.basePort;
    if (!same) {
      throw new StackError(
        `${options.dir} already holds another topology (${describe(existing)}); ` +
          `run "bazaar stack db stop --dir ${options.dir} --remove" first, or choose another --dir`,
      );
    }
    log(`${options.dir} already holds this topology; starting what is stopped`);
    await startStack(existing, bin, log);
    return existing;
  }
  if (existsSync(options.dir) && readdirSync(options.dir).length > 0) {
    throw new StackError(`${options.dir} is not empty and holds no ${MANIFEST}; choose another --dir`);
  }
  const asPg = runner();
  const nodes: StackNode[] = [
    { name: 'primary', role: 'primary', port: options.basePort, dataDir: join(options.dir, 'primary') },
  ];
  for (let i = 1; i <= options.replicas; i++) {
    nodes.push({
      name: `replica${i}`,
      role: 'replica',
      port: options.basePort + i,
      dataDir: join(options.dir, `replica${i}`),
    });
  }
  if (options.standby) {
    const port = options.basePort + options.replicas + 1;
    nodes.push({ name: 'standby', role: 'standby', port, dataDir: join(options.dir, 'standby') });
  }
  for (const node of nodes) await assertPortFree(node.port);

  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  asPg.own(options.dir);
  const manifest: StackManifest = {
    version: 1,
    dir: options.dir,
    basePort: options.basePort,
    replicas: options.replicas,
    standby: options.standby,
    delayMs: options.delayMs,
    primary: 'primary',
    nodes,
  };

  const primary = nodes[0]!;
  log(`initdb ${primary.dataDir}`);
  await asPg.run(join(bin, 'initdb'), [
    '-D',
    primary.dataDir,
    '-A',
    'trust',
    '-U',
    'postgres',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  const statements =
    existsSync('/usr/share/postgresql/15/extension/pg_stat_statements.control') || hasExtension(bin);
  appendConf(asPg, join(primary.dataDir, 'postgresql.conf'), [
    `listen_addresses = '127.0.0.1'`,
    `port = ${primary.port}`,
    `unix_socket_directories = '${options.dir}'`,
    `shared_buffers = 16MB`,
    `max_connections = 50`,
    `wal_level = replica`,
    `max_wal_senders = 10`,
    `max_replication_slots = 10`,
    `hot_standby = on`,
    `hot_standby_feedback = on`,
    `wal_log_hints = on`,
    ...(statements
      ? [`shared_preload_libraries = 'pg_stat_statements'`, `pg_stat_statements.track = all`]
      : []),
    ...(options.fast ? [`fsync = off`, `full_page_writes = off`] : []),
  ]);
  writeFileSync(join(options.dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  await startNode(manifest, primary, bin, log);
  await withClient(primary.port, 'postgres', async (c) => {
    await c.query(`create database ${DATABASE}`);
    for (const node of nodes.slice(1)) {
      await c.query('select pg_create_physical_replication_slot($1)', [node.name]);
    }
  });
  if (statements) {
    await withClient(primary.port, DATABASE, (c) =>
      c.query('create extension if not exists pg_stat_statements'),
    );
  }

  for (const node of nodes.slice(1)) {
    log(`pg_basebackup ${node.name} from primary (slot ${node.name})`);
    await asPg.run(join(bin, 'pg_basebackup'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(primary.port),
      '-U',
      'postgres',
      '-D',
      node.dataDir,
      '-R',
      '-X',
      'stream',
      '-S',
      node.name,
      '-c',
      'fast',
      '--no-sync',
    ]);
    appendConf(asPg, join(node.dataDir, 'postgresql.auto.conf'), [
      `port = ${node.port}`,
      `primary_conninfo = '${conninfo(primary.port, node.name)}'`,
      `primary_slot_name = '${node.name}'`,
      ...(node.role === 'replica' && options.delayMs > 0
        ? [`recovery_min_apply_delay = '${options.delayMs}ms'`]
        : []),
    ]);
    await startNode(manifest, node, bin, log);
  }
  if (options.standby) {
    log('primary: synchronous_standby_names = standby');
    await withClient(primary.port, 'postgres', async (c) => {
      await c.query(`alter system set synchronous_standby_names = 'standby'`);
      await c.query('select pg_reload_conf()');
    });
  }
  return manifest;
}

async function startStack(manifest: StackManifest, bin: string, log: Log): Promise<void> {
  for (const node of manifest.nodes) {
    if (pidOf(node) === undefined) await startNode(manifest, node, bin, log);
  }
}

/** Starts one recorded node (no-op when it runs). */
export async function startNodeByName(dir: string, name: string, log: Log): Promise<void> {
  const manifest = requireManifest(dir);
  const node = nodeNamed(manifest, name);
  if (pidOf(node) !== undefined) return;
  await startNode(manifest, node, await findBinaries(log), log);
}

async function startNode(manifest: StackManifest, node: StackNode, bin: string, log: Log): Promise<void> {
  log(`starting ${node.name} on port ${node.port}`);
  await assertPortFree(node.port);
  await runner().run(join(bin, 'pg_ctl'), [
    '-D',
    node.dataDir,
    '-l',
    join(manifest.dir, `${node.name}.log`),
    '-w',
    '-t',
    '60',
    'start',
  ]);
}

// ---------------------------------------------------------------------------------------------
// stop, promote

export type StopOptions = Readonly<{
  dir: string;
  node?: string;
  remove?: boolean;
  /** `immediate`: no shutdown checkpoint, clients cut off at once (a crash, for failover drills). */
  mode?: 'fast' | 'immediate';
}>;

/** Stops the recorded nodes (or one), replicas first; only what stack.json lists. */
export async function stopStack(options: StopOptions, log: Log): Promise<void> {
  const manifest = readManifest(options.dir);
  if (!manifest) {
    if (options.remove && existsSync(options.dir))
      throw new StackError(`${options.dir} holds no ${MANIFEST}; not removing it`);
    log(`nothing to stop: ${options.dir} holds no stack`);
    return;
  }
  const bin = await findBinaries(log);
  const nodes = options.node ? [nodeNamed(manifest, options.node)] : [...manifest.nodes].reverse();
  for (const node of nodes) {
    if (pidOf(node) === undefined) continue;
    log(`stopping ${node.name} (port ${node.port})`);
    await runner().run(join(bin, 'pg_ctl'), [
      '-D',
      node.dataDir,
      '-m',
      options.mode ?? 'fast',
      '-w',
      '-t',
      '60',
      'stop',
    ]);
  }
  if (options.remove && !options.node) {
    rmSync(options.dir, { recursive: true, force: true });
    log(`removed ${options.dir}`);
  }
}

/**
 * Promotes the standby (or the named replica) to primary, then points the other replicas at it
 * (a slot each on the new primary, `primary_conninfo` reloaded; they follow the new timeline).
 * Stop the old primary first: two primaries would accept diverging writes.
 */
export async function promote(dir: string, name: string | undefined, log: Log): Promise<StackManifest> {
  const manifest = requireManifest(dir);
  const target = name
    ? nodeNamed(manifest, name)
    : (manifest.nodes.find((n) => n.role === 'standby') ??
      failWith(`there is no standby to promote; name a replica: bazaar stack db promote --node replica1`));
  if (target.name === manifest.primary) throw new StackError(`${target.name} is already the primary`);
  const old = nodeNamed(manifest, manifest.primary);
  if (pidOf(old) !== undefined) log(`warning: ${old.name} still runs; stop it to avoid two primaries`);
  const bin = await findBinaries(log);
  log(`promoting ${target.name}`);
  await runner().run(join(bin, 'pg_ctl'), ['-D', target.dataDir, '-w', '-t', '60', 'promote']);
  const followers = manifest.nodes.filter((n) => n.name !== target.name && n.name !== old.name);
  await withClient(target.port, 'postgres', async (c) => {
    await c.query(`alter system set synchronous_standby_names = ''`);
    await c.query('select pg_reload_conf()');
    for (const f of followers) {
      await c.query(
        'select pg_create_physical_replication_slot($1) where not exists (select 1 from pg_replication_slots where slot_name = $1)',
        [f.name],
      );
    }
  });
  for (const f of followers) {
    if (pidOf(f) === undefined) continue;
    log(`${f.name} now follows ${target.name}`);
    await withClient(f.port, 'postgres', async (c) => {
      await c.query(`alter system set primary_conninfo = '${conninfo(target.port, f.name)}'`);
      await c.query('select pg_reload_conf()');
    });
  }
  const next: StackManifest = {
    ...manifest,
    primary: target.name,
    nodes: manifest.nodes.map((n) =>
      n.name === target.name
        ? { ...n, role: 'primary' }
        : n.name === old.name
          ? { ...n, role: 'standby' }
          : n,
    ),
  };
  writeFileSync(join(dir, MANIFEST), `${JSON.stringify(next, null, 2)}\n`);
  return next;
}

// ---------------------------------------------------------------------------------------------
// status and environment

export type NodeState = Readonly<{
  name: string;
  role: NodeRole | 'stopped';
  port: number;
  pid: number | null;
  /** Replay position of a replica, current write position of the primary. */
  lsn: string | null;
  /** Bytes of WAL the node has not replayed, per the primary's pg_stat_replication. */
  lagBytes: number | null;
  /** The primary's `replay_lag` for the node (null when idle or unknown), milliseconds. */
  replayLagMs: number | null;
}>;

export async function stackStatus(dir: string): Promise<NodeState[]> {
  const manifest = requireManifest(dir);
  const primary = nodeNamed(manifest, manifest.primary);
  const replication = new Map<string, { lagBytes: number | null; replayLagMs: number | null }>();
  if (pidOf(primary) !== undefined) {
    await withClient(primary.port, 'postgres', async (c) => {
      const { rows } = await c.query<{
        application_name: string;
        lag_bytes: string | null;
        lag_ms: number | null;
      }>(
        `select application_name,
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint as lag_bytes,
                (extract(epoch from replay_lag) * 1000)::float8 as lag_ms
           from pg_stat_replication`,
      );
      for (const r of rows) {
        replication.set(r.application_name, {
          lagBytes: r.lag_bytes === null ? null : Number(r.lag_bytes),
          replayLagMs: r.lag_ms,
        });
      }
    }).catch(() => {});
  }
  const states: NodeState[] = [];
  for (const node of manifest.nodes) {
    const pid = pidOf(node) ?? null;
    let lsn: string | null = null;
    let role: NodeState['role'] = pid === null ? 'stopped' : node.role;
    if (pid !== null) {
      await withClient(node.port, 'postgres', async (c) => {
        const { rows } = await c.query<{ recovering: boolean; lsn: string | null }>(
          `select pg_is_in_recovery() as recovering,
                  case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end::text as lsn`,
        );
        lsn = rows[0]!.lsn;
        if (!rows[0]!.recovering) role = 'primary';
      }).catch(() => {});
    }
    const rep = replication.get(node.name);
    states.push({
      name: node.name,
      role,
      port: node.port,
      pid,
      lsn,
      lagBytes: node.name === manifest.primary ? 0 : (rep?.lagBytes ?? null),
      replayLagMs: node.name === manifest.primary ? 0 : (rep?.replayLagMs ?? null),
    });
  }
  return states;
}

/** The variables that point Bazaar at this topology. */
export function stackEnvironment(manifest: StackManifest): Record<string, string> {
  const url = (port: number) => `postgres://postgres@127.0.0.1:${port}/${DATABASE}`;
  const primary = nodeNamed(manifest, manifest.primary);
  const replicas = manifest.nodes.filter((n) => n.role === 'replica');
  const standby = manifest.nodes.find((n) => n.role === 'standby');
  return {
    DATABASE_URL: url(primary.port),
    ...(replicas.length > 0 ? { DATABASE_REPLICA_URLS: replicas.map((n) => url(n.port)).join(',') } : {}),
    ...(standby ? { DATABASE_FAILOVER_URLS: url(standby.port) } : {}),
    ...(manifest.delayMs > 0 ? { REPLICA_MAX_LAG_MS: String(manifest.delayMs + 1000) } : {}),
  };
}

export function readManifest(dir: string): StackManifest | undefined {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as StackManifest;
}

function requireManifest(dir: string): StackManifest {
  const manifest = readManifest(dir);
  if (!manifest) throw new StackError(`no stack in ${dir}; create one with: bazaar stack db --replicas 2`);
  return manifest;
}

function nodeNamed(manifest: StackManifest, name: string): StackNode {
  const node = manifest.nodes.find((n) => n.name === name);
  if (!node)
    throw new StackError(`no node "${name}"; nodes: ${manifest.nodes.map((n) => n.name).join(', ')}`);
  return node;
}

function describe(m: StackManifest): string {
  return `${m.replicas} replica(s)${m.standby ? ', a standby' : ''}, delay ${m.delayMs} ms, base port ${m.basePort}`;
}

function failWith(message: string): never {
  throw new StackError(message);
}

// ---------------------------------------------------------------------------------------------
// processes

/** The postmaster's pid when the node runs. */
export function pidOf(node: StackNode): number | undefined {
  const file = join(node.dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

type Runner = Readonly<{
  run(cmd: string, args: readonly string[]): Promise<void>;
  own(path: string): void;
}>;

/** Runs server programs as `postgres` when we are root, else as ourselves. */
function runner(): Runner {
  const root = process.getuid?.() === 0;
  let ids: { uid: number; gid: number } | undefined;
  const pgIds = () => {
    if (ids) return ids;
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'));
    if (!line) {
      throw new StackError(
        'running as root, and PostgreSQL refuses to run as root, but there is no "postgres" user: ' +
          'create one (useradd --system --home /var/lib/postgresql postgres) or run as a non-root user',
      );
    }
    const [, , uid, gid] = line.split(':');
    ids = { uid: Number(uid), gid: Number(gid) };
    return ids;
  };
  return {
    own(path) {
      if (!root) return;
      const { uid, gid } = pgIds();
      chownSync(path, uid, gid);
    },
    run(cmd, args) {
      if (root) pgIds();
      const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, [...args]];
      return exec(file, argv as string[]);
    },
  };
}

function exec(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('error', (err) => reject(new StackError(`could not run ${file}: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new StackError(
            `${args.find((a) => a.includes('/bin/')) ?? file} failed (exit ${code}): ${output.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
    });
  });
}

function appendConf(asPg: Runner, file: string, lines: readonly string[]): void {
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
  writeFileSync(file, `${before}\n# bazaar stack db\n${lines.join('\n')}\n`);
  asPg.own(file);
}

function conninfo(port: number, applicationName: string): string {
  return `host=127.0.0.1 port=${port} user=postgres application_name=${applicationName}`;
}

async function findBinaries(log: Log): Promise<string> {
  const found = () => {
    const root = '/usr/lib/postgresql';
    if (!existsSync(root)) return undefined;
    const versions = readdirSync(root)
      .filter(
        (v) =>
          existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_basebackup')),
      )
      .sort((a, b) => Number(b) - Number(a));
    const chosen = versions.includes('15') ? '15' : versions[0];
    return chosen === undefined ? undefined : join(root, chosen, 'bin');
  };
  const bin = found();
  if (bin) return bin;
  if (process.getuid?.() !== 0) {
    throw new StackError(
      'PostgreSQL server programs are missing; install them with: sudo apt-get install postgresql-15',
    );
  }
  log('PostgreSQL server programs are missing; running: apt-get install -y postgresql-15');
  await exec('apt-get', ['install', '-y', 'postgresql-15']);
  const after = found();
  if (!after)
    throw new StackError('apt-get install postgresql-15 did not provide initdb under /usr/lib/postgresql');
  return after;
}

function hasExtension(bin: string): boolean {
  const version = bin.split('/').at(-2);
  return existsSync(`/usr/share/postgresql/${version}/extension/pg_stat_statements.control`);
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', () =>
      reject(
        new StackError(`port ${port} is busy; choose other ports with --base-port (e.g. --base-port 56432)`),
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

async function withClient<T>(port: number, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database,
    connectionTimeoutMillis: 3000,
    application_name: 'bazaar-stack',
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
