import { z } from 'zod';
import { ApiErrorBody } from './errors';
import { BatchResults } from './batches';
import { FolderId, IsoDate } from './common';

export const TaskStatus = z.enum(['Queued', 'Processing', 'Completed', 'Failed']);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const TaskId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a task id');

/** GET /v1/tasks/{taskId}. `results` once Completed; `error` once Failed (e.g. path_locked). */
export const Task = z.object({
  taskId: TaskId,
  folderId: FolderId,
  status: TaskStatus,
  operationCount: z.number().int().min(0),
  createdAt: IsoDate,
  updatedAt: IsoDate,
  results: BatchResults.optional(),
  error: ApiErrorBody.optional(),
});
export type Task = z.infer<typeof Task>;

/** `mode=sync`, finished inside the budget. */
export const BatchCompletedReply = z.object({
  taskId: TaskId,
  status: z.literal('Completed'),
  results: BatchResults,
});
export type BatchCompletedReply = z.infer<typeof BatchCompletedReply>;

/** `mode=async` (202), or a resubmission of a known tracking id (200 with its current status). */
export const BatchAcceptedReply = z.object({
  taskId: TaskId,
  status: TaskStatus,
});
export type BatchAcceptedReply = z.infer<typeof BatchAcceptedReply>;

/** 504 body for a sync batch that ran out of budget: the work continues as this task. */
export const BatchTimeoutBody = ApiErrorBody.extend({ taskId: TaskId.optional() });
