/**
 * One process per PGlite data directory. PGlite is PostgreSQL in this process with no server to
 * arbitrate: a second process opening the same files (a `bazaar` command while `npm start`
 * runs) would write over the first one's pages. The lock is a file `<dir>/bazaar.lock` created
 * exclusively, holding the owner's pid and command; a lock whose process is gone is stale and
 * taken over, and so is one naming this process's own pid that this process does not hold (a
 * container restarted after a crash often gets the same pid). Released on close and when the
 * process exits.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirBusyError extends Error {
  constructor(dir: string, owner: string) {
    super(
      `the data directory ${dir} is in use by another process (${owner}); stop it first, or set DATA_DIR to another directory`,
    );
    this.name = 'DataDirBusyError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const held = new Set<string>();

/** Takes the directory's lock or throws DataDirBusyError naming its owner; returns the release. */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, 'bazaar.lock');
  if (held.has(path)) throw new DataDirBusyError(dir, 'this process has it open already');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid} ${process.argv.slice(1).join(' ')}\n`);
      closeSync(fd);
      held.add(path);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        held.delete(path);
        process.off('exit', release);
        try {
          unlinkSync(path);
        } catch {}
      };
      process.on('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = '';
      try {
        owner = readFileSync(path, 'utf8').trim();
      } catch {
        continue; // released meanwhile
      }
      const pid = Number.parseInt(owner, 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        // (our own pid here is a previous life's: `held` says this process does not have it)
        throw new DataDirBusyError(dir, `pid ${owner}`);
      }
      try {
        unlinkSync(path); // stale: its process is gone
      } catch {}
    }
  }
  throw new DataDirBusyError(dir, 'another process keeps taking the lock');
}
