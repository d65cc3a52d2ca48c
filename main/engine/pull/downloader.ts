import { createHash } from 'node:crypto';
import { BATCHABLE_BLOCK_BYTES, MAX_BLOCK_BATCH_COUNT } from '../../../protocol/blocks';
import { FerryError, asFerryError } from '../../../protocol/errors';
import { blockRef, readVerifiedBlock, type LocalBlockRef } from '../hashing';
import type { PullRemote } from './remote-port';

/** A counting semaphore: at most `limit` fetches at once across every file of a run. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export type LocalBlockLookup = (hash: string) => LocalBlockRef | undefined;

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The block refs of one indexed file. */
export function blockRefs(abs: string, size: number, blocks: readonly string[]): Array<[string, LocalBlockRef]> {
  return blocks.map((hash, i) => [hash, blockRef(abs, size, i)]);
}

export interface BlockFetcherOptions {
  remote: Pick<PullRemote, 'getBlock' | 'fetchBlocks'>;
  concurrency: number;
  /** Batch fetches in flight at once (small blocks); default 2. */
  batchConcurrency?: number;
  /** Limits of one batch fetch (defaults: 512 blocks, 4 MiB). */
  batchMaxBlocks?: number;
  batchMaxBytes?: number;
  /** Blocks the index knows locally; each is re-hashed before it is trusted. */
  lookupLocal?: LocalBlockLookup;
  signal?: AbortSignal;
  /** Told the size of each block that came from the server, once verified (the download rate). */
  onBytes?: (bytes: number) => void;
}

export interface FetchStats {
  downloaded: number;
  reused: number;
  bytesDownloaded: number;
}

/** Fetches blocks with bounded concurrency, reusing verified local copies first. */
export class BlockFetcher {
  private readonly limiter: Limiter;
  readonly stats: FetchStats = { downloaded: 0, reused: 0, bytesDownloaded: 0 };

  constructor(private readonly options: BlockFetcherOptions) {
    this.limiter = new Limiter(Math.max(1, options.concurrency));
  }

  /**
   * A block's verified bytes. `length` (known from the file size) lets a small block join a
   * batch fetch with others; without it, or for big blocks, it is one GET.
   */
  async fetch(hash: string, length?: number): Promise<Uint8Array> {
    const early = this.takeEarly(hash);
    const local = early ? null : await this.readLocal(hash);
    if (local) {
      this.stats.reused++;
      return local;
    }
    const batch = length !== undefined && length <= BATCHABLE_BLOCK_BYTES && this.batching();
    const data = early ? await early : batch ? await this.batched(hash, length) : await this.single(hash);
    if (!(data instanceof Uint8Array)) throw new FerryError('malformed_reply', `Block ${hash} came back as something other than bytes`, { retryable: true });
    const actual = sha256(data);
    if (actual !== hash) {
      throw new FerryError('hash_mismatch', `Block ${hash} does not match its content (got ${actual}); nothing was written`, {
        retryable: true,
        details: { expected: hash, actual },
      });
    }
    this.stats.downloaded++;
    this.stats.bytesDownloaded += data.length;
    this.options.onBytes?.(data.length);
    return data;
  }

  // ── small blocks fetched ahead ─────────────────────────────────────────────
  // A pull of many small files knows every block it will ask for. Asked for file by file, they
  // go out in whatever each turn of the event loop gathered (a dozen a request); named ahead,
  // they go out in full batches, a bounded number of bytes ahead of the files that use them.
  private readonly early = new Map<string, { length: number; uses: number; data: Promise<Uint8Array> | null }>();
  private readonly ahead: string[] = [];
  private aheadBytes = 0;
  private aheadInFlight = 0;

  /**
   * Small blocks (at most BATCHABLE_BLOCK_BYTES) the run is about to fetch, in the order it will:
   * fetched in full batches ahead of it, at most two batches' bytes not yet taken. Blocks the
   * folder holds locally are left to `fetch`, which reads them from disk.
   */
  expect(blocks: ReadonlyArray<{ hash: string; length: number }>): void {
    if (!this.batching()) return;
    for (const { hash, length } of blocks) {
      if (length <= 0 || length > BATCHABLE_BLOCK_BYTES || this.options.lookupLocal?.(hash)) continue;
      const known = this.early.get(hash);
      if (known) known.uses++;
      else {
        this.early.set(hash, { length, uses: 1, data: null });
        this.ahead.push(hash);
      }
    }
    this.pumpAhead();
  }

  /** The early fetch of a block, counted as taken; null when it was not named ahead. */
  private takeEarly(hash: string): Promise<Uint8Array> | null {
    const e = this.early.get(hash);
    if (!e) return null;
    if (--e.uses === 0) {
      this.early.delete(hash);
      if (e.data) {
        this.aheadBytes -= e.length;
        this.pumpAhead();
      }
    }
    return e.data;
  }

