/**
 * `bazaar` command line. Every command has --help, prints what it does, and exits non-zero with
 * one clear sentence on failure: 2 for a usage error (no command or an unknown one, unknown option,
 * bad value; no command prints the help on stderr), 1
 * when the work fails, 130 when interrupted. Each command loads its code when it runs, so help
 * and usage errors answer at once.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { ConfigError } from '../config/config.ts';
import type { Platform } from '../platform/platform.ts';
import { AppError } from '../shared/errors.ts';
import { type Progress, progressBar } from './progress.ts';
import { DEMO_PASSWORD, DEMO_SEED } from './seed-data.ts';

type Command = Readonly<{
  summary: string;
  /** The usage text (of the sub-command `args` name, where it has its own); may load the command's module. */
  usage(args?: readonly string[]): string | Promise<string>;
  run(args: string[]): Promise<void>;
}>;

/**
 * Configuration and the platform, with the schema current: migrated here when MIGRATE_ON_START
 * (the default with PGlite), otherwise checked, so a missing `bazaar migrate` is one clear
 * sentence and not a failed query halfway.
 */
async function openPlatform(
  options: Readonly<{ needsSchema: boolean }> = { needsSchema: true },
): Promise<{ config: Config; platform: Platform }> {
  const { loadConfigOrExit, migrateAll, startPlatform } = await import('./runtime.ts');
  const { MODULES } = await import('./modules.ts');
  const config = loadConfigOrExit();
  const platform = await startPlatform(config, { processName: 'cli' });
  try {
    if (config.migrateOnStart) await migrateAll(platform, (line) => console.log(`  ${line}`));
    else if (options.needsSchema) {
      const pending = await platform.sql.pending(MODULES.map((m) => m.migrations));
      if (pending.length > 0) {
        throw new Error(
          `the database schema is not current (${pending.length} migration(s) pending, e.g. ${pending[0]}); run "bazaar migrate" first`,
        );
      }
    }
  } catch (err) {
    await platform.close().catch(() => {});
    throw err;
  }
  return { config, platform };
}

/** The seed stopped between batches on Ctrl-C. */
class Interrupted extends Error {}

