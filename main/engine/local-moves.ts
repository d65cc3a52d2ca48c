import type { IndexEntry } from '../store/file-index';

/**
 * Which of the files a scan found gone reappeared elsewhere in the folder (docs/conflict-rules.md,
 * "Moves and renames"): a file with the same inode and size, as a rename keeps them while Ferry
 * runs, or, across a restart (a copy, another disk), a new file (never synced) with the same
 * size and content hash. Each new file accounts for one gone file at most. Returns the gone paths that
 * moved: their deletes are half of a move, not deletes the mass-delete guard weighs.
 */
export function movedAway(gone: readonly IndexEntry[], candidates: Iterable<IndexEntry>): Set<string> {
  const moved = new Set<string>();
  const files = gone.filter((e) => e.kind === 'file' && e.syncedRevision !== null);
  if (files.length === 0) return moved;
  const goneKeys = new Set(gone.map((e) => e.path));
  const byInode = new Map<string, IndexEntry[]>();
  const byContent = new Map<string, IndexEntry[]>();
  const push = (map: Map<string, IndexEntry[]>, key: string, e: IndexEntry) => {
    const list = map.get(key);
    if (list) list.push(e);
    else map.set(key, [e]);
  };
  for (const c of candidates) {
    if (c.kind !== 'file' || goneKeys.has(c.path)) continue;
    // The same inode is the same file, whether its new name was already sent or not (uploads
    // of the new names usually finish while the deletes are held).
    if (c.inode !== null) push(byInode, `${c.inode}:${c.size}`, c);
    // Bytes alike are a move only for a file not synced yet: an old copy is no new name.
    if (c.contentHash !== null && c.syncedRevision === null) push(byContent, `${c.size}:${c.contentHash}`, c);
  }
  const used = new Set<string>();
  const take = (list: IndexEntry[] | undefined): boolean => {
    const found = list?.find((c) => !used.has(c.path));
    if (found) used.add(found.path);
    return found !== undefined;
  };
  for (const e of files) {
    const sameInode = e.inode !== null ? byInode.get(`${e.inode}:${e.size}`) : undefined;
    const sameContent = e.contentHash !== null ? byContent.get(`${e.size}:${e.contentHash}`) : undefined;
    if (take(sameInode) || take(sameContent)) moved.add(e.path);
  }
  return moved;
}
