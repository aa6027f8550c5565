// One writer per store: a lock file beside the store holding the owner's pid and
// host. A lock whose process is gone (same host, pid not alive) is stale and taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { UserError } from '../types.js';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (typeof v.pid === 'number' && typeof v.host === 'string') return { pid: v.pid, host: v.host, since: String(v.since ?? '') };
  } catch {
    // unreadable or half-written lock: treated as stale
  }
  return null;
}

export class StoreLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(readonly path: string) {
    process.once('exit', this.onExit);
  }

  /** Takes the lock or throws a UserError naming the process that holds it. */
  static acquire(path: string, storeDir: string): StoreLock {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        try {
          const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
          writeSync(fd, JSON.stringify(owner));
        } finally {
          closeSync(fd);
        }
        return new StoreLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = readOwner(path);
      if (owner !== null && (owner.host !== hostname() || alive(owner.pid))) {
        throw new UserError(
          `the store ${storeDir} is in use by process ${owner.pid} on ${owner.host} (since ${owner.since}); ` +
            `close it first, or delete ${path} if that process is gone`,
        );
      }
      try {
        unlinkSync(path); // stale: its process is dead
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    throw new UserError(`could not take the lock ${path} for the store ${storeDir}`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.removeListener('exit', this.onExit);
    const owner = readOwner(this.path);
    if (owner !== null && owner.pid === process.pid) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}
