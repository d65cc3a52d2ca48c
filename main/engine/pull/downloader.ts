import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { BLOCK_SIZE } from '../../../protocol/constants';
import { FerryError, asFerryError } from '../../../protocol/errors';
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

/** Where a block may already be on disk: a file the index says holds it at an offset. */
export interface LocalBlockRef {
  abs: string;
  offset: number;
  length: number;
}

export type LocalBlockLookup = (hash: string) => LocalBlockRef | undefined;

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The block refs of one indexed file: block i starts at i * BLOCK_SIZE. */
export function blockRefs(abs: string, size: number, blocks: readonly string[]): Array<[string, LocalBlockRef]> {
  return blocks.map((hash, i) => {
    const offset = i * BLOCK_SIZE;
    return [hash, { abs, offset, length: Math.min(BLOCK_SIZE, size - offset) }];
  });
}

export interface BlockFetcherOptions {
  remote: Pick<PullRemote, 'getBlock'>;
  concurrency: number;
  /** Blocks the index knows locally; each is re-hashed before it is trusted. */
  lookupLocal?: LocalBlockLookup;
  signal?: AbortSignal;
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

  async fetch(hash: string): Promise<Uint8Array> {
    const local = await this.readLocal(hash);
    if (local) {
      this.stats.reused++;
      return local;
    }
    const data = await this.limiter.run(async () => {
      try {
        return await this.options.remote.getBlock(hash, { signal: this.options.signal });
      } catch (error) {
        throw asFerryError(error, 'network');
      }
    });
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
    return data;
  }

  private async readLocal(hash: string): Promise<Uint8Array | null> {
    const ref = this.options.lookupLocal?.(hash);
    if (!ref || ref.length <= 0 || ref.length > BLOCK_SIZE) return null;
    try {
      const handle = await fsp.open(ref.abs, 'r');
      try {
        const buffer = Buffer.alloc(ref.length);
        const { bytesRead } = await handle.read(buffer, 0, ref.length, ref.offset);
        // The file may have changed since it was indexed: only verified bytes are reused.
        return bytesRead === ref.length && sha256(buffer) === hash ? buffer : null;
      } finally {
        await handle.close();
      }
    } catch {
      return null;
    }
  }
}
