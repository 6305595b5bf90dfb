/**
 * `bazaar` command line. Every command has --help, prints what it does, and exits non-zero with
 * one clear sentence on failure.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config.ts';
import { loadConfigOrExit, migrateAll, startPlatform } from './runtime.ts';

type Command = Readonly<{
  summary: string;
  usage: string;
  run(args: string[]): Promise<void>;
}>;

const COMMANDS: Record<string, Command> = {
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
};

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
    else if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`bazaar ${name}: ${err.message}\nusage: ${command.usage}`);
      return 2;
    } else console.error(`bazaar ${name}: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
