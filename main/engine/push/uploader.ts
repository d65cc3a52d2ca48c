import { createHash, randomUUID } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BATCHABLE_BLOCK_BYTES, BLOCK_SIZE, MAX_BLOCK_BATCH_COUNT, MAX_MISSING_HASHES } from '../../../protocol';
import { FerryError } from '../../../protocol/errors';
import { giveUpOf, withRetries, type AttemptContext } from './attempt';
import { throttledBody, type TokenBucket } from './bandwidth';
import { BlockBuffers } from './block-buffers';
import type { Limiter } from './limiter';
import type { PushRemote } from './remote-port';

/** What the uploader needs of a queue item: the snapshot the scanner hashed. */
export interface UploadSnapshot {
  path: string;
  size: number;
  blocks: string[];
}

export const FILE_CHANGED = 'file_changed';

export function fileChanged(path: string, why: string): FerryError {
  return new FerryError(FILE_CHANGED, `${path} changed since it was hashed (${why})`, { retryable: true });
}

export interface UploaderDeps {
  remote: PushRemote;
  attempt: AttemptContext;
  limiter: Limiter;
  bucket: TokenBucket;
  run: () => string;
  /** Limits of one batch upload of small blocks (defaults: BATCH_MAX_BLOCKS, BATCH_MAX_BYTES). */
  batchMaxBlocks?: number;
  batchMaxBytes?: number;
}

/** Small blocks per `POST /v1/blocks/batch`, and bytes per request. */
export const BATCH_MAX_BLOCKS = 512;
export const BATCH_MAX_BYTES = 4 * 1024 * 1024;

/** A small file's one block waiting for the next batch upload. */
interface Queued {
  absPath: string;
  item: UploadSnapshot;
  hash: string;
  onBytes: (delta: number) => void;
  resolve: () => void;
  reject: (error: unknown) => void;
  settled: boolean;
}

/**
 * Puts the blocks the server lacks, read straight from the file by byte range and hashed
 * again on the way: a block that no longer matches the snapshot means the file changed,
 * and the item must be hashed again rather than committed with stale blocks.
 */
export class Uploader {
  /** Blocks being uploaded right now, so two files sharing a block send it once. */
  private readonly inflight = new Map<string, Promise<void>>();
  /** A few more than the upload window holds at once. */
  private readonly buffers = new BlockBuffers(6);

  constructor(private readonly d: UploaderDeps) {}

  /** The subset of hashes the server does not hold (one request per 10,000). */
  async missing(hashes: readonly string[]): Promise<Set<string>> {
    const unique = [...new Set(hashes)];
    const out = new Set<string>();
    for (let i = 0; i < unique.length; i += MAX_MISSING_HASHES) {
      const chunk = unique.slice(i, i + MAX_MISSING_HASHES);
      const trackingId = randomUUID();
      const missing = await withRetries(this.d.attempt, 'blocks/missing', () =>
        this.d.remote.missingBlocks(chunk, { trackingId, run: this.d.run(), signal: this.d.attempt.signal }),
      );
      for (const h of missing) out.add(h);
    }
    return out;
  }

