/** One process per PGlite data directory: a second is refused with one sentence, a stale lock is taken over. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DataDirBusyError, lockDataDir } from '../src/platform/sql/pglite/data-dir-lock.ts';
import { createPgliteSql } from '../src/platform/sql/pglite/pglite-sql.ts';

const ROOT = new URL('../', import.meta.url).pathname;

describe('PGlite data directory lock', () => {
  it('when the web process holds DATA_DIR, then a bazaar command on it exits 1 naming the owner; after close it runs', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'bazaar-lock-'));
    try {
      const sql = await createPgliteSql({ dataDir });
      const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
      delete env['DATABASE_URL'];
      const busy = spawnSync(process.execPath, ['bin/bazaar.js', 'migrate'], {
        cwd: ROOT,
        env,
        encoding: 'utf8',
      });
      assert.equal(busy.status, 1, busy.stderr);
      assert.match(busy.stderr, /in use by another process \(pid \d+ /);
      assert.match(busy.stderr, /stop it first, or set DATA_DIR/);
      await sql.close();
      assert.equal(existsSync(join(dataDir, 'pglite', 'bazaar.lock')), false, 'released on close');
      const free = spawnSync(process.execPath, ['bin/bazaar.js', 'migrate'], {
        cwd: ROOT,
        env,
        encoding: 'utf8',
      });
      assert.equal(free.status, 0, free.stderr);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('when a lock names a process that is gone, or this pid without holding it, then it is taken over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bazaar-lock-'));
    try {
      mkdirSync(dir, { recursive: true });
      const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
      writeFileSync(join(dir, 'bazaar.lock'), `${dead.stdout.trim()} node src/apps/web.ts\n`);
      const release = lockDataDir(dir);
      assert.throws(() => lockDataDir(dir), DataDirBusyError, 'twice in one process');
      release();
      writeFileSync(join(dir, 'bazaar.lock'), `${process.pid} node src/apps/web.ts\n`);
      lockDataDir(dir)();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
