import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Db } from './db';
import type { OperationInput } from '../../protocol/batches';

/** One operation of an async batch: which queue item generation it carries. */
export interface TaskItem {
  opKey: string;
  queueId: number;
  generation: number;
  path: string;
}

export interface AsyncTask {
  taskId: string;
  folderId: string;
  trackingId: string;
  createdAt: number;
  items: TaskItem[];
  /**
   * A batch recorded before it was sent, the server naming no task yet: the exact operations
   * it sends, to be sent again under its tracking id after a restart.
   */
  operations?: OperationInput[];
}

/**
 * Commit batches sent and not answered, and async tasks the server accepted. Persisted before
 * the batch goes (or as soon as the server names its task), so that after a crash the pusher
 * sends the batch again under its tracking id, or polls the task, instead of queueing its items
 * afresh; items it holds stay in flight through queue.recoverInFlight(). While recorded, the
 * pull holds their paths (O3, docs/conflict-rules.md, "Uploads in flight").
 */
export interface TaskRepo {
  add(task: Omit<AsyncTask, 'createdAt'>): void;
  get(taskId: string): AsyncTask | undefined;
  list(folderId?: string): AsyncTask[];
  remove(taskId: string): void;
  /** One transaction: the record `oldId` goes and `task` takes its place (the server named the task). */
  replace(oldId: string, task: Omit<AsyncTask, 'createdAt'>): void;
  /** A batch sent (or a task the server accepted) carries this generation of the queue row, its answer not recorded yet. */
  holds(queueId: number, generation: number): boolean;
}

export function taskRepo(db: Db, clock: Clock = systemClock): TaskRepo {
  const insertTask = db.prepare(`INSERT INTO async_tasks (task_id, folder_id, tracking_id, created_at, operations) VALUES (?, ?, ?, ?, ?)`);
  const insertItem = db.prepare(
    `INSERT INTO async_task_items (task_id, op_key, queue_id, generation, path) VALUES (?, ?, ?, ?, ?)`,
  );
  const one = db.prepare<[string], { task_id: string; folder_id: string; tracking_id: string; created_at: number; operations: string | null }>(
    `SELECT * FROM async_tasks WHERE task_id = ?`,
  );
  const ids = db.prepare<{ folderId: string | null }, { task_id: string }>(
    `SELECT task_id FROM async_tasks WHERE @folderId IS NULL OR folder_id = @folderId ORDER BY created_at, task_id`,
  );
  const items = db.prepare<[string], { op_key: string; queue_id: number; generation: number; path: string }>(
    `SELECT op_key, queue_id, generation, path FROM async_task_items WHERE task_id = ? ORDER BY rowid`,
  );
  const del = db.prepare(`DELETE FROM async_tasks WHERE task_id = ?`);
  const holding = db.prepare<[number, number], number>(`SELECT 1 FROM async_task_items WHERE queue_id = ? AND generation = ? LIMIT 1`).pluck();

  const add = db.transaction((task: Omit<AsyncTask, 'createdAt'>) => {
    insertTask.run(task.taskId, task.folderId, task.trackingId, clock(), task.operations ? JSON.stringify(task.operations) : null);
    for (const item of task.items) insertItem.run(task.taskId, item.opKey, item.queueId, item.generation, item.path);
  });

  const replace = db.transaction((oldId: string, task: Omit<AsyncTask, 'createdAt'>) => {
    del.run(oldId);
    add(task);
  });

  const get = (taskId: string): AsyncTask | undefined => {
    const row = one.get(taskId);
    if (!row) return undefined;
    return {
      taskId: row.task_id,
      folderId: row.folder_id,
      trackingId: row.tracking_id,
      createdAt: row.created_at,
      items: items.all(taskId).map((i) => ({ opKey: i.op_key, queueId: i.queue_id, generation: i.generation, path: i.path })),
      ...(row.operations !== null ? { operations: JSON.parse(row.operations) as OperationInput[] } : {}),
    };
  };

  return {
    add: (task) => add(task),
    get,
    list: (folderId) => ids.all({ folderId: folderId ?? null }).flatMap((r) => get(r.task_id) ?? []),
    remove: (taskId) => void del.run(taskId),
    replace: (oldId, task) => replace(oldId, task),
    holds: (queueId, generation) => holding.get(queueId, generation) !== undefined,
  };
}
