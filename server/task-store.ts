import type { BatchResults, Operation, OperationResult, Task, TaskStatus } from '../protocol';
import type { SqlDb } from './storage/sql';

export interface TaskRow {
  id: string;
  tracking_id: string | null;
  fingerprint: string;
  folder_id: string;
  single_operation: number;
  status: TaskStatus;
  operations: string;
  operation_count: number;
  device: string;
  run: string;
  error_code: string | null;
  error_message: string | null;
  created_at: number;
  updated_at: number;
}

/** Rows per multi-row insert: one statement text for every full group. */
const RESULTS_PER_STATEMENT = 100;

const TASK_COLUMNS = 'id, tracking_id, fingerprint, folder_id, single_operation, status, operations, operation_count, device, run, error_code, error_message, created_at, updated_at';

export interface NewTask {
  id: string;
  trackingId: string | null;
  fingerprint: string;
  folderId: string;
  singleOperation: boolean;
  operations: Operation[];
  device: string;
  run: string;
}

/** Durable task records and their per-operation results. */
export class TaskStore {
  constructor(
    private readonly db: SqlDb,
    private readonly clock: () => number,
  ) {}

  async insert(task: NewTask): Promise<TaskRow> {
    const now = this.clock();
    await this.db.run(
      `INSERT INTO tasks (id, tracking_id, fingerprint, folder_id, single_operation, status, operations, operation_count, device, run, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'Queued', ?, ?, ?, ?, ?, ?)`,
      [task.id, task.trackingId, task.fingerprint, task.folderId, task.singleOperation ? 1 : 0, JSON.stringify(task.operations), task.operations.length, task.device, task.run, now, now],
    );
    return (await this.byId(task.id)) as TaskRow;
  }

  byId(id: string): Promise<TaskRow | undefined> {
    return this.db.get<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`, [id]);
  }

  byTrackingId(trackingId: string): Promise<TaskRow | undefined> {
    return this.db.get<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE tracking_id = ?`, [trackingId]);
  }

  operations(row: TaskRow): Operation[] {
    const ops = JSON.parse(row.operations) as Operation[];
    // Tasks stored before directories existed have upserts without a kind: files.
    return ops.map((op) => (op.action === 'upsert' && (op as { kind?: string }).kind === undefined ? { ...op, kind: 'file' as const } : op));
  }

  /**
   * The status a run of the task reached. With `owner` (several processes on one PostgreSQL),
   * only while that process still holds the task's lease: a process whose task another took
   * over must not mark it Failed (or Completed) under the new owner. False when refused.
   */
  async setStatus(id: string, status: TaskStatus, error?: { code: string; message: string }, owner?: string): Promise<boolean> {
    const guarded = owner !== undefined && this.db.dialect === 'postgres';
    const changed = await this.db.run(`UPDATE tasks SET status = ?, error_code = ?, error_message = ?, updated_at = ? WHERE id = ?${guarded ? ' AND owner = ?' : ''}`, [
      status,
      error?.code ?? null,
      error?.message ?? null,
      this.clock(),
      id,
      ...(guarded ? [owner] : []),
    ]);
    return changed === 1;
  }

  /**
   * A failed task queued again (its batch resubmitted): on PostgreSQL it also lets go of the
   * lease of the run that failed, so whichever process the resubmission reached claims it at
   * once; that lease kept every other process off it for a lease's length (chaos seed 7).
   */
  async requeue(id: string): Promise<void> {
    const lease = this.db.dialect === 'postgres' ? ', owner = NULL, lease_until = NULL' : '';
    await this.db.run(`UPDATE tasks SET status = 'Queued', error_code = NULL, error_message = NULL, updated_at = ?${lease} WHERE id = ?`, [this.clock(), id]);
  }

  /** Ids of tasks that were queued or running, oldest first (resumed after a restart). */
  async unfinished(): Promise<string[]> {
    // Insertion order breaks ties of one millisecond: SQLite's rowid, PostgreSQL's ord column.
    const order = this.db.dialect === 'sqlite' ? 'rowid' : 'ord';
    return (await this.db.all<{ id: string }>(`SELECT id FROM tasks WHERE status IN ('Queued', 'Processing') ORDER BY created_at, ${order}`)).map((r) => r.id);
  }

  async saveResult(taskId: string, key: string, result: OperationResult): Promise<void> {
    await this.db.run('INSERT INTO task_results (task_id, key, result) VALUES (?, ?, ?) ON CONFLICT (task_id, key) DO UPDATE SET result = excluded.result', [
      taskId,
      key,
      JSON.stringify(result),
    ]);
  }

  /** Many results in few statements (a chunk of a batch commits its results together). */
  async saveResults(taskId: string, results: ReadonlyArray<{ key: string; result: OperationResult }>): Promise<void> {
    for (let i = 0; i < results.length; i += RESULTS_PER_STATEMENT) {
      const group = results.slice(i, i + RESULTS_PER_STATEMENT);
      await this.db.run(
        `INSERT INTO task_results (task_id, key, result) VALUES ${group.map(() => '(?, ?, ?)').join(', ')} ON CONFLICT (task_id, key) DO UPDATE SET result = excluded.result`,
        group.flatMap((r) => [taskId, r.key, JSON.stringify(r.result)]),
      );
    }
  }

  async doneKeys(taskId: string): Promise<Set<string>> {
    return new Set((await this.db.all<{ key: string }>('SELECT key FROM task_results WHERE task_id = ?', [taskId])).map((r) => r.key));
  }

  async results(taskId: string): Promise<BatchResults> {
    // Null prototype: a key is only ever data, whatever it spells (`__proto__` included).
    const out = Object.create(null) as BatchResults;
    for (const r of await this.db.all<{ key: string; result: string }>('SELECT key, result FROM task_results WHERE task_id = ?', [taskId])) {
      out[r.key] = JSON.parse(r.result) as OperationResult;
    }
    return out;
  }

  async toWire(row: TaskRow): Promise<Task> {
    const task: Task = {
      taskId: row.id,
      folderId: row.folder_id,
      status: row.status,
      operationCount: row.operation_count,
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
    };
    if (row.status === 'Completed') task.results = await this.results(row.id);
    if (row.status === 'Failed') task.error = { code: row.error_code ?? 'internal', message: row.error_message ?? '' };
    return task;
  }

  /** Forgets finished tasks last touched before the cutoff. */
  prune(cutoff: number): Promise<number> {
    return this.db.tx(async () => {
      await this.db.run("DELETE FROM task_results WHERE task_id IN (SELECT id FROM tasks WHERE status IN ('Completed', 'Failed') AND updated_at < ?)", [cutoff]);
      return this.db.run("DELETE FROM tasks WHERE status IN ('Completed', 'Failed') AND updated_at < ?", [cutoff]);
    });
  }
}
