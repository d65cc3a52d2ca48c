import { createHash } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { BLOCK_SIZE } from '../../protocol/constants';

/** What was read: the file's stat when opened, and the SHA-256 of each block. */
export interface FileHash {
  /** Bytes actually read; differs from stat.size when the file changed underneath. */
  size: number;
  blocks: string[];
  /** SHA-256 over the concatenated block hashes: equal content, equal hash. */
  contentHash: string;
  stat: { size: number; mtimeMs: number; ino: number };
}

export type HashFn = (absPath: string) => Promise<FileHash>;

/** A file's content as it stood on disk: hashed, and the same file (size, mtime, inode) right after. */
export interface StableHash {
  size: number;
  mtimeMs: number;
  inode: number;
  /** When the file was made, where the file system tells (0 or NaN where it does not). */
  birthtimeMs: number;
  /** contentHashOf(blocks). */
  contentHash: string;
  blocks: string[];
}

/**
 * The engine's one hash-then-restat (the scanner, the pusher's re-hash, the pull's three-way
 * checks): hashes the file, then looks at it again. null when it changed while it was read, or
 * went or turned into something else right after: never to be taken as unchanged; the caller
 * looks again later. Errors opening or reading it are the caller's to name (gone, denied, busy).
 */
export async function hashStable(absPath: string, hash: HashFn = hashFile): Promise<StableHash | null> {
  const read = await hash(absPath);
  let after;
  try {
    after = lstatSync(absPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
  const { stat } = read;
  if (!after.isFile() || read.size !== stat.size || after.size !== stat.size || after.mtimeMs !== stat.mtimeMs || after.ino !== stat.ino) return null;
  return { size: after.size, mtimeMs: after.mtimeMs, inode: after.ino, birthtimeMs: after.birthtimeMs, contentHash: read.contentHash, blocks: read.blocks };
}

/**
 * When the file was made, where the file system tells (statx); null where it does not (0, NaN).
 * Without statx, Node gives the change time: a rename changes it, so it never pairs a file wrongly
 * (docs/conflict-rules.md, "Detecting a move locally").
 */
export function birthOf(st: { birthtimeMs: number }): number | null {
  return Number.isFinite(st.birthtimeMs) && st.birthtimeMs > 0 ? st.birthtimeMs : null;
}

/** How long an empty file's last write must lie back before it is recorded (see justEmptied). */
export const EMPTY_HOLD_MS = 1000;

/**
 * An empty file written under EMPTY_HOLD_MS ago: most likely one opened with truncation whose
 * bytes are on their way, so it is looked at again rather than recorded (docs/conflict-rules.md,
 * "caught being written": its empty version could take another device's emptying edit for its
 * own and be replaced with it). A write time far from `now` (a clock set elsewhere) holds nothing.
 */
export function justEmptied(file: { size: number; mtimeMs: number }, now: number): boolean {
  const age = now - file.mtimeMs;
  return file.size === 0 && age > -EMPTY_HOLD_MS && age < EMPTY_HOLD_MS;
}

export function contentHashOf(blocks: readonly string[]): string {
  const h = createHash('sha256');
  for (const b of blocks) h.update(b);
  return h.digest('hex');
}

const MAX_READ = 1024 * 1024;

/**
 * Streams a file through SHA-256, one hash per block of at most blockSize bytes. Reads are
 * async and at most 1 MiB, so hashing a large file never holds the event loop for long.
 */
export async function hashFile(absPath: string, blockSize: number = BLOCK_SIZE): Promise<FileHash> {
  const small = hashSmallFileSync(absPath, blockSize);
  if (small) return small;
  const handle = await open(absPath, 'r');
  try {
    const st = await handle.stat();
    // Small files get a small buffer: 100,000 of them must not each take a megabyte.
    const buffer = Buffer.allocUnsafe(Math.max(4096, Math.min(MAX_READ, st.size + 1)));
    const blocks: string[] = [];
    let block = createHash('sha256');
    let inBlock = 0;
    let total = 0;
    for (;;) {
      const want = Math.min(buffer.length, blockSize - inBlock);
      const { bytesRead } = await handle.read(buffer, 0, want, null);
      if (bytesRead === 0) break;
      block.update(buffer.subarray(0, bytesRead));
      inBlock += bytesRead;
      total += bytesRead;
      if (inBlock === blockSize) {
        blocks.push(block.digest('hex'));
        block = createHash('sha256');
        inBlock = 0;
      }
    }
    if (inBlock > 0) blocks.push(block.digest('hex'));
    return { size: total, blocks, contentHash: contentHashOf(blocks), stat: { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } };
  } finally {
    await handle.close();
  }
}

/** Below this size a file is read in one synchronous call: four thread-pool round trips cost more than the read. */
export const SMALL_FILE_BYTES = 64 * 1024;

/**
 * One read buffer for every small file: the read and the hash are synchronous, so no other
 * call can use it meanwhile, and indexing 10,000 files makes no 10,000 short-lived buffers
 * (each a separate allocation that lives until a garbage collection).
 */
const smallScratch = Buffer.allocUnsafeSlow(SMALL_FILE_BYTES + 1);

/**
 * Small files are the common case of an initial index: read them synchronously (tens of
 * microseconds each; callers yield to the loop between files). null when the file is
 * larger, so the streamed path takes over.
 */
export function hashSmallFileSync(absPath: string, blockSize: number = BLOCK_SIZE): FileHash | null {
  const fd = openSync(absPath, 'r');
  try {
    const st = fstatSync(fd);
    if (st.size > SMALL_FILE_BYTES || st.size >= blockSize) return null;
    // One byte more than expected tells a file that grew since the stat.
    const buffer = smallScratch.subarray(0, st.size + 1);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buffer, total, buffer.length - total, null);
      if (n === 0) break;
      total += n;
      if (total === buffer.length) break;
    }
    const blocks = total === 0 ? [] : [createHash('sha256').update(buffer.subarray(0, total)).digest('hex')];
    return { size: total, blocks, contentHash: contentHashOf(blocks), stat: { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } };
  } finally {
    closeSync(fd);
  }
}

/** Where a block may be on disk: a file the index says holds it, at an offset. */
export interface LocalBlockRef {
  abs: string;
  offset: number;
  length: number;
}

/** Block `index` of a file of `size` bytes: block i starts at i * BLOCK_SIZE. */
export function blockRef(abs: string, size: number, index: number): LocalBlockRef {
  const offset = index * BLOCK_SIZE;
  return { abs, offset, length: Math.min(BLOCK_SIZE, size - offset) };
}

/**
 * The block's bytes as the file holds them now, or null: the file may have changed since it
 * was indexed, so only bytes that still hash to `hash` are returned.
 */
export async function readVerifiedBlock(ref: LocalBlockRef, hash: string): Promise<Buffer | null> {
  if (ref.length <= 0 || ref.length > BLOCK_SIZE) return null;
  try {
    const handle = await open(ref.abs, 'r');
    try {
      const buffer = Buffer.alloc(ref.length);
      const { bytesRead } = await handle.read(buffer, 0, ref.length, ref.offset);
      return bytesRead === ref.length && createHash('sha256').update(buffer).digest('hex') === hash ? buffer : null;
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}
