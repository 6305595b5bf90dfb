/**
 * `npm run lint` (second half): writes the live OpenAPI document to dist/openapi.json and lints
 * it with Redocly's recommended rules (redocly.yaml; ignored problems with their reasons in
 * .redocly.lint-ignore.yaml). Offline: no telemetry, no update check.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { openApiDocument } from './openapi.ts';

const root = join(import.meta.dirname, '..');
await mkdir(join(root, 'dist'), { recursive: true });
await writeFile(join(root, 'dist/openapi.json'), `${JSON.stringify(await openApiDocument(), null, 2)}\n`);

const cli = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin/cli.js');
const run = spawnSync(process.execPath, [cli, 'lint', '--format=codeframe'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true' },
});
process.exit(run.status ?? 1);
