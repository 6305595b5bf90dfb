/**
 * `npm ci` on a Node older than package.json's `engines` refuses at once (the project's .npmrc
 * sets engine-strict), instead of installing for minutes and failing at `npm start`. Runs the npm
 * on PATH with the machine's system Node (/usr/bin/node) when that one is too old; skips otherwise.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OLD_NODE = '/usr/bin/node';

const npmCli = (() => {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const npm = join(dir, 'npm');
    if (existsSync(npm)) return realpathSync(npm);
  }
  return undefined;
})();
const oldVersion = existsSync(OLD_NODE)
  ? spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' }).stdout.trim()
  : undefined;
const [major = 0, minor = 0] = (oldVersion ?? 'v0.0').slice(1).split('.').map(Number);
const tooOld = oldVersion !== undefined && (major < 22 || (major === 22 && minor < 18));
const skip = !npmCli
  ? 'npm is not on PATH'
  : !tooOld
    ? `no Node older than 22.18 at ${OLD_NODE} (${oldVersion ?? 'absent'}) to install with`
    : undefined;

/** Runs `npm <args>` with `node` in a copy of package.json, package-lock.json and .npmrc. */
async function npmInCopy(node: string, args: string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'bazaar-install-'));
  try {
    for (const f of ['package.json', 'package-lock.json', '.npmrc'])
      await copyFile(join(ROOT, f), join(dir, f));
    const started = Date.now();
    const child = spawn(node, [npmCli!, ...args, '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: dir,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    // An install that was not refused would take a minute or more: stop it and fail.
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(killer);
    return { code, output, ms: Date.now() - started, files: await readdir(dir) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('npm ci and the Node version', { skip }, () => {
  it('when npm ci runs on a Node older than required, then it refuses at once, naming the requirement, and installs nothing', async () => {
    const run = await npmInCopy(OLD_NODE, ['ci']);
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /EBADENGINE/);
    assert.match(run.output, /Not compatible with your version of node\/npm: bazaar@/);
    assert.match(run.output, /Required: \{"node":">=22\.18"\}/);
    assert.ok(!run.files.includes('node_modules'), 'nothing was installed');
    assert.ok(run.ms < 20_000, `refused at once (${run.ms} ms)`);
  });

  it('when npm ci runs on this Node, then the engine check lets it through', async () => {
    const run = await npmInCopy(process.execPath, ['ci', '--dry-run']);
    assert.equal(run.code, 0, run.output);
    assert.doesNotMatch(run.output, /EBADENGINE/);
  });
});
