import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../protocol/errors';

/**
 * One agent per data directory: two engines on one state database would race on the queue.
 * One server per SQLite data directory too: its task runner, long polls and garbage collection
 * live in its process, so a second one would run tasks twice and collect blocks the first has
 * just been sent. The lock file holds the owner's pid; a lock whose process is gone is stale and
 * taken over.
 */
export interface InstanceLock {
  release(): void;
}

export type LockKind = 'agent' | 'server';

/** Whether a process with this pid exists (EPERM: it does, and belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of the live process holding DIR's lock of that kind, or null when none does. */
export function lockOwner(dataDir: string, kind: LockKind = 'agent'): number | null {
  let owner: number;
  try {
    owner = Number.parseInt(readFileSync(path.join(dataDir, `${kind}.lock`), 'utf8').trim(), 10);
  } catch {
    return null;
  }
  return Number.isInteger(owner) && owner !== process.pid && processAlive(owner) ? owner : null;
}

/** The pid of the live agent holding DIR's lock, or null when none does. */
export const runningAgentPid = (dataDir: string): number | null => lockOwner(dataDir, 'agent');

export function acquireInstanceLock(dataDir: string, kind: LockKind = 'agent'): InstanceLock {
  const file = path.join(dataDir, `${kind}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = lockOwner(dataDir, kind);
      if (owner !== null) {
        throw new FerryError(
          'already_running',
          `Another Ferry ${kind} (pid ${owner}) is already running with --data ${dataDir}. Stop it first, or use another data directory.`,
        );
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new FerryError('already_running', `Could not take the ${kind} lock in ${dataDir}.`, { retryable: true });
}
