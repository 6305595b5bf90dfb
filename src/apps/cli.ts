/**
 * `bazaar` command line. Every command has --help, prints what it does, and exits non-zero with
 * one clear sentence on failure.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config.ts';
import { JOBS_USAGE, JobsUsageError, parseJobsArgs, runJobsRequest } from './jobs-cli.ts';
import { progressBar } from './progress.ts';
import { loadConfigOrExit, migrateAll, startPlatform } from './runtime.ts';
import { DEMO_SEED, seedDemo } from './seed.ts';
import { DEMO_PASSWORD } from './seed-data.ts';
import { runStack, STACK_USAGE, StackUsageError } from './stack/stack-cli.ts';

type Command = Readonly<{
  summary: string;
  usage: string;
  run(args: string[]): Promise<void>;
}>;

const COMMANDS: Record<string, Command> = {
  seed: {
    summary: 'add demo accounts and products up to the given totals (idempotent, resumable)',
    usage:
      'bazaar seed [--products N] [--sellers N] [--buyers N] [--photos]\n\n' +
      `  --products N  total products wanted (default ${DEMO_SEED.products}); only the missing ones are added\n` +
      `  --sellers N   demo sellers seller1..N@bazaar.test (default ${DEMO_SEED.sellers})\n` +
      `  --buyers N    demo buyers buyer1..N@bazaar.test (default ${DEMO_SEED.buyers})\n` +
      `  --photos      generated photos for the ${DEMO_SEED.photos} newest products without any (the worker processes them)\n` +
      `Every demo account, and admin@bazaar.test, has the password "${DEMO_PASSWORD}".`,
    async run(args) {
      const { values } = parseArgs({
        args,
        options: {
          products: { type: 'string' },
          sellers: { type: 'string' },
          buyers: { type: 'string' },
          photos: { type: 'boolean' },
        },
        allowPositionals: false,
      });
      const products = count('products', values.products, DEMO_SEED.products, 10_000_000);
      const sellers = count('sellers', values.sellers, DEMO_SEED.sellers, 100_000);
      const buyers = count('buyers', values.buyers, DEMO_SEED.buyers, 1_000_000);
      const config = loadConfigOrExit();
      const platform = await startPlatform(config, { processName: 'cli' });
      try {
        if (config.migrateOnStart) await migrateAll(platform, (line) => console.log(`  ${line}`));
        let bar: ReturnType<typeof progressBar> | undefined;
        const started = performance.now();
        const report = await seedDemo(platform, config, {
          products,
          sellers,
          buyers,
          photos: values.photos ? DEMO_SEED.photos : 0,
          onProgress: (done, total) => {
            bar ??= progressBar('products', total);
            bar.tick(done);
          },
        });
        bar?.finish();
        const seconds = (performance.now() - started) / 1000;
        console.log(
          `seeded: ${report.sellers} sellers, ${report.buyers} buyers, ${report.productsAdded} products added ` +
            `(${report.productsTotal} in the catalog) in ${seconds.toFixed(1)}s` +
            (report.productsAdded > 0 ? `, ${Math.round(report.productsAdded / seconds)} products/s` : ''),
        );
      } finally {
        await platform.close();
      }
    },
  },
  jobs: {
    summary: 'list background jobs, show failed ones (dead letters) and retry them',
    usage: JOBS_USAGE,
    async run(args) {
      let request: ReturnType<typeof parseJobsArgs>;
      try {
        request = parseJobsArgs(args);
      } catch (err) {
        throw err instanceof JobsUsageError ? new UsageError(err.message) : err;
      }
      const config = loadConfigOrExit();
      const platform = await startPlatform(config, { processName: 'cli' });
      try {
        await runJobsRequest(platform.jobs, request, (text) => console.log(text));
      } finally {
        await platform.close();
      }
    },
  },
  migrate: {
    summary: 'apply every pending database migration (safe to run from several processes at once)',
    usage: 'bazaar migrate',
    async run(args) {
      parseArgs({ args, options: {}, allowPositionals: false });
      const config = loadConfigOrExit();
      const platform = await startPlatform(config, { processName: 'cli' });
      try {
        const target = config.databaseUrl ? redact(config.databaseUrl) : `PGlite in ${config.dataDir}`;
        console.log(`migrating ${target}`);
        const count = await migrateAll(platform, (line) => console.log(`  ${line}`));
        console.log(count === 0 ? 'schema already current' : `applied ${count} migration(s)`);
      } finally {
        await platform.close();
      }
    },
  },
  stack: {
    summary:
      'run a real PostgreSQL topology on this machine: primary, replicas, standby (docs/operations.md)',
    usage: STACK_USAGE,
    async run(args) {
      try {
        await runStack(args, (line) => console.log(line));
      } catch (err) {
        throw err instanceof StackUsageError ? new UsageError(err.message) : err;
      }
    },
  },
};

function count(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > max) {
    throw new UsageError(`--${name} must be a whole number from 0 to ${max}, not "${raw}"`);
  }
  return Number(raw);
}

class UsageError extends Error {}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: bazaar <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `bazaar <command> --help` for a command’s options. Configuration comes from the',
    'environment (and .env); see docs/configuration.md.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`bazaar: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) console.error(`bazaar: ${err.message}`);
    else if (err instanceof UsageError) {
      console.error(`bazaar ${name}: ${err.message}\nusage: ${command.usage}`);
      return 2;
    } else if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`bazaar ${name}: ${err.message}\nusage: ${command.usage}`);
      return 2;
    } else console.error(`bazaar ${name}: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
