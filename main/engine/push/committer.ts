import { randomUUID } from 'node:crypto';
import type { BatchResults, OperationInput } from '../../../protocol';
import { FerryError } from '../../../protocol/errors';
import type { Logger } from '../../logging';
import type { AsyncTask, TaskItem, TaskRepo } from '../../store/tasks';
import { backoff, retryAllowed, withRetries, type AttemptContext, type RetryHooks } from './attempt';
import type { PushRemote } from './remote-port';
import { sleep } from './timers';

/** One queue item generation as it goes into a batch. */
export interface CommitEntry {
  id: number;
  generation: number;
  op: 'upsert' | 'delete';
  /** A directory upsert carries no content (size 0, no blocks). */
  kind: 'file' | 'dir';
  path: string;
  size: number;
  mtimeMs: number;
  blocks: string[];
  baseRevision: string | null;
  /** Sent as a move of this path to `path` (docs/conflict-rules.md, "Pushing a move"). */
  moveFrom?: string;
}

export interface CommitOptions {
  /** Batches of at least this many operations go async from the start. */
  asyncThreshold: number;
  pollMinMs: number;
  pollMaxMs: number;
}

export interface CommitOutcome {
  results: BatchResults;
  /** The persisted async task these results came from: remove it with the results applied. */
  taskId?: string;
}

export interface CommitterDeps {
  remote: PushRemote;
  tasks: TaskRepo;
  attempt: AttemptContext;
  options: () => CommitOptions;
  run: () => string;
  log: Logger;
  /**
   * Holds a commit slot around each try (a submission, or the polling of a task) but not
   * around a backoff: a batch waiting to retry never keeps the others from committing.
   */
  slot?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** The operation key names the exact queue generation and op, so results map back after a restart. */
export function opKey(e: Pick<CommitEntry, 'id' | 'generation' | 'op'>): string {
  return `${e.id}.${e.generation}.${e.op === 'upsert' ? 'u' : 'd'}`;
}

export function parseOpKey(key: string): { id: number; generation: number; op: 'upsert' | 'delete' } | undefined {
  const m = /^(\d+)\.(\d+)\.([ud])$/.exec(key);
  if (!m) return undefined;
  return { id: Number(m[1]), generation: Number(m[2]), op: m[3] === 'u' ? 'upsert' : 'delete' };
}

export function toOperation(e: CommitEntry): OperationInput {
  const key = opKey(e);
  // A move goes first, even on a delete's generation that carries it (P5 in flight, then a kill).
  if (e.moveFrom !== undefined && e.baseRevision !== null) return { key, action: 'move', from: e.moveFrom, path: e.path, baseRevision: e.baseRevision };
  if (e.op === 'delete') return { key, action: 'delete', path: e.path, baseRevision: e.baseRevision };
  if (e.kind === 'dir') return { key, action: 'upsert', kind: 'dir', path: e.path, mtime: e.mtimeMs, baseRevision: e.baseRevision };
  return { key, action: 'upsert', path: e.path, size: e.size, mtime: e.mtimeMs, blocks: e.blocks, baseRevision: e.baseRevision };
}

const isTimeout = (error: unknown): boolean => error instanceof FerryError && (error.status === 504 || error.code === 'timeout');
/** Task failures a resubmission with the same tracking id runs again on the server. */
const RERUNNABLE = new Set(['path_locked', 'internal']);

/**
 * Submits one batch as a keyed sync request: sync mode when small, async (task + polling)
 * when large or after a 504, always under one tracking id so nothing is applied twice.
 * An async task is persisted with its queue refs before any waiting starts.
 */
export class Committer {
  constructor(private readonly d: CommitterDeps) {}

