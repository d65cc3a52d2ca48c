import { randomUUID } from 'node:crypto';
import { BatchQuery, BatchRequest, FerryError, HEADERS, PATH_LOCKED_MESSAGE, type BatchAcceptedReply, type BatchCompletedReply } from '../protocol';
import { errorReply, type JsonReply, type RequestContext } from './http';
import { fingerprint, trackingIdReused, type IdempotencyStore } from './idempotency';
import type { TaskRow, TaskStore } from './task-store';
import type { TaskRunner } from './tasks';
import { parseInput } from './validation';

export interface BatchDeps {
  tasks: TaskStore;
  runner: TaskRunner;
  syncBudgetMs: number;
  maxQueuedTasks: number;
  idempotency: IdempotencyStore;
}

/** Failures a resubmission with the same tracking id may run again. */
const RERUNNABLE = new Set(['path_locked', 'internal']);

export function singleOperation(ctx: Pick<RequestContext, 'req'>): boolean {
  const raw = ctx.req.headers[HEADERS.singleOperation];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new FerryError('invalid_request', 'single-operation header must be 1 or 0', { status: 400 });
}

/** How batches were fingerprinted before the parsed body was (tasks stored then keep it). */
export function legacyBatchFingerprint(ctx: RequestContext, raw: Buffer): string {
  return fingerprint('batch', ctx.params.folderId ?? '', singleOperation(ctx) ? '1' : '0', raw.toString('utf8'));
}

/**
 * `POST /v1/folders/{folderId}/sync`. Every batch becomes a durable task keyed by its
 * X-Tracking-Id; sync mode just waits for it up to the budget. A resubmission finds the
 * same task, so nothing is ever applied twice, whatever mode it comes back in.
 */
export async function submitBatch(ctx: RequestContext, folderId: string, deps: BatchDeps): Promise<JsonReply> {
  const { mode } = parseInput(BatchQuery, Object.fromEntries(ctx.query), 'query');
  const single = singleOperation(ctx);
  // Set by the pipeline whenever a tracking id was given (the route is idempotent: 'task').
  const fp = ctx.fingerprint;

  let task = fp ? await deps.tasks.byTrackingId(ctx.idempotencyKey) : undefined;
  if (task) {
    if (!fp?.matches(task.fingerprint)) throw trackingIdReused();
    if (task.status === 'Failed' && RERUNNABLE.has(task.error_code ?? '')) {
      await deps.tasks.requeue(task.id);
      deps.runner.enqueue(task.id);
      task = (await deps.tasks.byId(task.id)) as TaskRow;
    }
    // A task the full disk stalled runs again at once: the client's retry is the signal.
    if (deps.runner.stalledBy(task.id)) deps.runner.enqueue(task.id);
    ctx.log.info('batch resubmitted', { taskId: task.id, status: task.status });
  } else {
    const batch = parseInput(BatchRequest, ctx.body, 'batch');
    if (deps.runner.backlog >= deps.maxQueuedTasks) {
      throw new FerryError('unavailable', 'Too many queued tasks; try again later', { status: 503, retryAfterSeconds: 5 });
    }
    if (fp) await deps.idempotency.claimForTask(ctx.idempotencyKey, fp);
    task = await deps.tasks.insert({
      id: randomUUID(),
      trackingId: fp ? ctx.idempotencyKey : null,
      fingerprint: fp?.value ?? '',
      folderId,
      singleOperation: single,
      operations: batch.operations,
      device: ctx.device,
      run: ctx.run,
    });
    ctx.log.info('batch accepted', { taskId: task.id, mode, operations: batch.operations.length });
    deps.runner.enqueue(task.id);
  }

  if (mode === 'async') {
    const body: BatchAcceptedReply = { taskId: task.id, status: task.status };
    return { status: 202, body };
  }
  const finished = await deps.runner.waitFor(task.id, deps.syncBudgetMs, ctx.signal);
  const stalled = deps.runner.stalledBy(task.id);
  if (stalled) return errorReply(stalled);
  if (!finished) {
    const error = new FerryError('timeout', 'The batch did not finish within the sync budget; it continues as a task', {
      status: 504,
      details: { taskId: task.id },
    });
    return errorReply(error);
  }
  if (finished.status === 'Failed') {
    const locked = finished.error_code === 'path_locked';
    return errorReply(
      new FerryError(finished.error_code ?? 'internal', finished.error_message ?? PATH_LOCKED_MESSAGE, {
        status: locked ? 423 : 500,
        retryAfterSeconds: 1,
        details: { taskId: finished.id },
      }),
    );
  }
  const body: BatchCompletedReply = { taskId: finished.id, status: 'Completed', results: await deps.tasks.results(finished.id) };
  return { status: 200, body };
}
