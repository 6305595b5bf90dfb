/**
 * Argument parsing and output of `bazaar stack`. The work is in stack-db.ts.
 */
import { parseArgs } from 'node:util';
import {
  createStack,
  DEFAULT_BASE_PORT,
  DEFAULT_DIR,
  promote,
  readManifest,
  StackError,
  stackEnvironment,
  stackStatus,
  startNodeByName,
  stopStack,
} from './stack-db.ts';

export const STACK_USAGE = [
  'bazaar stack db --replicas N [--standby] [--delay-ms D] [--dir DIR] [--base-port P] [--fast]',
  'bazaar stack db status [--json] [--dir DIR]',
  'bazaar stack db promote [--node NAME] [--dir DIR]',
  'bazaar stack db start [--node NAME] [--dir DIR]',
  'bazaar stack db stop [--node NAME] [--immediate] [--remove] [--dir DIR]',
  '',
  '  --replicas N   streaming replicas (0-8), each with its own replication slot',
  '  --standby      also a synchronous standby (synchronous_standby_names), to promote on failover',
  '  --delay-ms D   recovery_min_apply_delay on the replicas, to make lag visible',
  `  --dir DIR      where the clusters live (default ${DEFAULT_DIR}); stack.json records the topology`,
  `  --base-port P  primary's port; replicas P+1…, standby after them (default ${DEFAULT_BASE_PORT})`,
  '  --fast         fsync off: for tests and demos only',
  '  --node NAME    promote/start/stop one node (primary, replica1…, standby)',
  '  --remove       with stop: delete DIR afterwards',
  '  --immediate    with stop: pg_ctl -m immediate (a crash, for failover drills)',
  'Prints the environment to export. Runs the server programs as the postgres user when root.',
].join('\n');

export class StackUsageError extends Error {}

export async function runStack(args: string[], print: (line: string) => void): Promise<void> {
  const [tier, ...rest] = args;
  if (tier !== 'db') throw new StackUsageError(`unknown tier "${tier ?? ''}"; only "db" exists`);
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
      case 'start': {
        const manifest = readManifest(dir);
        if (!manifest) throw new StackError(`no stack in ${dir}`);
        for (const n of values.node ? [values.node] : manifest.nodes.map((x) => x.name)) {
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

function whole(name: string, raw: string | undefined, min: number, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new StackUsageError(`--${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
  }
  return Number(raw);
}
