import { createHash, randomUUID } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BLOCK_SIZE, MAX_MISSING_HASHES } from '../../../protocol';
import { FerryError } from '../../../protocol/errors';
import { withRetries, type AttemptContext } from './attempt';
import { throttledBody, type TokenBucket } from './bandwidth';
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
}

/**
 * Puts the blocks the server lacks, read straight from the file by byte range and hashed
 * again on the way: a block that no longer matches the snapshot means the file changed,
 * and the item must be hashed again rather than committed with stale blocks.
 */
export class Uploader {
  /** Blocks being uploaded right now, so two files sharing a block send it once. */
  private readonly inflight = new Map<string, Promise<void>>();

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
      await this.shared(wanted[0]!.hash, () => this.putBlock(() => Promise.resolve(readSmall(absPath, item)), item, 0, wanted[0]!.hash, onBytes));
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
        wanted.map(({ index, hash }) => this.shared(hash, () => this.putBlock(() => readExact(handle, item, index, blockLength(item.size, index)), item, index, hash, onBytes))),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      await handle.close().catch(() => undefined);
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
          // Re-hash before sending: a mismatch means the file changed under us.
          if (sha256(data) !== hash) throw fileChanged(item.path, `block ${index} no longer matches`);
          let sent = 0;
          try {
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

export function blockLength(size: number, index: number): number {
  return Math.max(0, Math.min(BLOCK_SIZE, size - index * BLOCK_SIZE));
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readExact(handle: FileHandle, item: UploadSnapshot, index: number, length: number): Promise<Buffer> {
  const data = Buffer.allocUnsafe(length);
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
