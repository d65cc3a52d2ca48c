import { promises as fsp } from 'node:fs';

/** Errors of a filesystem without hard links (FAT, exFAT, some network shares). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);

/**
 * Moves `from` to `to` only if nothing is at `to`; false when something is. A plain rename
 * replaces what it finds, and the puller places files from concurrent applies: a conflict copy
 * and another device's file of the same name once landed on one path and the second rename
 * silently replaced the first (chaos seed 3, three devices). A hard link refuses an existing
 * name atomically; where the filesystem has none, an lstat first leaves only a short window.
 */
export async function moveNoClobber(from: string, to: string): Promise<boolean> {
  try {
    await fsp.link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_LINKS.has(code)) throw error;
    if (await exists(to)) return false;
    await fsp.rename(from, to);
    return true;
  }
  try {
    await fsp.unlink(from);
  } catch (error) {
    // Both names hold the file now: undo the link so the source stays the only one.
    await fsp.unlink(to).catch(() => undefined);
    throw error;
  }
  return true;
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}
