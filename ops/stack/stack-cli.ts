/**
 * Argument parsing and output of `bazaar stack`. The work is in stack-db.ts (db) and
 * stack-fleet.ts (up, status, down, restart).
 */
import { parseArgs } from 'node:util';
import {
  createStack,
  DEFAULT_BASE_PORT,
  DEFAULT_DIR,
  promote,
  readManifest,
  repoint,
  StackError,
  stackEnvironment,
  stackStatus,
  startNodeByName,
  stopStack,
} from './stack-db.ts';
import {
  FLEET_DEFAULT_BASE_PORT,
  FLEET_DEFAULT_DIR,
  fleetDown,
  fleetStatus,
  fleetUp,
  restartFleetProcess,
} from './stack-fleet.ts';

/** `bazaar stack db`: the database topology alone. */
export const STACK_DB_USAGE = [
  'bazaar stack db --replicas N [--standby] [--delay-ms D] [--pgbouncer [--pool-size S]] [--dir DIR] [--base-port P] [--fast]',
  'bazaar stack db status [--json] [--dir DIR]',
  'bazaar stack db promote [--node NAME] [--dir DIR]',
  'bazaar stack db repoint [--node NAME] [--dir DIR]',
  'bazaar stack db start [--node NAME] [--dir DIR]',
  'bazaar stack db stop [--node NAME] [--immediate] [--remove] [--dir DIR]',
  '',
  'Real PostgreSQL 15 clusters in a folder: a primary, streaming replicas, a synchronous standby,',
  'PgBouncer. Prints the environment to export. Runs the server programs as the postgres user when root.',
  '  --replicas N   streaming replicas (0-8), each with its own replication slot',
  '  --standby      also a synchronous standby (synchronous_standby_names), to promote on failover',
  '  --delay-ms D   recovery_min_apply_delay on the replicas, to make lag visible',
  '  --pgbouncer    PgBouncer in transaction mode in front of the primary, on the port after the nodes',
  '  --pool-size S  PgBouncer server connections per pool (default 10)',
  `  --dir DIR      where the clusters live (default ${DEFAULT_DIR}); stack.json records the topology`,
  `  --base-port P  primary's port; replicas P+1…, standby after them (default ${DEFAULT_BASE_PORT})`,
  '  --fast         fsync off: for tests and demos only',
  '  --node NAME    promote/repoint/start/stop one node (primary, replica1…, standby, pgbouncer)',
  '  --remove       with stop: delete DIR afterwards',
  '  --immediate    with stop: pg_ctl -m immediate (a crash, for failover drills)',
  'repoint: replicas (and the old primary, if it runs) follow the current primary: slot, primary_conninfo,',
  '         reload; one that cannot follow (it diverged) is cloned again. promote repoints as well.',
  'See docs/operations.md, "Data tier".',
].join('\n');

/** `bazaar stack up|status|restart|down`: the whole fleet. */
export const STACK_FLEET_USAGE = [
  'bazaar stack up --web N --workers M [--replicas R] [--standby] [--photos] [--dir DIR] [--base-port P] [--fast]',
  'bazaar stack status [--json] [--dir DIR]',
  'bazaar stack restart NAME [--dir DIR]   (graceful rotation: SIGTERM, drain, start, ready)',
  'bazaar stack down [--remove] [--dir DIR]',
  '',
  'up: the database topology of `bazaar stack db`, Redis, N web processes and M workers behind HAProxy,',
  `nginx in front as the edge cache (entry URL printed). Default --dir ${FLEET_DEFAULT_DIR}, --base-port`,
  `${FLEET_DEFAULT_BASE_PORT}: nginx P, HAProxy P+1 (stats P+2), Redis P+3, web P+11…, PostgreSQL P+40….`,
  'Installs redis-server, haproxy and nginx with apt when missing. See docs/operations.md, "Fleet".',
].join('\n');

/** The usage of `bazaar stack` (both), or of the verb that `args` start with. */
export function stackUsage(args: readonly string[] = []): string {
  if (args[0] === 'db') return STACK_DB_USAGE;
  if (['up', 'status', 'restart', 'down'].includes(args[0] ?? '')) return STACK_FLEET_USAGE;
  const [fleetSynopsis, fleetRest] = STACK_FLEET_USAGE.split('\n\n');
  const [dbSynopsis, dbRest] = STACK_DB_USAGE.split('\n\n');
  return `${fleetSynopsis}\n${dbSynopsis}\n\n${fleetRest}\n\n${dbRest}\n\nRun "bazaar stack db --help" or "bazaar stack up --help" for one of them.`;
}

export class StackUsageError extends Error {}