const COMMANDS: Record<string, Command> = {
  seed: {
    summary: 'add demo accounts, products and orders up to the given totals (idempotent, resumable)',
    usage: () =>
      'bazaar seed [--products N] [--sellers N] [--buyers N] [--orders N] [--photos] [--batch-size N]\n\n' +
      `  --products N    total products wanted (default ${DEMO_SEED.products}); only the missing ones are added\n` +
      `  --sellers N     demo sellers seller1..N@bazaar.test (default ${DEMO_SEED.sellers})\n` +
      `  --buyers N      demo buyers buyer1..N@bazaar.test (default ${DEMO_SEED.buyers})\n` +
      `  --orders N      total orders of the demo buyers wanted (default ${DEMO_SEED.orders}); only the missing ones\n` +
      '                  are added, placed over the last 90 days: placed, shipped, delivered or cancelled,\n' +
      '                  stock taken from the products (sold-out products are skipped)\n' +
      `  --photos        generated photos for the ${DEMO_SEED.photos} newest products this run adds (the worker processes them)\n` +
      '  --batch-size N  rows per batch and transaction (default 1000)\n' +
      `Every demo account, and admin@bazaar.test, has the password "${DEMO_PASSWORD}" (hashed once, shared).\n` +
      'Ctrl-C stops after the batch in flight; running the same command again finishes the job\n' +
      '(also after a crash): nothing is added twice. Run one seed at a time per database.',
    async run(args) {
      const { values } = parseArgs({
        args,
        options: {
          products: { type: 'string' },
          sellers: { type: 'string' },
          buyers: { type: 'string' },
          orders: { type: 'string' },
          photos: { type: 'boolean' },
          'batch-size': { type: 'string' },
        },
        allowPositionals: false,
      });
      const products = count('products', values.products, DEMO_SEED.products, 10_000_000);
      const sellers = count('sellers', values.sellers, DEMO_SEED.sellers, 100_000);
      const buyers = count('buyers', values.buyers, DEMO_SEED.buyers, 1_000_000);
      const orders = count('orders', values.orders, DEMO_SEED.orders, 10_000_000);
      const batchSize = count('batch-size', values['batch-size'], 1000, 10_000);
      if (batchSize === 0) throw new UsageError('--batch-size must be at least 1');
      const { SeedInterrupted, seedDemo } = await import('./seed.ts');
      const { config, platform } = await openPlatform();
      const abort = new AbortController();
      const onSigint = () => {
        if (abort.signal.aborted) process.exit(130);
        abort.abort();
        process.stderr.write(
          '\nstopping after the batch in flight (Ctrl-C again to quit now; a rerun resumes either way)\n',
        );
      };
      process.on('SIGINT', onSigint);
      const bars = new Map<string, Progress>();
      try {
        const started = performance.now();
        const report = await seedDemo(platform, config, {
          products,
          sellers,
          buyers,
          orders,
          batchSize,
          photos: values.photos ? DEMO_SEED.photos : 0,
          signal: abort.signal,
          onProgress: (phase, done, total) => {
            if (total === 0) return;
            let bar = bars.get(phase);
            if (!bar) {
              for (const other of bars.values()) other.finish();
              bars.clear();
              bar = progressBar(phase.padEnd(8), total);
              bars.set(phase, bar);
            }
            bar.tick(done);
          },
        });
        for (const bar of bars.values()) bar.finish();
        const seconds = (performance.now() - started) / 1000;
        const { phases } = report;
        const rate = (p: { rows: number; seconds: number }) =>
          p.rows > 0 && p.seconds > 0 ? `${Math.round(p.rows / p.seconds)} rows/s` : '-';
        console.log(
          `seeded in ${seconds.toFixed(1)}s: ${report.sellers} sellers and ${report.buyers} buyers (password "${DEMO_PASSWORD}"); ` +
            `${report.productsAdded} products added (${report.productsTotal} in the catalog); ` +
            `${report.ordersAdded} orders added (${report.ordersTotal} by the demo buyers)` +
            (report.photosAdded > 0 ? `; ${report.photosAdded} photos queued for the worker` : ''),
        );
        console.log(
          `rates: accounts ${rate(phases.accounts)} (${phases.accounts.seconds.toFixed(1)}s), ` +
            `products ${rate(phases.products)} (${phases.products.seconds.toFixed(1)}s), ` +
            `orders ${rate(phases.orders)} (${phases.orders.seconds.toFixed(1)}s)`,
        );
      } catch (err) {
        if (bars.size > 0 && process.stderr.isTTY) process.stderr.write('\n');
        throw err instanceof SeedInterrupted ? new Interrupted(err.message) : err;
      } finally {
        process.off('SIGINT', onSigint);
        await platform.close();
      }
    },
  },
  jobs: {
    summary: 'list background jobs, show failed ones (dead letters) and retry them',
    usage: async () => (await import('./jobs-cli.ts')).JOBS_USAGE,
    async run(args) {
      const { JobsUsageError, parseJobsArgs, runJobsRequest } = await import('./jobs-cli.ts');
      let request: ReturnType<typeof parseJobsArgs>;
      try {
        request = parseJobsArgs(args);
      } catch (err) {
        throw err instanceof JobsUsageError ? new UsageError(err.message) : err;
      }
      // The jobs port keeps its own schema (pg-boss creates it); modules' tables are not needed.
      const { platform } = await openPlatform({ needsSchema: false });
      try {
        await runJobsRequest(platform.jobs, request, (text) => console.log(text));
      } finally {
        await platform.close();
      }
    },
  },
  migrate: {
    summary: 'apply every pending database migration (safe to run from several processes at once)',
    usage: () => 'bazaar migrate',
    async run(args) {
      parseArgs({ args, options: {}, allowPositionals: false });
      const { loadConfigOrExit, migrateAll, startPlatform } = await import('./runtime.ts');
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
  users: {
    summary: 'account administration: create an admin or promote an account (password never on argv)',
    usage: async () => (await import('./users-cli.ts')).USERS_USAGE,
    async run(args) {
      const { parseUsersArgs, readAll, runUsersRequest, terminalPrompt, UsersUsageError } = await import(
        './users-cli.ts'
      );
      const { createUsersService } = await import('../modules/users/index.ts');
      let request: ReturnType<typeof parseUsersArgs>;
      try {
        request = parseUsersArgs(args);
      } catch (err) {
        throw err instanceof UsersUsageError ? new UsageError(err.message) : err;
      }
      const { config, platform } = await openPlatform();
      try {
        await runUsersRequest(
          createUsersService({ config, platform }),
          request,
          { readStdin: () => readAll(process.stdin), prompt: terminalPrompt(process.stdin, process.stderr) },
          (line) => console.log(line),
        );
      } catch (err) {
        throw err instanceof UsersUsageError ? new UsageError(err.message) : err;
      } finally {
        await platform.close();
      }
    },
  },
  stack: {
    summary:
      'run real topologies on this machine: PostgreSQL primary/replicas/standby (db); the whole fleet behind HAProxy and nginx (up, status, down) (docs/operations.md)',
    usage: async (args) => (await import('../../ops/stack/stack-cli.ts')).stackUsage(args),
    async run(args) {
      const { runStack, StackUsageError } = await import('../../ops/stack/stack-cli.ts');
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

/** The synopsis of a command (its usage up to the first blank line) and where to read more. */
async function usageHint(name: string, command: Command, args: readonly string[]): Promise<string> {
  const synopsis = (await command.usage(args)).split('\n\n')[0]!;
  return `usage: ${synopsis}\nRun "bazaar ${name} --help" for details.`;
}

/**
 * `--limit -5` as `--limit=-5`: parseArgs takes a value starting with a dash for an option and
 * refuses it as "ambiguous"; joined, the command's own check says what is wrong with the value.
 */
function joinNegativeValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const [i, arg] of args.entries()) {
    const previous = out.at(-1);
    const beforeEnd = !args.slice(0, i).includes('--');
    if (
      beforeEnd &&
      /^-\d/.test(arg) &&
      previous?.startsWith('--') &&
      previous.length > 2 &&
      !previous.includes('=')
    ) {
      out[out.length - 1] = `${previous}=${arg}`;
    } else out.push(arg);
  }
  return out;
}

/** One sentence from a parseArgs error ("Unknown option '--x'. To specify …" → "unknown option --x"). */
function parseArgsSentence(err: Error): string {
  const unknown = /^Unknown option '([^']+)'/.exec(err.message);
  if (unknown) return `unknown option ${unknown[1]}`;
  const noValue = /^Option '(-[^' ]+)(?: <value>)?' argument (?:is ambiguous|missing)/.exec(err.message);
  if (noValue) return `${noValue[1]} needs a value after it`;
  const first = err.message.split(/\.\s/, 1)[0]!.replace(/\.$/, '');
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/** One sentence for a runtime failure, with what to do for the usual ones (server down, schema missing). */
function failureSentence(err: unknown): string {
  if (err instanceof AppError) return err.message;
  const e = err as Error & { code?: string; address?: string; port?: number; errors?: unknown[] };
  const code = e.code ?? (e.errors?.[0] as { code?: string } | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH') {
    return `cannot reach the database or another server (${code}${e.address ? ` ${e.address}:${e.port}` : ''}); check DATABASE_URL (and REDIS_URL) and that the server is running`;
  }
  if (code === '42P01' || code === '3F000') {
    return `the database schema is missing or old (${e.message}); run "bazaar migrate" first`;
  }
  if (code === '3D000') return `${e.message}; create it (createdb) or fix DATABASE_URL`;
  if (code === '28P01' || code === '28000') return `${e.message}; fix the user or password in DATABASE_URL`;
  return e.message || String(err);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...given] = argv;
  if (!name) {
    // No command is a usage error like any other: the help goes to stderr, exit 2.
    console.error(help());
    return 2;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && given.length === 0)) {
    console.log(help());
    return 0;
  }
  const rest = joinNegativeValues(given);
  if (name === 'help') return main([rest[0]!, '--help']);
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(
      `bazaar: unknown command "${name}"; the commands are ${Object.keys(COMMANDS).join(', ')}.\n` +
        'Run "bazaar --help" for what each does.',
    );
    return 2;
  }
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (own.includes('--help') || own.includes('-h')) {
    console.log(`usage: ${await command.usage(own)}\n\n${command.summary}`);
    return 0;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`bazaar ${name}: ${err.message}\n${await usageHint(name, command, own)}`);
      return 2;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`bazaar ${name}: ${parseArgsSentence(err)}\n${await usageHint(name, command, own)}`);
      return 2;
    }
    if (err instanceof Interrupted) {
      console.error(
        `bazaar ${name}: interrupted; run the same command again to finish (it adds only what is missing)`,
      );
      return 130;
    }
    console.error(`bazaar ${name}: ${err instanceof ConfigError ? err.message : failureSentence(err)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
