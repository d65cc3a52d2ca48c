import { promises as fsp } from 'node:fs';
import { hashFile } from '../hashing';

export interface FileHash {
  size: number;
  mtimeMs: number;
  inode: number;
  /** contentHashOf(blocks), the scanner's content hash. */
  contentHash: string;
  blocks: string[];
}

/**
 * Hashes a local file with the scanner's hashing and re-stats it: a file that changed while
 * being read is reported as null (the caller treats it as changed, never as unchanged).
 */
export async function hashLocalFile(abs: string): Promise<FileHash | null> {
  const hash = await hashFile(abs);
  const after = await fsp.lstat(abs);
  const { stat } = hash;
  if (!after.isFile() || hash.size !== stat.size || after.size !== stat.size || after.mtimeMs !== stat.mtimeMs || after.ino !== stat.ino) return null;
  return { size: hash.size, mtimeMs: after.mtimeMs, inode: after.ino, contentHash: hash.contentHash, blocks: hash.blocks };
}