export async function runStack(args: string[], print: (line: string) => void): Promise<void> {
  const [tier, ...rest] = args;
  if (tier === 'up' || tier === 'status' || tier === 'down' || tier === 'restart') {
    return runFleet(tier, rest, print);
  }
  if (tier !== 'db')
    throw new StackUsageError(`unknown verb "${tier ?? ''}"; use db, up, status, restart or down`);
  const sub = rest[0] && !rest[0].startsWith('-') ? rest[0] : 'create';
  const { values } = parseArgs({
    args: sub === 'create' ? rest : rest.slice(1),
    options: {
      replicas: { type: 'string' },
      standby: { type: 'boolean' },
      'delay-ms': { type: 'string' },
      dir: { type: 'string' },
      'base-port': { type: 'string' },
      fast: { type: 'boolean' },
      json: { type: 'boolean' },
      node: { type: 'string' },
      remove: { type: 'boolean' },
      immediate: { type: 'boolean' },
      pgbouncer: { type: 'boolean' },
      'pool-size': { type: 'string' },
    },
    allowPositionals: false,
  });
  const dir = values.dir ?? DEFAULT_DIR;
  const log = (line: string) => print(`  ${line}`);
  try {
    switch (sub) {
      case 'create': {
        const started = performance.now();
        const manifest = await createStack(
          {
            replicas: whole('replicas', values.replicas, 0, 8, 0),
            standby: values.standby ?? false,
            delayMs: whole('delay-ms', values['delay-ms'], 0, 3_600_000, 0),
            dir,
            basePort: whole('base-port', values['base-port'], 1024, 65_000, DEFAULT_BASE_PORT),
            fast: values.fast ?? false,
            pgbouncer: values.pgbouncer ?? false,
            pgbouncerPoolSize: whole('pool-size', values['pool-size'], 1, 1000, 10),
          },
          log,
        );
        print(`stack ready in ${((performance.now() - started) / 1000).toFixed(1)}s; export:`);
        for (const [k, v] of Object.entries(stackEnvironment(manifest))) print(`export ${k}=${v}`);
        return;
      }
      case 'status': {
        const states = await stackStatus(dir);
        if (values.json) {
          print(JSON.stringify(states, null, 2));
          return;
        }
        print('node       role      port   pid      lsn           lag bytes  replay lag');
        for (const s of states) {
          print(
            `${s.name.padEnd(10)} ${s.role.padEnd(9)} ${String(s.port).padEnd(6)} ${String(s.pid ?? '-').padEnd(8)} ` +
              `${(s.lsn ?? '-').padEnd(13)} ${String(s.lagBytes ?? '-').padEnd(10)} ${s.replayLagMs === null ? '-' : `${Math.round(s.replayLagMs)} ms`}`,
          );
        }
        return;
      }
      case 'promote': {
        const manifest = await promote(dir, values.node, log);
        print(`${manifest.primary} is the primary; export:`);
        for (const [k, v] of Object.entries(stackEnvironment(manifest))) print(`export ${k}=${v}`);
        return;
      }
      case 'repoint': {
        const followers = await repoint(dir, values.node, log);
        print(`${followers.join(', ') || 'no node'} now follow(s) the primary`);
        return;
      }
      case 'start': {
        const manifest = readManifest(dir);
        if (!manifest) throw new StackError(`no stack in ${dir}`);
        const names = manifest.nodes.map((x) => x.name);
        for (const n of values.node ? [values.node] : manifest.pgbouncer ? [...names, 'pgbouncer'] : names) {
          await startNodeByName(dir, n, log);
        }
        return;
      }
      case 'stop':
        await stopStack(
          {
            dir,
            ...(values.node ? { node: values.node } : {}),
            remove: values.remove ?? false,
            ...(values.immediate ? { mode: 'immediate' as const } : {}),
          },
          log,
        );
        return;
      default:
        throw new StackUsageError(`unknown subcommand "${sub}"`);
    }
  } catch (err) {
    if (err instanceof StackError) throw new Error(err.message);
    throw err;
  }
}

async function runFleet(
  verb: 'up' | 'status' | 'down' | 'restart',
  args: string[],
  print: (line: string) => void,
) {
  const { values, positionals } = parseArgs({
    args,
    options: {
      web: { type: 'string' },
      workers: { type: 'string' },
      replicas: { type: 'string' },
      standby: { type: 'boolean' },
      photos: { type: 'boolean' },
      dir: { type: 'string' },
      'base-port': { type: 'string' },
      fast: { type: 'boolean' },
      json: { type: 'boolean' },
      remove: { type: 'boolean' },
    },
    allowPositionals: verb === 'restart',
  });
  const dir = values.dir ?? FLEET_DEFAULT_DIR;
  const log = (line: string) => print(`  ${line}`);
  try {
    switch (verb) {
      case 'up': {
        const started = performance.now();
        const fleet = await fleetUp(
          {
            web: whole('web', values.web, 1, 20, 2),
            workers: whole('workers', values.workers, 0, 20, 1),
            replicas: whole('replicas', values.replicas, 0, 8, 0),
            standby: values.standby ?? false,
            photos: values.photos ?? false,
            dir,
            basePort: whole('base-port', values['base-port'], 1024, 65_000, FLEET_DEFAULT_BASE_PORT),
            fast: values.fast ?? false,
          },
          log,
        );
        print(`fleet up in ${((performance.now() - started) / 1000).toFixed(1)}s: ${fleet.entryUrl}`);
        print(`status: bazaar stack status --dir ${fleet.dir}; stop: bazaar stack down --dir ${fleet.dir}`);
        return;
      }
      case 'status': {
        const status = await fleetStatus(dir);
        if (values.json) {
          print(JSON.stringify(status, null, 2));
          return;
        }
        print(`entry: ${status.entryUrl}`);
        print('name       role      port   pid      health');
        for (const p of status.processes) {
          print(
            `${p.name.padEnd(10)} ${p.role.padEnd(9)} ${String(p.port ?? '-').padEnd(6)} ${String(p.pid ?? '-').padEnd(8)} ` +
              `${p.healthy ? 'ok' : 'FAIL'}: ${p.health}`,
          );
        }
        return;
      }
      case 'restart': {
        const name = positionals[0];
        if (!name || positionals.length > 1)
          throw new StackUsageError('name one process: bazaar stack restart web1');
        const pid = await restartFleetProcess(dir, name, log);
        print(`${name} restarted (pid ${pid})`);
        return;
      }
      case 'down':
        if (await fleetDown({ dir, remove: values.remove ?? false }, log)) print('fleet stopped');
        return;
    }
  } catch (err) {
    if (err instanceof StackError) throw new Error(err.message);
    throw err;
  }
}

function whole(name: string, raw: string | undefined, min: number, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new StackUsageError(`--${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
  }
  return Number(raw);
}