  /** hooks see every backoff of this batch's request (in place, same body, same tracking id). */
  async commit(folderId: string, remoteFolderId: string, entries: readonly CommitEntry[], hooks: RetryHooks = {}): Promise<CommitOutcome> {
    const { remote, attempt, log } = this.d;
    const operations = entries.map(toOperation);
    const trackingId = randomUUID();
    let mode: 'sync' | 'async' = operations.length >= this.d.options().asyncThreshold ? 'async' : 'sync';
    const submit = () => remote.submitBatch(remoteFolderId, operations, { mode, trackingId, run: this.d.run(), signal: attempt.signal });
    const reply = await withRetries(
      attempt,
      'sync',
      () =>
        this.slot(async () => {
          try {
            return await submit();
          } catch (error) {
            if (mode !== 'sync' || !isTimeout(error)) throw error;
            // Over the server's sync budget: the same request, same tracking id, as a task.
            log.info('sync batch timed out; resubmitting in async mode', { trackingId, operations: operations.length });
            mode = 'async';
            return await submit();
          }
        }),
      hooks,
    );
    if (reply.status === 'Completed' && 'results' in reply) return { results: reply.results };

    const task: Omit<AsyncTask, 'createdAt'> = {
      taskId: reply.taskId,
      folderId,
      trackingId,
      items: entries.map((e): TaskItem => ({ opKey: opKey(e), queueId: e.id, generation: e.generation, path: e.path })),
    };
    if (!this.d.tasks.get(task.taskId)) this.d.tasks.add(task);
    log.info('async task accepted', { taskId: task.taskId, trackingId, operations: operations.length });
    const results = await this.poll(task.taskId, hooks, async () => {
      mode = 'async';
      await withRetries(attempt, 'sync', () => this.slot(submit), hooks);
    });
    return { results, taskId: task.taskId };
  }

  /** A task persisted before a restart: polled again, never resubmitted. */
  async resume(task: AsyncTask): Promise<CommitOutcome> {
    this.d.log.info('polling persisted async task', { taskId: task.taskId, trackingId: task.trackingId, operations: task.items.length });
    return { results: await this.poll(task.taskId, {}), taskId: task.taskId };
  }

  private slot<T>(fn: () => Promise<T>): Promise<T> {
    return this.d.slot ? this.d.slot(fn) : fn();
  }

  private async poll(taskId: string, hooks: RetryHooks, resubmit?: () => Promise<void>): Promise<BatchResults> {
    const { attempt } = this.d;
    let reruns = 0;
    const trackingId = randomUUID();
    for (;;) {
      const outcome = await this.slot(() => this.untilSettled(taskId, trackingId));
      if ('results' in outcome) return outcome.results;
      const { code, message } = outcome;
      const rerunnable = RERUNNABLE.has(code);
      if (rerunnable && resubmit && retryAllowed(attempt, reruns, hooks)) {
        reruns++;
        // A rerun is a retry of the same request: visible to the hooks like any other.
        await backoff(attempt, 'task', reruns, { action: 'retry', code, message }, hooks);
        await resubmit();
        continue;
      }
      // The caller words how many retries were spent (it counts them per item).
      throw new FerryError(code, message, { retryable: rerunnable, details: { taskId, exhausted: resubmit !== undefined, reruns } });
    }
  }

  /** Polls until the task is Completed (its results) or Failed (its error). */
  private async untilSettled(taskId: string, trackingId: string): Promise<{ results: BatchResults } | { code: string; message: string }> {
    const { remote, attempt } = this.d;
    let delay = this.d.options().pollMinMs;
    for (;;) {
      await sleep(attempt.timers, delay, attempt.signal);
      delay = Math.min(delay * 2, this.d.options().pollMaxMs);
      const task = await withRetries(attempt, 'tasks/get', () => remote.getTask(taskId, { trackingId, run: this.d.run(), signal: attempt.signal }));
      if (task.status === 'Completed') return { results: task.results ?? {} };
      if (task.status === 'Failed') return { code: task.error?.code ?? 'internal', message: task.error?.message ?? 'The task failed on the server' };
    }
  }
}
