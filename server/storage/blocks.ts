import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BLOCK_SIZE, FerryError } from '../../protocol';

/**
 * Content-addressed block files under `<dataDir>/blocks/ab/cd/<sha256>`. A block is written
 * to a temp file, hashed while it streams, fsynced and renamed into place only when the
 * hash matches, so a block file that exists is always complete and correct.
 */
export class BlockStore {
  private readonly root: string;
  private readonly tmpDir: string;

  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'blocks');
    this.tmpDir = path.join(this.root, 'tmp');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    // Leftovers of uploads cut short by a crash.
    for (const name of await fs.readdir(this.tmpDir)) await fs.rm(path.join(this.tmpDir, name), { force: true });
  }

  pathOf(hash: string): string {
    return path.join(this.root, hash.slice(0, 2), hash.slice(2, 4), hash);
  }

  /** The block's size, or null when it is not stored. */
  async sizeOf(hash: string): Promise<number | null> {
    try {
      return (await fs.stat(this.pathOf(hash))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async missing(hashes: readonly string[]): Promise<string[]> {
    const unique = [...new Set(hashes)];
    const present = await mapLimited(unique, 64, async (h) => (await this.sizeOf(h)) !== null);
    return unique.filter((_, i) => !present[i]);
  }

  /** Sizes of the given blocks; absent ones are left out of the map. */
  async sizes(hashes: Iterable<string>): Promise<Map<string, number>> {
    const unique = [...new Set(hashes)];
    const sizes = await mapLimited(unique, 64, (h) => this.sizeOf(h));
    const out = new Map<string, number>();
    unique.forEach((h, i) => {
      const size = sizes[i];
      if (size !== null && size !== undefined) out.set(h, size);
    });
    return out;
  }

  async write(hash: string, body: AsyncIterable<Uint8Array>, maxBytes = BLOCK_SIZE): Promise<{ size: number; stored: boolean }> {
    const tmp = path.join(this.tmpDir, randomUUID());
    const handle = await fs.open(tmp, 'wx', 0o600);
    const digest = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of body) {
        const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        size += buf.length;
        if (size > maxBytes) throw new FerryError('payload_too_large', `A block holds at most ${maxBytes} bytes`, { status: 413 });
        digest.update(buf);
        await handle.write(buf);
      }
      const actual = digest.digest('hex');
      if (actual !== hash) {
        throw new FerryError('hash_mismatch', `Block content hashes to ${actual}, not ${hash}`, { status: 422 });
      }
      await handle.sync();
      await handle.close();
      const target = this.pathOf(hash);
      if ((await this.sizeOf(hash)) !== null) {
        await fs.rm(tmp, { force: true });
        return { size, stored: false };
      }
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.rename(tmp, target);
      return { size, stored: true };
    } catch (error) {
      await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw error;
    }
  }

  async open(hash: string): Promise<{ size: number; stream: ReadStream } | null> {
    const size = await this.sizeOf(hash);
    if (size === null) return null;
    return { size, stream: createReadStream(this.pathOf(hash)) };
  }
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
