import type { Readable } from 'node:stream';
import type { BatchAcceptedReply, BatchCompletedReply, BatchMode, BlockFrameWriter, OperationInput, Task } from '../../../protocol';

/** Per-request options the pusher sets: a retried request passes the same trackingId. */
export interface PushCallOptions {
  trackingId?: string;
  /** X-Ferry-Run value for this request (`<runName>;<runStamp>`). */
  run?: string;
  signal?: AbortSignal;
}

export interface SubmitOptions extends PushCallOptions {
  mode: BatchMode;
  singleOperation?: boolean;
}

export type SubmitReply = BatchCompletedReply | BatchAcceptedReply;

/**
 * The slice of the Sync API client the pusher needs. Errors are FerryErrors carrying
 * code, status, retryable and retryAfterSeconds; connection refused / DNS failure come
 * back as code 'offline' (or keep the errno in `cause`, which the retry policy reads too).
 */
export interface PushRemote {
  missingBlocks(hashes: string[], options?: PushCallOptions): Promise<string[]>;
  /** The body is exactly `size` bytes whose SHA-256 is `hash`. */
  putBlock(hash: string, body: Buffer | Readable, options?: PushCallOptions & { size?: number }): Promise<unknown>;
  /** Many small blocks in one request (`POST /v1/blocks/batch`); optional: without it, one PUT each. */
  putBlocks?(blocks: BlockFrameWriter, options?: PushCallOptions): Promise<unknown>;
  submitBatch(folderId: string, operations: OperationInput[], options: SubmitOptions): Promise<SubmitReply>;
  getTask(taskId: string, options?: PushCallOptions): Promise<Task>;
  /** A cheap request used to probe whether the server is reachable again. */
  probe(options?: PushCallOptions): Promise<unknown>;
}
