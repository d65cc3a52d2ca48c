import { FerryError, storageFullCode } from '../../protocol/errors';

/**
 * A write this device could not make because its disk (or the user's quota) is full: a
 * temp file, an fsync, a rename, or the state database growing. Never an item's own failure:
 * the folder waits in `disk_full` and the same work runs again once space frees
 * (docs/conflict-rules.md, "Full disks").
 */
export const DISK_FULL = 'disk_full';

/** The code that says the disk is full, from the error or any error it was caused by. */
function fullCode(error: unknown): string | null {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    if ((e as { code?: unknown }).code === DISK_FULL) return DISK_FULL;
    e = (e as { cause?: unknown }).cause;
  }
  return storageFullCode(error);
}

/** True when the error, or any error it was caused by, says the disk is full. */
export const isDiskFull = (error: unknown): boolean => fullCode(error) !== null;

/**
 * The error a folder reports while a disk is full, saying which (the folder's, or the one
 * holding Ferry's state database) and what to do. Retryable.
 */
export function diskFullError(cause: unknown, folderRoot: string): FerryError {
  if (cause instanceof FerryError && cause.code === DISK_FULL) return cause;
  const where = fullCode(cause) === 'SQLITE_FULL' ? "Ferry's state database" : folderRoot;
  return new FerryError(DISK_FULL, `The disk holding ${where} is full: free some space, syncing resumes by itself`, { retryable: true, cause });
}
