/**
 * `bazaar stack db`: a real PostgreSQL topology on one machine, from the machine's own binaries.
 * A primary, N streaming replicas (pg_basebackup -R -X stream, one physical replication slot
 * each, optional `recovery_min_apply_delay`) and optionally a synchronous standby, each in a
 * folder of DIR with its own port (base, base+1…), its own log (DIR/<node>.log) and its
 * `application_name` (the node's name) in `pg_stat_replication`. DIR/stack.json records the
 * topology: `create` is idempotent (starts what is stopped) and refuses another topology in the
 * same DIR; `stop` stops exactly the nodes recorded there.
 *
 * With `pgbouncer`, PgBouncer (the Debian package, installed with apt when missing) runs in
 * transaction mode on the port after the nodes' (DIR/pgbouncer: pgbouncer.ini, userlist.txt,
 * log, pid). Its database `bazaar` is the current primary (re-pointed and reloaded by
 * `promote`); `bazaar_replica1`… pool each replica too, but the printed environment keeps
 * replicas direct, so a replica that dies is a connection error the router sees at once
 * rather than PgBouncer queueing clients for it. Auth is `trust` with a generated userlist
 * (the clusters trust local connections too); the admin console is database `pgbouncer`.
 *
 * PostgreSQL's server programs refuse to run as root: as root they run as the `postgres` user
 * (runuser) and DIR is given to it; as another user they run as that user. PgBouncer likewise.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { STATEMENT_TIMEOUT_MS } from '../../src/platform/sql/postgres/postgres-sql.ts';

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
  /** PgBouncer in front of the primary, when created with `pgbouncer`. */
  pgbouncer?: PgBouncerInfo;
}>;

export type PgBouncerInfo = Readonly<{
  port: number;
  /** Server connections per pool (`default_pool_size`). */
  poolSize: number;
  /** Client connections PgBouncer accepts (`max_client_conn`). */
  maxClients: number;
  /** DIR/pgbouncer: config, userlist, log and pid file. */
  dir: string;
}>;

export type CreateOptions = Readonly<{
  replicas: number;
  standby: boolean;
  delayMs: number;
  dir: string;
  basePort: number;
  /** fsync off: fast and unsafe on power loss; for tests and demos. */
  fast: boolean;
  /** PgBouncer in transaction mode in front of the primary (added to an existing stack too). */
  pgbouncer?: boolean;
  /** PgBouncer's server connections per pool (default 10). */
  pgbouncerPoolSize?: number;
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
    if (options.pgbouncer && !existing.pgbouncer) return addPgBouncer(existing, options, log);
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
    await basebackup(asPg, bin, primary, node, options.delayMs);
    await startNode(manifest, node, bin, log);
  }
  if (options.standby) {
    log('primary: synchronous_standby_names = standby');
    await withClient(primary.port, 'postgres', async (c) => {
      await c.query(`alter system set synchronous_standby_names = 'standby'`);
      await c.query('select pg_reload_conf()');
    });
  }
  if (options.pgbouncer) return addPgBouncer(manifest, options, log);
  return manifest;
}

/** A streaming copy of `from` in `node.dataDir`, on its slot, configured to follow `from`. */
async function basebackup(
  asPg: Runner,
  bin: string,
  from: StackNode,
  node: StackNode,
  delayMs: number,
): Promise<void> {
  await asPg.run(join(bin, 'pg_basebackup'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(from.port),
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
    `primary_conninfo = '${conninfo(from.port, node.name)}'`,
    `primary_slot_name = '${node.name}'`,
    ...(node.role === 'replica' && delayMs > 0 ? [`recovery_min_apply_delay = '${delayMs}ms'`] : []),
  ]);
}