  private pumpAhead(): void {
    const { maxBlocks, maxBytes } = this.batchLimits();
    while (this.ahead.length > 0 && this.aheadInFlight < 2 && this.aheadBytes < 2 * maxBytes && !this.batchUnsupported) {
      const group: Array<{ hash: string; resolve: (d: Uint8Array) => void; reject: (e: unknown) => void }> = [];
      let bytes = 0;
      while (this.ahead.length > 0 && group.length < maxBlocks) {
        const hash = this.ahead[0]!;
        const e = this.early.get(hash);
        // Without an entry still waiting, its file took it before its turn came (fetched the usual way).
        if (e?.data === null) {
          if (group.length > 0 && bytes + e.length > maxBytes) break;
          bytes += e.length;
          e.data = new Promise<Uint8Array>((resolve, reject) => group.push({ hash, resolve, reject }));
          e.data.catch(() => undefined); // its file awaits it; no unhandled rejection meanwhile
        }
        this.ahead.shift();
      }
      if (group.length === 0) return;
      this.aheadBytes += bytes;
      this.aheadInFlight++;
      void this.sendBatch(group).finally(() => {
        this.aheadInFlight--;
        this.pumpAhead();
      });
    }
  }

  private single(hash: string): Promise<Uint8Array> {
    return this.limiter.run(async () => {
      try {
        return await this.options.remote.getBlock(hash, { signal: this.options.signal });
      } catch (error) {
        const e = asFerryError(error, 'network');
        throw e.code === 'not_found' && e.status === 404 ? notOnServer(hash) : e;
      }
    });
  }

  // ── batch fetches of small blocks ──────────────────────────────────────────
  private batchUnsupported = false;
  private readonly queued: Array<{ hash: string; length: number; resolve: (d: Uint8Array) => void; reject: (e: unknown) => void }> = [];
  /** One request per hash at a time: files sharing a block wait on the same fetch. */
  private readonly pendingByHash = new Map<string, Promise<Uint8Array>>();
  private batchesInFlight = 0;
  private pumpQueued = false;

  private batching(): boolean {
    return !this.batchUnsupported && typeof this.options.remote.fetchBlocks === 'function';
  }

  private batched(hash: string, length: number): Promise<Uint8Array> {
    const known = this.pendingByHash.get(hash);
    if (known) return known;
    const p = new Promise<Uint8Array>((resolve, reject) => {
      this.queued.push({ hash, length, resolve, reject });
    }).finally(() => this.pendingByHash.delete(hash));
    this.pendingByHash.set(hash, p);
    // What this turn of the event loop asks for goes out together.
    if (!this.pumpQueued) {
      this.pumpQueued = true;
      setImmediate(() => {
        this.pumpQueued = false;
        this.pump();
      });
    }
    return p;
  }

  private batchLimits(): { maxBlocks: number; maxBytes: number } {
    return { maxBlocks: Math.min(MAX_BLOCK_BATCH_COUNT, this.options.batchMaxBlocks ?? 512), maxBytes: this.options.batchMaxBytes ?? 4 * 1024 * 1024 };
  }

  /** Sends batches while there is a free slot; what queues meanwhile makes the next batch. */
  private pump(): void {
    const { maxBlocks, maxBytes } = this.batchLimits();
    while (this.queued.length > 0 && this.batchesInFlight < Math.max(1, this.options.batchConcurrency ?? 2)) {
      let bytes = 0;
      let n = 0;
      while (n < this.queued.length && n < maxBlocks && (n === 0 || bytes + this.queued[n]!.length <= maxBytes)) bytes += this.queued[n++]!.length;
      const group = this.queued.splice(0, n);
      this.batchesInFlight++;
      void this.sendBatch(group).finally(() => {
        this.batchesInFlight--;
        this.pump();
      });
    }
  }

  private async sendBatch(group: Array<{ hash: string; resolve: (d: Uint8Array) => void; reject: (e: unknown) => void }>): Promise<void> {
    let found: Map<string, Uint8Array | null>;
    try {
      found = await this.options.remote.fetchBlocks!(
        group.map((g) => g.hash),
        { signal: this.options.signal },
      );
    } catch (error) {
      const e = asFerryError(error, 'network');
      if (e.code === 'not_found' && e.status === 404) {
        // A server without the batch extension: one GET per block from now on.
        this.batchUnsupported = true;
        for (const g of group) this.single(g.hash).then(g.resolve, g.reject);
        return;
      }
      for (const g of group) g.reject(e);
      return;
    }
    for (const g of group) {
      const data = found.get(g.hash);
      if (data instanceof Uint8Array) g.resolve(data);
      else if (data === null) g.reject(notOnServer(g.hash));
      else g.reject(new FerryError('malformed_reply', `The batch fetch did not answer block ${g.hash}`, { retryable: true }));
    }
  }

  private async readLocal(hash: string): Promise<Uint8Array | null> {
    const ref = this.options.lookupLocal?.(hash);
    return ref ? readVerifiedBlock(ref, hash) : null;
  }
}

/**
 * A block the server answered absent: lost there, most likely (docs/sync-api.md, "Lost blocks"),
 * so the same words whichever way it was asked for; the pull tries again.
 */
function notOnServer(hash: string): FerryError {
  return new FerryError('not_found', `Block ${hash} is not on the server (lost there: it comes back once a device holding the file sends it again)`, { status: 404 });
}