  /** Uploads the item's blocks that are in `missing`; onBytes gets deltas of bytes sent. */
  async upload(absPath: string, item: UploadSnapshot, missing: ReadonlySet<string>, onBytes: (delta: number) => void): Promise<void> {
    const wanted: Array<{ index: number; hash: string }> = [];
    const seen = new Set<string>();
    item.blocks.forEach((hash, index) => {
      if (missing.has(hash) && !seen.has(hash)) {
        seen.add(hash);
        wanted.push({ index, hash });
      }
    });
    // Bytes of blocks already on the server count as done.
    const skipped = item.blocks.reduce((sum, h, i) => (seen.has(h) ? sum : sum + blockLength(item.size, i)), 0);
    if (skipped > 0) onBytes(skipped);
    if (wanted.length === 0) return;
    if (item.size <= SMALL_FILE && wanted.length === 1) {
      const hash = wanted[0]!.hash;
      // Many small files go up together in one batch request; a server without the batch
      // extension (or a fake without putBlocks) gets one PUT per block.
      if (this.batching() && item.size <= BATCHABLE_BLOCK_BYTES) await this.shared(hash, () => this.enqueue(absPath, item, hash, onBytes));
      else await this.shared(hash, () => this.putBlock(() => Promise.resolve(readSmall(absPath, item)), item, 0, hash, onBytes));
      return;
    }

    let handle: FileHandle;
    try {
      handle = await open(absPath, 'r');
    } catch (error) {
      throw localError(item.path, error);
    }
    try {
      const results = await Promise.allSettled(
        wanted.map(({ index, hash }) => this.shared(hash, () => this.putBlock(() => readExact(handle, item, index, this.buffers.take(blockLength(item.size, index))), item, index, hash, onBytes))),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  private batchUnsupported = false;
  private group: Queued[] = [];
  private groupBytes = 0;
  private flushQueued = false;

  private batching(): boolean {
    return !this.batchUnsupported && typeof this.d.remote.putBlocks === 'function';
  }

  /**
   * Queues a small file's block for the next batch upload. A group goes out when it is full
   * or once the current turn of the event loop has queued what it had (a claimed chunk of
   * items all arrive in one turn).
   */
  private enqueue(absPath: string, item: UploadSnapshot, hash: string, onBytes: (delta: number) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.group.push({ absPath, item, hash, onBytes, resolve, reject, settled: false });
      this.groupBytes += item.size;
      if (this.group.length >= (this.d.batchMaxBlocks ?? BATCH_MAX_BLOCKS) || this.groupBytes >= (this.d.batchMaxBytes ?? BATCH_MAX_BYTES)) {
        this.flushGroup();
      } else if (!this.flushQueued) {
        this.flushQueued = true;
        setImmediate(() => {
          this.flushQueued = false;
          this.flushGroup();
        });
      }
    });
  }

  private flushGroup(): void {
    if (this.group.length === 0) return;
    const entries = this.group;
    this.group = [];
    this.groupBytes = 0;
    void this.sendGroup(entries);
  }

  /** One batch upload: each block read and re-hashed in its slot; a changed file fails alone. */
  private async sendGroup(entries: Queued[]): Promise<void> {
    const { attempt, limiter, bucket, remote } = this.d;
    const settle = (e: Queued, error?: unknown) => {
      if (e.settled) return;
      e.settled = true;
      if (error === undefined) e.resolve();
      else e.reject(error);
    };
    const bytes = entries.reduce((sum, e) => sum + e.item.size, 0);
    const trackingId = randomUUID();
    try {
      await withRetries(attempt, 'blocks/batch', () =>
        limiter.with(
          bytes,
          async () => {
            await attempt.gate();
            const ready: Array<{ e: Queued; data: Buffer }> = [];
            for (const e of entries) {
              if (e.settled) continue;
              try {
                const data = readSmall(e.absPath, e.item);
                if (sha256(data) !== e.hash) throw fileChanged(e.item.path, 'block 0 no longer matches');
                ready.push({ e, data });
              } catch (error) {
                settle(e, error);
              }
            }
            if (ready.length === 0) return;
            const size = ready.reduce((sum, r) => sum + r.data.length, 0);
            if (bucket.bytesPerSecond > 0) await bucket.take(size, attempt.signal);
            for (let i = 0; i < ready.length; i += MAX_BLOCK_BATCH_COUNT) {
              const part = ready.slice(i, i + MAX_BLOCK_BATCH_COUNT);
              await remote.putBlocks!(
                part.map((r) => ({ hash: r.e.hash, data: r.data })),
                { trackingId: i === 0 ? trackingId : `${trackingId}:${i}`, run: this.d.run(), signal: attempt.signal },
              );
              for (const r of part) {
                r.e.onBytes(r.data.length);
                settle(r.e);
              }
            }
          },
          attempt.signal,
        ),
      );
    } catch (error) {
      if (attempt.signal.aborted) {
        for (const e of entries) settle(e, error);
        return;
      }
      if (isMissingEndpoint(error)) {
        // An older server: remember, and send these one by one.
        this.batchUnsupported = true;
        await Promise.all(
          entries
            .filter((e) => !e.settled)
            .map((e) =>
              this.putBlock(() => Promise.resolve(readSmall(e.absPath, e.item)), e.item, 0, e.hash, e.onBytes).then(
                () => settle(e),
                (err: unknown) => settle(e, err),
              ),
            ),
        );
        return;
      }
      const open = entries.filter((e) => !e.settled);
      const bad = error instanceof FerryError && error.code === 'hash_mismatch' ? badHashOf(error) : undefined;
      const culprit = bad === undefined ? undefined : open.find((e) => e.hash === bad);
      if (culprit && open.length > 1) {
        // The server names the one block it refused: fail that file, send the others again.
        settle(culprit, error);
        await this.sendGroup(open.filter((e) => e !== culprit));
        return;
      }
      if (!isRetryableFailure(error) && open.length > 1) {
        // Refused as a whole for a reason that may be one file's: halves, so one bad file
        // cannot fail the rest (a server outage still fails everything, after its retries).
        const half = Math.ceil(open.length / 2);
        await Promise.all([this.sendGroup(open.slice(0, half)), this.sendGroup(open.slice(half))]);
        return;
      }
      for (const e of open) settle(e, error);
    }
  }

  private shared(hash: string, send: () => Promise<void>): Promise<void> {
    const running = this.inflight.get(hash);
    if (running) return running;
    const p = send().finally(() => this.inflight.delete(hash));
    this.inflight.set(hash, p);
    return p;
  }

  private async putBlock(read: () => Promise<Buffer>, item: UploadSnapshot, index: number, hash: string, onBytes: (delta: number) => void): Promise<void> {
    const length = blockLength(item.size, index);
    const trackingId = randomUUID();
    const { attempt, limiter, bucket, remote } = this.d;
    await withRetries(attempt, 'blocks/put', () =>
      limiter.with(
        length,
        async () => {
          // A pause that came while this waited for its slot holds it here.
          await attempt.gate();
          const data = await read();
          let sent = 0;
          try {
            // Re-hash before sending: a mismatch means the file changed under us.
            if (sha256(data) !== hash) throw fileChanged(item.path, `block ${index} no longer matches`);
            const body =
              bucket.bytesPerSecond > 0
                ? throttledBody(data, bucket, (n) => {
                    sent += n;
                    onBytes(n);
                  }, attempt.signal)
                : data;
            await remote.putBlock(hash, body, { size: length, trackingId, run: this.d.run(), signal: attempt.signal });
            if (sent < length) onBytes(length - sent);
          } catch (error) {
            if (sent > 0) onBytes(-sent);
            throw error;
          } finally {
            this.buffers.give(data);
          }
        },
        attempt.signal,
      ),
    );
  }
}

/**
 * Files up to this size are read with synchronous calls: a few microseconds from the page
 * cache, where thousands of concurrent promise reads queue on the libuv pool instead.
 */
export const SMALL_FILE = 256 * 1024;

function readSmall(absPath: string, item: UploadSnapshot): Buffer {
  let fd: number;
  try {
    fd = openSync(absPath, 'r');
  } catch (error) {
    throw localError(item.path, error);
  }
  try {
    const data = Buffer.allocUnsafe(item.size);
    let got = 0;
    while (got < item.size) {
      const n = readSync(fd, data, got, item.size - got, got);
      if (n === 0) break;
      got += n;
    }
    if (got < item.size) throw fileChanged(item.path, `shorter than the ${item.size} bytes hashed`);
    return data;
  } catch (error) {
    throw error instanceof FerryError ? error : localError(item.path, error);
  } finally {
    closeSync(fd);
  }
}

/** The block a 422 hash_mismatch names (on the error or the one it wraps). */
function badHashOf(error: FerryError): string | undefined {
  for (let e: unknown = error; e instanceof FerryError; e = e.cause) {
    const hash = e.details?.hash;
    if (typeof hash === 'string') return hash;
  }
  return undefined;
}

/** Retries were spent on a retryable error (an outage, not something one file did). */
function isRetryableFailure(error: unknown): boolean {
  const give = giveUpOf(error);
  return give !== undefined && give.verdict.action !== 'fail';
}

/** A 404 not_found on the batch endpoint: the server predates the extension. */
function isMissingEndpoint(error: unknown): boolean {
  const cause = error instanceof FerryError && error.code !== 'not_found' ? (error.cause as unknown) : error;
  return cause instanceof FerryError && cause.code === 'not_found' && cause.status === 404;
}

export function blockLength(size: number, index: number): number {
  return Math.max(0, Math.min(BLOCK_SIZE, size - index * BLOCK_SIZE));
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Fills `data` from the block at `index`. */
async function readExact(handle: FileHandle, item: UploadSnapshot, index: number, data: Buffer): Promise<Buffer> {
  const length = data.length;
  let got = 0;
  try {
    while (got < length) {
      const { bytesRead } = await handle.read(data, got, length - got, index * BLOCK_SIZE + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
  } catch (error) {
    throw localError(item.path, error);
  }
  if (got < length) throw fileChanged(item.path, `shorter than the ${item.size} bytes hashed`);
  return data;
}

/** A vanished file is a change (re-queue); anything else local is the file's own problem. */
export function localError(path: string, error: unknown): FerryError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return fileChanged(path, 'it is gone');
  return new FerryError('local_unreadable', `Cannot read ${path}: ${(error as Error).message}`, { retryable: false, cause: error });
}
