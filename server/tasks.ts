import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { FerryError, PATH_LOCKED_MESSAGE, operationPaths, storageFullCode, type Operation, type OperationResult, type TaskStatus } from '../protocol';
import type { Logger } from '../main/logging';
import { dropDamaged, OperationApplier } from './apply';
import { blocksReferenced } from './restore';
import type { GcFence, SharedGcFence } from './gc';
import { PathLocks, SharedPathLocks, type TaskPathLocks } from './path-locks';
import { LeaseLost, TaskLeases } from './task-leases';
import type { SqlDb } from './storage/sql';
import type { BlockStore } from './storage/blocks';
import type { TaskRow, TaskStore } from './task-store';
import { folderHeld } from './folders';

/** Test seams: a hook runs after a task is marked Processing and before it touches data. */
export interface TaskHooks {
  beforeApply?: (taskId: string, signal: AbortSignal) => Promise<void>;
  /** Runs after each committed chunk of an ordinary batch while more remain. */
  afterChunk?: (taskId: string, appliedSoFar: number, signal: AbortSignal) => Promise<void>;
  /** Runs when a run of a task ends, with how it ended. */
  afterTask?: (taskId: string, outcome: TaskOutcome) => void;
}

/** How one run of a task ended ('skipped': finished already, or another process holds it). */
export type TaskOutcome = 'completed' | 'failed' | 'path_locked' | 'stalled' | 'lease_lost' | 'aborted' | 'skipped';

export interface TaskRunnerOptions {
  db: SqlDb;
  store: TaskStore;
  blocks: BlockStore;
  workers: number;
  clock: () => number;
  log: Logger;
  hooks?: TaskHooks;
  /** Held from the block lookup to the last commit, so GC never removes a block in between (server/gc.ts). */
  fence?: GcFence;
  /** Several processes on one PostgreSQL: the fence against their collections too. */
  sharedFence?: SharedGcFence | null;
  /** How long a task stalled by a full disk waits before it runs again (a resubmission runs it at once). */
  storageRetryMs: number;
  /**
   * Lease of a task on a shared PostgreSQL (server/task-leases.ts); default 10 s, renewed every
   * third of it. A task whose process was killed holds its paths until the lease runs out: with
   * 30 s, batches on them were refused with path_locked for up to 40 s (chaos seed 21).
   */
  taskLeaseMs?: number;
  /** Called after a transaction that changed a folder commits (wakes long polls). */
  onFolderChanged: (folderId: string) => void;
}

/** A task's blocks as looked up, and the GC epoch they were looked up in (SharedGcFence). */
interface LookedUp {
  epoch: number;
  hashes: string[];
  sizes: ReadonlyMap<string, number>;
}

/** Operations per transaction for ordinary batches: keeps the server responsive under 10,000-op batches. */
const CHUNK = 500;
/** See TaskRunnerOptions.taskLeaseMs. */
export const DEFAULT_TASK_LEASE_MS = 10_000;
const ROLLBACK = Symbol('rollback');

/**
 * The async processing queue: a FIFO of task ids drained by a bounded pool of workers.
 * Every operation's result commits with the operation, so a task cut short by a restart
 * resumes where it stopped and never applies anything twice.
 */
export class TaskRunner {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, Set<(row: TaskRow) => void>>();
  private readonly locks: TaskPathLocks;
  private readonly applier: OperationApplier;
  private readonly abort = new AbortController();
  private closing = false;
  /** Tasks the disk refused (full): kept as they were, in memory since the database may not grow. */
  private readonly stalled = new Map<string, { error: FerryError; timer: NodeJS.Timeout }>();

  private readonly leases: TaskLeases;
  private readonly heartbeat: NodeJS.Timeout | null;

  constructor(private readonly o: TaskRunnerOptions) {
    this.applier = new OperationApplier(o.db);
    this.leases = new TaskLeases(o.db, o.taskLeaseMs ?? DEFAULT_TASK_LEASE_MS, o.clock);
    // Several processes share one PostgreSQL: the locks must be seen by all of them.
    this.locks = o.db.dialect === 'postgres' ? new SharedPathLocks(o.db, this.leases.owner) : new PathLocks();
    // Shared database: renew what runs here, take over what a dead process left.
    this.heartbeat =
      o.db.dialect === 'postgres'
        ? setInterval(() => void this.tend().catch((error: unknown) => o.log.warn('task lease upkeep failed', { error })), Math.max(50, this.leases.leaseMs / 3))
        : null;
    this.heartbeat?.unref();
  }