function writeManifest(manifest: StackManifest): void {
  writeFileSync(join(manifest.dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
}

async function startStack(manifest: StackManifest, bin: string, log: Log): Promise<void> {
  for (const node of manifest.nodes) {
    if (pidOf(node) === undefined) await startNode(manifest, node, bin, log);
  }
  if (manifest.pgbouncer && pgbouncerPid(manifest.pgbouncer) === undefined) {
    await startPgBouncer(manifest.pgbouncer, await findPgBouncer(log), log);
  }
}

/** Starts one recorded node, or `pgbouncer` (no-op when it runs). */
export async function startNodeByName(dir: string, name: string, log: Log): Promise<void> {
  const manifest = requireManifest(dir);
  if (name === 'pgbouncer' && manifest.pgbouncer) {
    if (pgbouncerPid(manifest.pgbouncer) === undefined)
      await startPgBouncer(manifest.pgbouncer, await findPgBouncer(log), log);
    return;
  }
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
  const pooler = manifest.pgbouncer;
  if (pooler && (options.node === undefined || options.node === 'pgbouncer')) {
    await stopPgBouncer(pooler, log);
    if (options.node === 'pgbouncer') return;
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
 * Promotes the standby (or the named replica) to primary, re-points PgBouncer at it, then
 * (unless `repoint: false`) makes the other running nodes follow it (`repoint`).
 * Stop the old primary first: two primaries would accept diverging writes.
 */
export async function promote(
  dir: string,
  name: string | undefined,
  log: Log,
  options: Readonly<{ repoint?: boolean }> = {},
): Promise<StackManifest> {
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
  await withClient(target.port, 'postgres', async (c) => {
    await c.query(`alter system set synchronous_standby_names = ''`);
    await c.query('select pg_reload_conf()');
  });
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
  writeManifest(next);
  if (next.pgbouncer) {
    log(`pgbouncer: database ${DATABASE} now leads to ${target.name}`);
    writePgBouncerConfig(next, runner());
    if (pgbouncerPid(next.pgbouncer) !== undefined) await pgbouncerAdmin(next.pgbouncer.port, 'RELOAD');
  }
  if (options.repoint !== false) await repoint(dir, undefined, log);
  return next;
}

/** How long a re-pointed node may take to stream from the new primary before it is cloned again. */
const FOLLOW_TIMEOUT_MS = 15_000;

/**
 * Makes the named node, or every running node but the primary, follow the current primary:
 * a replication slot for it there, `primary_conninfo` and `primary_slot_name` set with ALTER
 * SYSTEM and reloaded (PostgreSQL 15 applies both on reload; `recovery_target_timeline` is
 * `latest` by default, so the node switches to the new timeline). A node that does not stream
 * from the primary within 15 s (it replayed WAL the new primary never had, after a crash of
 * the old one), or that is not in recovery (an old primary started again), is cloned again
 * from the primary with pg_basebackup. A named node that is stopped is cloned and started.
 * Returns the names of the nodes now following.
 */
export async function repoint(dir: string, name: string | undefined, log: Log): Promise<string[]> {
  const manifest = requireManifest(dir);
  const primary = nodeNamed(manifest, manifest.primary);
  if (name === manifest.primary) throw new StackError(`${name} is the primary; it follows nobody`);
  const followers = name
    ? [nodeNamed(manifest, name)]
    : manifest.nodes.filter((n) => n.name !== primary.name && pidOf(n) !== undefined);
  const bin = await findBinaries(log);
  await withClient(primary.port, 'postgres', async (c) => {
    for (const f of followers) {
      await c.query(
        'select pg_create_physical_replication_slot($1) where not exists (select 1 from pg_replication_slots where slot_name = $1)',
        [f.name],
      );
    }
  });
  for (const f of followers) {
    const recovering =
      pidOf(f) !== undefined &&
      (await withClient(f.port, 'postgres', async (c) => {
        const { rows } = await c.query<{ r: boolean }>('select pg_is_in_recovery() as r');
        return rows[0]!.r;
      }).catch(() => false));
    if (recovering) {
      log(`${f.name}: primary_conninfo -> ${primary.name} (port ${primary.port}), reload`);
      await withClient(f.port, 'postgres', async (c) => {
        await c.query(`alter system set primary_conninfo = '${conninfo(primary.port, f.name)}'`);
        await c.query(`alter system set primary_slot_name = '${f.name}'`);
        await c.query('select pg_reload_conf()');
      });
      if (await streamsFrom(f, primary)) {
        log(`${f.name} follows ${primary.name}`);
        continue;
      }
      log(`${f.name} does not stream from ${primary.name} (diverged timeline?); cloning it again`);
    } else {
      log(
        `${f.name} is ${pidOf(f) === undefined ? 'stopped' : 'not a replica'}; cloning it from ${primary.name}`,
      );
    }
    await reclone(manifest, f, primary, bin, log);
    if (!(await streamsFrom(f, primary)))
      throw new StackError(
        `${f.name} was cloned again but does not stream; see ${join(dir, `${f.name}.log`)}`,
      );
  }
  return followers.map((f) => f.name);
}

/**
 * True once `node` streams from `primary`, on the primary's timeline, and has received the
 * primary's flushed WAL. The timeline matters: a node that replayed WAL the new primary never
 * had may briefly report "streaming" with a flushed position past the primary's, on the old one.
 */
async function streamsFrom(node: StackNode, primary: StackNode): Promise<boolean> {
  const target = await withClient(primary.port, 'postgres', async (c) => {
    const { rows } = await c.query<{ lsn: string; walfile: string }>(
      'select pg_current_wal_flush_lsn()::text as lsn, pg_walfile_name(pg_current_wal_flush_lsn()) as walfile',
    );
    return { lsn: rows[0]!.lsn, timeline: Number.parseInt(rows[0]!.walfile.slice(0, 8), 16) };
  });
  const deadline = Date.now() + FOLLOW_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const ok = await withClient(node.port, 'postgres', async (c) => {
      const { rows } = await c.query<{ ok: boolean }>(
        `select status = 'streaming' and sender_port = $1 and received_tli = $3
                and flushed_lsn >= $2::pg_lsn as ok
           from pg_stat_wal_receiver`,
        [primary.port, target.lsn, target.timeline],
      );
      return rows[0]?.ok === true;
    }).catch(() => false);
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Stops `node`, replaces its data with a fresh pg_basebackup of `primary`, starts it. */
async function reclone(
  manifest: StackManifest,
  node: StackNode,
  primary: StackNode,
  bin: string,
  log: Log,
): Promise<void> {
  const asPg = runner();
  if (pidOf(node) !== undefined) {
    await asPg.run(join(bin, 'pg_ctl'), ['-D', node.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
  }
  rmSync(node.dataDir, { recursive: true, force: true });
  log(`pg_basebackup ${node.name} from ${primary.name} (slot ${node.name})`);
  await basebackup(asPg, bin, primary, node, manifest.delayMs);
  await startNode(manifest, node, bin, log);
}

// ---------------------------------------------------------------------------------------------
// status and environment

export type NodeState = Readonly<{
  name: string;
  /** `pgbouncer`: the pooler (its lsn and lags are null). */
  role: NodeRole | 'pgbouncer' | 'stopped';
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
  if (manifest.pgbouncer) {
    const pid = pgbouncerPid(manifest.pgbouncer) ?? null;
    states.push({
      name: 'pgbouncer',
      role: pid === null ? 'stopped' : 'pgbouncer',
      port: manifest.pgbouncer.port,
      pid,
      lsn: null,
      lagBytes: null,
      replayLagMs: null,
    });
  }
  return states;
}

/**
 * The variables that point Bazaar at this topology. With PgBouncer: DATABASE_URL is PgBouncer,
 * DATABASE_DIRECT_URL the primary itself (pg-boss's LISTEN), DATABASE_POOLER says transaction
 * mode; replicas stay direct (see the file header), and there is no DATABASE_FAILOVER_URLS:
 * PgBouncer is the one endpoint, which `promote` re-points at the new primary.
 */
export function stackEnvironment(manifest: StackManifest): Record<string, string> {
  const url = (port: number) => `postgres://postgres@127.0.0.1:${port}/${DATABASE}`;
  const primary = nodeNamed(manifest, manifest.primary);
  const replicas = manifest.nodes.filter((n) => n.role === 'replica');
  const standby = manifest.nodes.find((n) => n.role === 'standby');
  const pooler = manifest.pgbouncer;
  return {
    DATABASE_URL: url(pooler ? pooler.port : primary.port),
    ...(pooler ? { DATABASE_DIRECT_URL: url(primary.port), DATABASE_POOLER: 'pgbouncer-transaction' } : {}),
    ...(replicas.length > 0 ? { DATABASE_REPLICA_URLS: replicas.map((n) => url(n.port)).join(',') } : {}),
    ...(standby && !pooler ? { DATABASE_FAILOVER_URLS: url(standby.port) } : {}),
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
// PgBouncer

async function addPgBouncer(
  manifest: StackManifest,
  options: CreateOptions,
  log: Log,
): Promise<StackManifest> {
  const exe = await findPgBouncer(log);
  const port = manifest.basePort + manifest.nodes.length;
  await assertPortFree(port);
  const asPg = runner();
  const dir = join(manifest.dir, 'pgbouncer');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  asPg.own(dir);
  const next: StackManifest = {
    ...manifest,
    pgbouncer: { port, poolSize: options.pgbouncerPoolSize ?? 10, maxClients: 500, dir },
  };
  // PgBouncer refuses startup parameters it does not track, so the app sends no
  // statement_timeout behind it (DATABASE_POOLER): the database sets it instead.
  const primary = nodeNamed(manifest, manifest.primary);
  await withClient(primary.port, 'postgres', (c) =>
    c.query(`alter database ${DATABASE} set statement_timeout = '${STATEMENT_TIMEOUT_MS}ms'`),
  );
  writePgBouncerConfig(next, asPg);
  writeFileSync(join(manifest.dir, MANIFEST), `${JSON.stringify(next, null, 2)}\n`);
  await startPgBouncer(next.pgbouncer!, exe, log);
  return next;
}

/** pgbouncer.ini and userlist.txt from the manifest (the current primary, every replica). */
function writePgBouncerConfig(manifest: StackManifest, asPg: Runner): void {
  const pooler = manifest.pgbouncer!;
  const primary = nodeNamed(manifest, manifest.primary);
  const target = (port: number) => `host=127.0.0.1 port=${port} dbname=${DATABASE}`;
  const replicas = manifest.nodes.filter((n) => n.role === 'replica');
  const ini = [
    '; generated by bazaar stack db --pgbouncer; rewritten by promote',
    '[databases]',
    `${DATABASE} = ${target(primary.port)}`,
    ...replicas.map((n) => `${DATABASE}_${n.name} = ${target(n.port)}`),
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${pooler.port}`,
    'unix_socket_dir =',
    'pool_mode = transaction',
    `default_pool_size = ${pooler.poolSize}`,
    'reserve_pool_size = 0',
    `max_client_conn = ${pooler.maxClients}`,
    'auth_type = trust',
    `auth_file = ${join(pooler.dir, 'userlist.txt')}`,
    'admin_users = postgres',
    'stats_users = postgres',
    'server_reset_query =',
    'server_login_retry = 1',
    // node-postgres sends no other untracked parameter; pg-boss none.
    'ignore_startup_parameters = extra_float_digits',
    `logfile = ${join(pooler.dir, 'pgbouncer.log')}`,
    `pidfile = ${join(pooler.dir, 'pgbouncer.pid')}`,
    '',
  ];
  for (const [file, text] of [
    ['pgbouncer.ini', ini.join('\n')],
    ['userlist.txt', '"postgres" ""\n'],
  ] as const) {
    writeFileSync(join(pooler.dir, file), text, { mode: 0o600 });
    asPg.own(join(pooler.dir, file));
  }
}

async function startPgBouncer(pooler: PgBouncerInfo, exe: string, log: Log): Promise<void> {
  log(
    `starting pgbouncer on port ${pooler.port} (transaction mode, ${pooler.poolSize} server connections per pool)`,
  );
  await assertPortFree(pooler.port);
  await runner().run(exe, ['-d', '-q', join(pooler.dir, 'pgbouncer.ini')]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await pgbouncerAdmin(pooler.port, 'SHOW VERSION');
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new StackError(
          `pgbouncer did not answer on port ${pooler.port} within 10 s (${(err as Error).message}); see ${join(pooler.dir, 'pgbouncer.log')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function stopPgBouncer(pooler: PgBouncerInfo, log: Log): Promise<void> {
  const pid = pgbouncerPid(pooler);
  if (pid === undefined) return;
  log(`stopping pgbouncer (port ${pooler.port})`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (pgbouncerPid(pooler) !== undefined) {
    if (Date.now() > deadline) throw new StackError(`pgbouncer (pid ${pid}) did not stop within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** PgBouncer's pid when it runs. */
export function pgbouncerPid(pooler: PgBouncerInfo): number | undefined {
  return livePid(join(pooler.dir, 'pgbouncer.pid'));
}

/**
 * Runs one command on PgBouncer's admin console (database `pgbouncer`; simple protocol, which
 * is all the console speaks) and returns its rows: `SHOW POOLS`, `SHOW STATS`, `RELOAD`…
 */
export async function pgbouncerAdmin(port: number, command: string): Promise<Record<string, unknown>[]> {
  return withClient(port, 'pgbouncer', async (c) => (await c.query(command)).rows);
}

async function findPgBouncer(log: Log): Promise<string> {
  const found = () => ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((f) => existsSync(f));
  const exe = found();
  if (exe) return exe;
  if (process.getuid?.() !== 0) {
    throw new StackError('PgBouncer is missing; install it with: sudo apt-get install pgbouncer');
  }
  log('PgBouncer is missing; running: apt-get install -y pgbouncer');
  await exec('env', [
    'DEBIAN_FRONTEND=noninteractive',
    'apt-get',
    '-o',
    'DPkg::Lock::Timeout=300',
    'install',
    '-y',
    'pgbouncer',
  ]);
  const after = found();
  if (!after) throw new StackError('apt-get install pgbouncer did not provide /usr/sbin/pgbouncer');
  return after;
}

// ---------------------------------------------------------------------------------------------
// processes

/** The postmaster's pid when the node runs. */
export function pidOf(node: StackNode): number | undefined {
  return livePid(join(node.dataDir, 'postmaster.pid'));
}

/** The pid on the first line of `file` when that process is alive. */
function livePid(file: string): number | undefined {
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

/** Runs a program to completion; rejects with its exit code and last output lines. */
export function exec(file: string, args: string[]): Promise<void> {
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

/** Rejects with a StackError naming the port and `--base-port` when 127.0.0.1:port is taken. */
export function assertPortFree(port: number): Promise<void> {
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
