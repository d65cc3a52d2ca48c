import { randomUUID } from 'node:crypto';
import type { SqlDb } from './storage/sql';

/**
 * Which server process runs a task, when several share one PostgreSQL (docs/sync-api.md,
 * "Storage backends and several processes"). A process claims a task with a lease it renews
 * while it works; a task whose lease ran out (its process died) is claimed by another, and
 * the old owner's late commit is refused because it checks, inside each commit, that it still
 * owns the task. On SQLite one process owns everything and every call answers yes.
 */
export class TaskLeases {
  readonly owner = randomUUID();

  constructor(
    private readonly db: SqlDb,
    readonly leaseMs: number,
    private readonly clock: () => number,
  ) {}

  private get shared(): boolean {
    return this.db.dialect === 'postgres';
  }

  /** Takes the task unless a live lease of another process holds it. */
  async claim(id: string): Promise<boolean> {
    if (!this.shared) return true;
    const now = this.clock();
    const changed = await this.db.run(
      `UPDATE tasks SET owner = ?, lease_until = ? WHERE id = ? AND status IN ('Queued', 'Processing') AND (owner IS NULL OR owner = ? OR lease_until < ?)`,
      [this.owner, now + this.leaseMs, id, this.owner, now],
    );
    return changed === 1;
  }

  /** The heartbeat: extends the leases of the tasks this process runs. */
  async renew(ids: readonly string[]): Promise<void> {
    if (!this.shared) return;
    for (const id of ids) await this.db.run('UPDATE tasks SET lease_until = ? WHERE id = ? AND owner = ?', [this.clock() + this.leaseMs, id, this.owner]);
  }

  /** Inside a commit's transaction: true while this process owns the task (the row stays locked until the commit). */
  async stillOwned(id: string): Promise<boolean> {
    if (!this.shared) return true;
    const row = await this.db.get<{ owner: string | null }>('SELECT owner FROM tasks WHERE id = ? FOR UPDATE', [id]);
    return row?.owner === this.owner;
  }

  /**
   * Shutting down: the tasks this process holds (and those it queued without starting) get
   * a lease that has run out already, so another process takes them over at once. The count.
   */
  async handBack(queued: readonly string[]): Promise<number> {
    if (!this.shared) return 0;
    const now = this.clock();
    for (const id of queued) await this.db.run(`UPDATE tasks SET owner = ?, lease_until = ? WHERE id = ? AND status IN ('Queued', 'Processing') AND owner IS NULL`, [this.owner, now, id]);
    return this.db.run("UPDATE tasks SET lease_until = 0 WHERE owner = ? AND status IN ('Queued', 'Processing')", [this.owner]);
  }

  /**
   * Queued tasks no process claimed within a lease (the one that took the batch died before
   * starting it, or its workers are all busy): up to `limit` of them claimed for this process,
   * oldest first. Rows another process is claiming at the same moment are skipped, not waited
   * for (`FOR UPDATE SKIP LOCKED`), so processes claiming together take disjoint tasks.
   */
  async claimUnclaimed(limit: number): Promise<string[]> {
    if (!this.shared || limit <= 0) return [];
    const now = this.clock();
    const rows = await this.db.all<{ id: string }>(
      `UPDATE tasks SET owner = ?, lease_until = ? WHERE id IN (
         SELECT id FROM tasks WHERE status = 'Queued' AND owner IS NULL AND created_at < ? ORDER BY created_at, ord LIMIT ? FOR UPDATE SKIP LOCKED
       ) AND owner IS NULL RETURNING id`,
      [this.owner, now + this.leaseMs, now - this.leaseMs, limit],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Unfinished tasks whose owner stopped renewing: to take over. This process's own are among
   * them: a run that ended without an outcome it could write (PostgreSQL restarting under the
   * status write, chaos seed 36) is renewed by nobody, and its task, with its path locks, would
   * otherwise wait for ever. The caller skips what it still runs.
   */
  async abandoned(): Promise<string[]> {
    if (!this.shared) return [];
    const rows = await this.db.all<{ id: string }>(
      "SELECT id FROM tasks WHERE status IN ('Queued', 'Processing') AND owner IS NOT NULL AND lease_until < ? ORDER BY created_at, ord FOR UPDATE SKIP LOCKED",
      [this.clock()],
    );
    return rows.map((r) => r.id);
  }
}

/** Thrown inside a commit whose task another process took over: the commit rolls back. */
export class LeaseLost extends Error {
  constructor(readonly taskId: string) {
    super(`Task ${taskId} was taken over by another server process`);
  }
}