  /** The lease upkeep: also run at once when another process hands its tasks back. */
  async tend(): Promise<void> {
    await this.leases.renew([...this.running.keys()]);
    if (this.closing) return;
    // Not what waits for disk space here: its own timer runs it again.
    for (const id of await this.leases.abandoned()) if (!this.stalled.has(id)) this.enqueue(id);
    // Idle workers help with what nobody has claimed (several processes on one PostgreSQL).
    const idle = this.o.workers - this.running.size - this.queue.length;
    for (const id of await this.leases.claimUnclaimed(idle)) this.enqueue(id);
  }

  /** Re-queues what was queued or running when the server stopped. */
  async resume(): Promise<number> {
    const ids = await this.o.store.unfinished();
    for (const id of ids) this.enqueue(id);
    return ids.length;
  }

  get backlog(): number {
    return this.queue.length;
  }

  /** Tasks running now. */
  get runningCount(): number {
    return this.running.size;
  }

  enqueue(id: string): void {
    const stalled = this.stalled.get(id);
    if (stalled) clearTimeout(stalled.timer);
    this.stalled.delete(id);
    if (this.closing || this.queued.has(id) || this.running.has(id)) return;
    this.queue.push(id);
    this.queued.add(id);
    this.pump();
  }

  /** The finished task, or undefined if it is still going after `ms` (or the signal fires). */
  async waitFor(id: string, ms: number, signal?: AbortSignal): Promise<TaskRow | undefined> {
    const row = await this.o.store.byId(id);
    if (!row || row.status === 'Completed' || row.status === 'Failed') return row;
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const done = (value: TaskRow | undefined): void => {
        clearTimeout(timer);
        set.delete(listener);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const listener = (finished: TaskRow): void => done(finished);
      const onAbort = (): void => done(undefined);
      const timer = setTimeout(() => done(undefined), ms);
      set.add(listener);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Why the task waits for disk space (507 to its waiters), or undefined when it does not. */
  stalledBy(id: string): FerryError | undefined {
    return this.stalled.get(id)?.error;
  }

  /**
   * Stops taking work; running tasks get `graceMs` to finish, then stop at their next step
   * (what they committed stays, each operation with its result). On a shared PostgreSQL what
   * is left is handed back, for another process to take over at once; on SQLite it resumes at
   * the next start. The number of tasks handed back.
   */
  async close(graceMs = 0): Promise<number> {
    this.closing = true;
    const queued = [...this.queue];
    this.queue.length = 0;
    this.queued.clear();
    for (const { timer } of this.stalled.values()) clearTimeout(timer);
    this.stalled.clear();
    const running = Promise.allSettled([...this.running.values()]);
    if (graceMs > 0 && this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([running, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    this.abort.abort();
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.allSettled([...this.running.values()]);
    return this.leases.handBack(queued);
  }

  private pump(): void {
    while (this.running.size < this.o.workers && this.queue.length > 0) {
      const id = this.queue.shift() as string;
      this.queued.delete(id);
      const run = this.process(id).finally(() => {
        this.running.delete(id);
        this.pump();
      });
      this.running.set(id, run);
    }
  }

  private async process(id: string): Promise<void> {
    let outcome: TaskOutcome;
    try {
      outcome = await this.attempt(id);
    } catch (error) {
      // The database went away under the run's last writes (its failure, its status): the task
      // stays unfinished and runs again once its lease runs out (TaskLeases.abandoned).
      this.o.log.warn('task run ended without an outcome it could record: it runs again after its lease', { taskId: id, error });
      outcome = 'aborted';
    }
    this.o.hooks?.afterTask?.(id, outcome);
  }

  /**
   * One run of a task. Its paths are let go before its waiters hear the outcome, so a client
   * answered at once may send its next batch on those paths without meeting its own lock.
   */
  private async attempt(id: string): Promise<TaskOutcome> {
    const { store, log } = this.o;
    const row = await store.byId(id);
    if (!row || row.status === 'Completed' || row.status === 'Failed') return 'skipped';
    // Another live process runs it (several processes on one PostgreSQL).
    if (!(await this.leases.claim(id))) return 'skipped';
    const tlog = log.child({ device: row.device, run: row.run, trackingId: row.tracking_id ?? '-', taskId: id });
    // Status writes of this run hold only while this process owns the task (a takeover refuses them).
    const setOwnStatus = (status: TaskStatus, error?: { code: string; message: string }): Promise<boolean> => store.setStatus(id, status, error, this.leases.owner);
    const setStatus = async (status: TaskStatus): Promise<void> => {
      if (!(await setOwnStatus(status))) throw new LeaseLost(id);
    };
    const operations = store.operations(row);
    const paths = operations.flatMap((op) => operationPaths(op));
    if (!(await this.locks.tryAcquire(row.folder_id, paths, id))) {
      tlog.warn('task refused: path locked');
      // Refused by a takeover too: then the new owner answers.
      if (!(await setOwnStatus('Failed', { code: 'path_locked', message: PATH_LOCKED_MESSAGE }))) return 'lease_lost';
      await this.finish(id);
      return 'path_locked';
    }
    const signal = this.abort.signal;
    let fenced = false;
    let outcome: TaskOutcome = 'aborted';
    try {
      await setStatus('Processing');
      tlog.info('task processing', { operations: operations.length });
      if (this.o.hooks?.beforeApply) await untilAborted(this.o.hooks.beforeApply(id, signal), signal);
      if (signal.aborted) return outcome;
      await this.o.fence?.enter();
      fenced = true;
      const hashes = await blocksReferenced(this.applier.restores, row.folder_id, operations);
      // The GC epoch is read before the sizes: a collection after it shows at commit.
      const epoch = (await this.o.sharedFence?.epoch()) ?? 0;
      const sizes = await this.o.blocks.sizes(hashes);
      for (const hash of await dropDamaged(this.o.blocks, operations, sizes)) tlog.warn('block damaged in the store: named missing, its upload writes it again', { hash });
      const looked: LookedUp = { epoch, hashes, sizes };
      // Block renames become durable before anything that references them commits (see BlockStore).
      await this.o.blocks.persist();
      if (signal.aborted) return outcome;
      const finished = row.single_operation ? await this.applyAll(row, operations, looked) : await this.applyInChunks(row, operations, looked, signal);
      if (!finished) return outcome;
      await setStatus('Completed');
      tlog.info('task completed');
      outcome = 'completed';
    } catch (error) {
      if (signal.aborted) return outcome;
      if (error instanceof FolderGone) {
        tlog.warn('task refused: its folder was removed');
        outcome = (await setOwnStatus('Failed', { code: 'not_found', message: error.message })) ? 'failed' : 'lease_lost';
      } else if (error instanceof LeaseLost) {
        tlog.warn('task taken over by another server process: this one stops');
        outcome = 'lease_lost';
      } else if (storageFullCode(error) !== null) {
        this.stall(id, error);
        tlog.warn('task waits for disk space', { error });
        outcome = 'stalled';
      } else {
        tlog.error('task failed', { error });
        if (await setOwnStatus('Failed', { code: 'internal', message: 'The task failed on the server' })) {
          outcome = 'failed';
        } else {
          tlog.warn('task taken over by another server process: its failure here is not recorded');
          outcome = 'lease_lost';
        }
      }
    } finally {
      if (fenced) this.o.fence?.leave();
      await this.locks.release(row.folder_id, paths, id).catch((error: unknown) => tlog.warn('path locks not released (they end with the task)', { error }));
    }
    // Waiters hear an outcome; a run cut short (or taken over) leaves them to the next run.
    if (outcome === 'completed' || outcome === 'failed' || outcome === 'stalled') await this.finish(id);
    return outcome;
  }

  private context(row: TaskRow, looked: LookedUp) {
    return { folderId: row.folder_id, device: row.device, taskId: row.id, now: this.o.clock(), blockSizes: looked.sizes };
  }

  /** Ordinary batch: each operation stands alone; results commit with their operation. */
  private async applyInChunks(row: TaskRow, operations: Operation[], looked: LookedUp, signal: AbortSignal): Promise<boolean> {
    const done = await this.o.store.doneKeys(row.id);
    const todo = operations.filter((op) => !done.has(op.key));
    for (let i = 0; i < todo.length; i += CHUNK) {
      if (signal.aborted) return false;
      const chunk = todo.slice(i, i + CHUNK);
      const changed = await this.o.db.tx(async () => {
        await this.lockFolder(row.folder_id, row.id, looked);
        const ctx = this.context(row, looked);
        let any = false;
        const results: Array<{ key: string; result: OperationResult }> = [];
        for (const op of chunk) {
          const result = await this.applier.apply(op, ctx);
          any ||= result.ok;
          results.push({ key: op.key, result });
        }
        await this.o.store.saveResults(row.id, results);
        return any;
      });
      if (changed) this.o.onFolderChanged(row.folder_id);
      if (i + CHUNK < todo.length) {
        await yieldToLoop();
        if (this.o.hooks?.afterChunk) await untilAborted(this.o.hooks.afterChunk(row.id, done.size + i + chunk.length, signal), signal);
      }
    }
    return true;
  }

  /** `single-operation: 1`: one transaction; the first failure rolls everything back. */
  private async applyAll(row: TaskRow, operations: Operation[], looked: LookedUp): Promise<boolean> {
    const { db, store } = this.o;
    if ((await store.doneKeys(row.id)).size === operations.length) return true;
    let failed: { key: string; result: OperationResult } | undefined;
    try {
      await db.tx(async () => {
        await this.lockFolder(row.folder_id, row.id, looked);
        const ctx = this.context(row, looked);
        const results: Array<{ key: string; result: OperationResult }> = [];
        for (const op of operations) {
          const result = await this.applier.apply(op, ctx);
          if (!result.ok) {
            failed = { key: op.key, result };
            throw ROLLBACK;
          }
          results.push({ key: op.key, result });
        }
        await store.saveResults(row.id, results);
      });
      this.o.onFolderChanged(row.folder_id);
    } catch (error) {
      if (error !== ROLLBACK || !failed) throw error;
      const failure = failed;
      await db.tx(async () => {
        await store.saveResults(
          row.id,
          operations.map((op) => ({
            key: op.key,
            result: op.key === failure.key ? failure.result : { ok: false, code: 'aborted', message: `Not applied: operation '${failure.key}' of this single-operation batch failed` },
          })),
        );
      });
    }
    return true;
  }

  /**
   * The disk refused a write of the task: what it committed stays (each operation with its
   * result; a single-operation batch not at all), the rest runs again later, from where it
   * stopped. Waiters hear it now (a sync batch answers 507).
   */
  private stall(id: string, cause: unknown): void {
    const seconds = Math.ceil(this.o.storageRetryMs / 1000);
    const error = new FerryError('insufficient_storage', "The server's disk is full: the batch waits and runs again once there is space", {
      status: 507,
      retryable: true,
      retryAfterSeconds: seconds,
      cause,
      details: { taskId: id },
    });
    const timer = setTimeout(() => this.enqueue(id), this.o.storageRetryMs);
    timer.unref();
    this.stalled.set(id, { error, timer });
  }

  /**
   * The first statement of every batch transaction (docs/architecture.md, "Server storage"):
   * on PostgreSQL it locks the folder's row, so batches of one folder commit one after the
   * other and take their seqs in commit order; the changes feed then never pages past a seq
   * that a slower transaction commits later. SQLite has one writer at a time already. On both,
   * a folder removed since the batch was accepted refuses it (its row gone).
   * Then, with several processes, the GC fence: a collection that ran since the blocks were
   * looked up (another epoch) makes this commit look them up again, under the shared lock.
   */
  private async lockFolder(folderId: string, taskId: string, looked: LookedUp): Promise<void> {
    // Removed since the batch was accepted (`ferry server folder remove`): nothing is written to it.
    if (!(await folderHeld(this.o.db, folderId, 'update'))) throw new FolderGone(folderId);
    if (this.o.db.dialect !== 'postgres') return;
    // A process whose lease ran out (another took the task over) commits nothing more.
    if (!(await this.leases.stillOwned(taskId))) throw new LeaseLost(taskId);
    const fence = this.o.sharedFence;
    if (!fence) return;
    const epoch = await fence.epochInCommit();
    if (epoch === looked.epoch) return;
    looked.sizes = await this.o.blocks.sizes(looked.hashes);
    looked.epoch = epoch;
  }

  private async finish(id: string): Promise<void> {
    const row = await this.o.store.byId(id);
    const set = this.waiters.get(id);
    this.waiters.delete(id);
    if (row && set) for (const listener of set) listener(row);
  }
}

function untilAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    signal.addEventListener('abort', () => resolve(), { once: true });
    promise.then(resolve, reject);
  });
}

/** The batch's folder was removed after the batch was accepted (docs/sync-api.md, "Accounts and devices"). */
class FolderGone extends Error {
  constructor(folderId: string) {
    super(`The folder ${folderId} was removed on the server: nothing was written to it`);
  }
}
