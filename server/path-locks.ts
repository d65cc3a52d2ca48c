import type { SqlDb } from './storage/sql';

/**
 * Paths held by running tasks. A task takes all its paths at once or none, so two tasks
 * touching one path never run together and no task waits while holding a lock.
 */
export interface TaskPathLocks {
  tryAcquire(folderId: string, paths: readonly string[], taskId: string): Promise<boolean>;
  /** Lets go of what this process took for the task. */
  release(folderId: string, paths: readonly string[], taskId: string): Promise<void>;
}

/** One process owns every task (SQLite): the locks live in its memory. */
export class PathLocks implements TaskPathLocks {
  private readonly holders = new Map<string, string>();

  async tryAcquire(folderId: string, paths: readonly string[], taskId: string): Promise<boolean> {
    const keys = paths.map((p) => lockKey(folderId, p));
    if (keys.some((k) => this.holders.has(k) && this.holders.get(k) !== taskId)) return false;
    for (const k of keys) this.holders.set(k, taskId);
    return true;
  }

  async release(folderId: string, paths: readonly string[], taskId: string): Promise<void> {
    for (const p of paths) {
      const k = lockKey(folderId, p);
      if (this.holders.get(k) === taskId) this.holders.delete(k);
    }
  }

  get size(): number {
    return this.holders.size;
  }
}

const lockKey = (folderId: string, path: string): string => `${folderId}\u0000${path}`;

/** Rows per statement (four parameters each). */
const ROWS_PER_STATEMENT = 500;
const REFUSED = Symbol('path locked');

/**
 * Several processes on one PostgreSQL (docs/sync-api.md, "Storage backends and several
 * processes"): one `path_locks` row per held path, naming its task and the process that took
 * it. A row holds while its task is unfinished, so the lock lives exactly as long as the
 * task's lease chain: when the owner dies, the process that takes the task over takes its
 * rows too (same task id), and no other task slips onto the path in between. A row of a
 * finished (or forgotten) task is free whoever left it.
 */
export class SharedPathLocks implements TaskPathLocks {
  constructor(
    private readonly db: SqlDb,
    /** This process (server/task-leases.ts): only its own rows are released by it. */
    private readonly owner: string,
  ) {}

  async tryAcquire(folderId: string, paths: readonly string[], taskId: string): Promise<boolean> {
    // Sorted: two tasks inserting overlapping sets wait on each other in one order, never in a cycle.
    const unique = [...new Set(paths)].sort();
    try {
      await this.db.tx(async () => {
        let taken = 0;
        for (let i = 0; i < unique.length; i += ROWS_PER_STATEMENT) {
          const group = unique.slice(i, i + ROWS_PER_STATEMENT);
          taken += await this.db.run(
            `INSERT INTO path_locks (folder_id, path, task_id, owner) VALUES ${group.map(() => '(?, ?, ?, ?)').join(', ')}
             ON CONFLICT (folder_id, path) DO UPDATE SET task_id = excluded.task_id, owner = excluded.owner
             WHERE path_locks.task_id = excluded.task_id
                OR NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = path_locks.task_id AND t.status IN ('Queued', 'Processing'))`,
            group.flatMap((p) => [folderId, p, taskId, this.owner]),
          );
        }
        // A row another unfinished task holds was left as it was: take nothing.
        if (taken !== unique.length) throw REFUSED;
      });
      return true;
    } catch (error) {
      if (error === REFUSED) return false;
      throw error;
    }
  }

  async release(_folderId: string, _paths: readonly string[], taskId: string): Promise<void> {
    // Not another process's rows: after a takeover they belong to the new owner.
    await this.db.run('DELETE FROM path_locks WHERE task_id = ? AND owner = ?', [taskId, this.owner]);
  }
}
