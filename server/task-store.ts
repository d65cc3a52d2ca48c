import type { BatchResults, Operation, OperationResult, Task, TaskStatus } from '../protocol';
import type { Statement } from 'better-sqlite3';
import type { Db } from './storage/db';

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
  /** Statements prepared once per SQL text: preparing costs more than running them. */
  private readonly statements = new Map<string, unknown>();

  constructor(
    private readonly db: Db,
    private readonly clock: () => number,
  ) {}

  private prepared<P extends unknown[] = unknown[], R = unknown>(sql: string): Statement<P, R> {
    let stmt = this.statements.get(sql) as Statement<P, R> | undefined;
    if (!stmt) {
      stmt = this.db.prepare<P, R>(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  insert(task: NewTask): TaskRow {
    const now = this.clock();
    this
      .prepared(
        `INSERT INTO tasks (id, tracking_id, fingerprint, folder_id, single_operation, status, operations, operation_count, device, run, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'Queued', ?, ?, ?, ?, ?, ?)`,
      )
      .run(task.id, task.trackingId, task.fingerprint, task.folderId, task.singleOperation ? 1 : 0, JSON.stringify(task.operations), task.operations.length, task.device, task.run, now, now);
    return this.byId(task.id) as TaskRow;
  }

  byId(id: string): TaskRow | undefined {
    return this.prepared<[string], TaskRow>('SELECT * FROM tasks WHERE id = ?').get(id);
  }

  byTrackingId(trackingId: string): TaskRow | undefined {
    return this.prepared<[string], TaskRow>('SELECT * FROM tasks WHERE tracking_id = ?').get(trackingId);
  }

  operations(row: TaskRow): Operation[] {
    const ops = JSON.parse(row.operations) as Operation[];
    // Tasks stored before directories existed have upserts without a kind: files.
    return ops.map((op) => (op.action === 'upsert' && op.kind === undefined ? { ...op, kind: 'file' } : op));
  }

  setStatus(id: string, status: TaskStatus, error?: { code: string; message: string }): void {
    this
      .prepared('UPDATE tasks SET status = ?, error_code = ?, error_message = ?, updated_at = ? WHERE id = ?')
      .run(status, error?.code ?? null, error?.message ?? null, this.clock(), id);
  }

  /** Ids of tasks that were queued or running, oldest first (resumed after a restart). */
  unfinished(): string[] {
    return this
      .prepared<[], { id: string }>("SELECT id FROM tasks WHERE status IN ('Queued', 'Processing') ORDER BY created_at, rowid")
      .all()
      .map((r) => r.id);
  }

  saveResult(taskId: string, key: string, result: OperationResult): void {
    this.prepared('INSERT OR REPLACE INTO task_results (task_id, key, result) VALUES (?, ?, ?)').run(taskId, key, JSON.stringify(result));
  }

  doneKeys(taskId: string): Set<string> {
    return new Set(this.prepared<[string], { key: string }>('SELECT key FROM task_results WHERE task_id = ?').all(taskId).map((r) => r.key));
  }

  results(taskId: string): BatchResults {
    // Null prototype: a key is only ever data, whatever it spells (`__proto__` included).
    const out = Object.create(null) as BatchResults;
    for (const r of this.prepared<[string], { key: string; result: string }>('SELECT key, result FROM task_results WHERE task_id = ?').all(taskId)) {
      out[r.key] = JSON.parse(r.result) as OperationResult;
    }
    return out;
  }

  toWire(row: TaskRow): Task {
    const task: Task = {
      taskId: row.id,
      folderId: row.folder_id,
      status: row.status,
      operationCount: row.operation_count,
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
    };
    if (row.status === 'Completed') task.results = this.results(row.id);
    if (row.status === 'Failed') task.error = { code: row.error_code ?? 'internal', message: row.error_message ?? '' };
    return task;
  }

  /** Forgets finished tasks last touched before the cutoff. */
  prune(cutoff: number): number {
    return this.db.transaction(() => {
      this.prepared("DELETE FROM task_results WHERE task_id IN (SELECT id FROM tasks WHERE status IN ('Completed', 'Failed') AND updated_at < ?)").run(cutoff);
      return this.prepared("DELETE FROM tasks WHERE status IN ('Completed', 'Failed') AND updated_at < ?").run(cutoff).changes;
    })();
  }
}
