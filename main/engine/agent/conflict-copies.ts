import { lstatSync } from 'node:fs';
import type { Conflict, Store } from '../../store';
import { isDiskFull } from '../disk-full';
import { resolveDiskPath } from '../paths';

/**
 * The conflict copies still on disk, newest first: those this device made and those the pull
 * brought from another device (docs/conflict-rules.md,
 * "Conflict copies": open until the user deletes, renames or moves the copy). A recorded conflict
 * whose copy is gone is marked resolved here, so the list, and the stat of each copy behind it,
 * shrink as the user settles them. Cheap: one lstat per open conflict of the folder.
 */
export function openConflictCopies(store: Store, folder: { id: string; localRoot: string }): Conflict[] {
  const open: Conflict[] = [];
  for (const conflict of store.conflicts.listOpen(folder.id)) {
    if (onDisk(folder.localRoot, conflict.copyPath)) open.push(conflict);
    else settle(store, conflict.id);
  }
  return open.reverse();
}

function onDisk(root: string, key: string): boolean {
  try {
    lstatSync(resolveDiskPath(root, key));
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Only a copy that is not there is settled: one we may not read (EACCES, EIO) still counts.
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}

function settle(store: Store, id: number): void {
  try {
    store.conflicts.resolve(id);
  } catch (error) {
    // A full disk: it is looked at again next time; the list is right meanwhile.
    if (!isDiskFull(error)) throw error;
  }
}
