import { createHash } from 'node:crypto';
import type { PushCallOptions, PushRemote } from './remote-port';

type PutBlocks = (blocks: ReadonlyArray<{ hash: string; data: Uint8Array }>, options?: PushCallOptions) => Promise<unknown>;

/**
 * Block requests are content-addressed: asking which of these hashes the server lacks, or
 * putting the block with this hash, is the same logical request whenever it is made. A
 * retryable failure of one sends its items back to the queue (retry_wait) and the next
 * claim uploads them again through a fresh request, so this remembers the tracking id of
 * each such request's first try and gives it to every retry until one succeeds: a retried
 * request reuses its tracking id (docs/sync-api.md). A changed set of hashes is another request.
 */
export function stableTrackingIds(remote: PushRemote, max = 10_000): PushRemote {
  const ids = new Map<string, string>();
  async function keyed<O extends PushCallOptions, T>(key: string, options: O | undefined, call: (options: O | undefined) => Promise<T>): Promise<T> {
    const given = options?.trackingId;
    if (given === undefined) return call(options);
    let id = ids.get(key);
    if (id === undefined) {
      id = given;
      ids.set(key, id);
      // Items that failed for good leave their ids behind: keep the newest only.
      if (ids.size > max) ids.delete(ids.keys().next().value as string);
    }
    const value = await call({ ...options, trackingId: id } as O);
    ids.delete(key);
    return value;
  }
  const out: PushRemote = {
    missingBlocks: (hashes, options) => keyed(`missing:${digest(hashes)}`, options, (o) => remote.missingBlocks(hashes, o)),
    putBlock: (hash, body, options) => keyed(`put:${hash}`, options, (o) => remote.putBlock(hash, body, o)),
    submitBatch: (folderId, operations, options) => remote.submitBatch(folderId, operations, options),
    getTask: (taskId, options) => remote.getTask(taskId, options),
    probe: (options) => remote.probe(options),
  };
  // Optional in the port (a server without the batch extension): offered only while the
  // remote has it, looked up at each use like a direct call would.
  const batchOf = () => (remote as { putBlocks?: PutBlocks }).putBlocks;
  const batched: PutBlocks = (blocks, options) =>
    keyed(`batch:${digest(blocks.map((b) => b.hash))}`, options, (o) => (batchOf() as PutBlocks).call(remote, blocks, o));
  Object.defineProperty(out, 'putBlocks', { enumerable: true, get: () => (typeof batchOf() === 'function' ? batched : undefined) });
  return out;
}

function digest(hashes: readonly string[]): string {
  const h = createHash('sha256');
  for (const x of hashes) h.update(x).update('\n');
  return h.digest('hex');
}
