import { lstatSync, promises as fsp, readdirSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { IndexEntry } from '../../store';
import { decideDirMove, sameBlocks, statMatches, type DirMoveAction, type DirMoveInput } from './decide';
import { dirSyncer, localOf, placeParents, pruneEmptyParents, toBase, type ApplyContext, type RemoteEntry } from './applier';
import { resolveInside } from './safe-path';
import { pendingOf } from './store-port';

/**
 * A remote directory move applied as one local rename (docs/conflict-rules.md, "A moved
 * directory in one rename", rows MD1-MD6). A group is the directory's moved entry with every
 * entry of the pull at or below its source or its target: MD1 settles them all at once, any
 * other row hands them back to the file-by-file pairing (M1-M3).
 */
export interface DirMoveGroup {
  /** The moved directory's own entry (kind dir, carrying movedFrom). */
  root: RemoteEntry;
  from: string;
  entries: RemoteEntry[];
}

const inside = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);
const overlap = (a: string, b: string): boolean => inside(a, b) || inside(b, a);

/** The directory moves of a pull (outermost first, none overlapping another), and the entries no move claims. */
export function groupDirMoves(entries: readonly RemoteEntry[]): { groups: DirMoveGroup[]; rest: RemoteEntry[] } {
  const candidates = entries
    .filter((e) => e.kind === 'dir' && !e.deleted && e.movedFrom !== undefined && e.revision !== null)
    .sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  const groups: DirMoveGroup[] = [];
  for (const c of candidates) {
    const from = c.movedFrom!;
    // A directory moved inside a moved one is part of that move (or, overlapping it otherwise, of no one-rename move).
    if (overlap(from, c.path) || groups.some((g) => [g.from, g.root.path].some((p) => overlap(p, c.path) || overlap(p, from)))) continue;
    groups.push({ root: c, from, entries: [] });
  }
  const rest: RemoteEntry[] = [];
  for (const e of entries) {
    const group = groups.find((g) => inside(e.path, g.from) || inside(e.path, g.root.path));
    if (group) group.entries.push(e);
    else rest.push(e);
  }
  return { groups, rest };
}

/**
 * MD5: every entry of the group at or below the target is the move of an index row at or below
 * the source (`rows`: the source's own row and every row below it), holding that row's synced
 * content; every entry at or below the source is a tombstone; every synced row has both.
 * Nothing else of the pull lies there.
 */
export function feedMovesExactly(group: DirMoveGroup, rows: readonly IndexEntry[]): boolean {
  const target = group.root.path;
  const bySource = new Map<string, RemoteEntry>();
  const tombstones = new Set<string>();
  for (const e of group.entries) {
    if (inside(e.path, group.from)) {
      if (!e.deleted) return false;
      tombstones.add(e.path);
      continue;
    }
    const source = group.from + e.path.slice(target.length);
    if (e.deleted || e.movedFrom !== source || e.revision === null) return false;
    bySource.set(source, e);
  }
  let paired = 0;
  for (const row of rows) {
    const moved = bySource.get(row.path);
    if (row.kind === 'dir' && row.syncedRevision === null) {
      // A folder made here as a parent of pulled files: the server may hold no entry for it.
      if (moved) {
        if (moved.kind !== 'dir') return false;
        paired++;
      }
      continue;
    }
    if (row.syncedRevision === null || !moved || !tombstones.has(row.path)) return false;
    if ((moved.kind ?? 'file') !== row.kind) return false;
    if (row.kind === 'file' && (moved.size !== row.size || !sameBlocks(moved.blocks, row.blocks))) return false;
    paired++;
  }
  return paired === bySource.size;
}

/** How long the walk below holds the loop before it yields (the scanner's slices, main/engine/scanner.ts). */
const WALK_SLICE_MS = 10;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * MD6: the disk below `abs` holds exactly the index rows below `rel`, each file with the size,
 * mtime and inode of its row, each folder with its inode. lstat only: nothing is read or hashed.
 * Plain sync calls in short slices, as the scanner walks: a promise per lstat cost several
 * times more (10,000 files: about 25 ms against 75 on an idle machine, issue 16).
 */
export async function diskMatchesIndex(abs: string, rel: string, rows: readonly IndexEntry[]): Promise<boolean> {
  const byPath = new Map(rows.filter((r) => r.path !== rel).map((r) => [r.path, r]));
  let seen = 0;
  const dirs: Array<[string, string]> = [[abs, rel]];
  let sliceStart = performance.now();
  try {
    while (dirs.length > 0) {
      const [dirAbs, dirRel] = dirs.pop()!;
      for (const name of readdirSync(dirAbs)) {
        const row = byPath.get(`${dirRel}/${name}`);
        // A name in another Unicode form is the scanner's to merge first ("Two spellings of one name").
        if (!row || name.normalize('NFC') !== name || !sameAsRow(lstatSync(path.join(dirAbs, name)), row)) return false;
        if (row.kind === 'dir') dirs.push([path.join(dirAbs, name), row.path]);
        seen++;
        if (performance.now() - sliceStart >= WALK_SLICE_MS) {
          await yieldToLoop();
          sliceStart = performance.now();
        }
      }
    }
  } catch (error) {
    // Something went or changed while it was walked: not as synced.
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
  return seen === byPath.size;
}

function sameAsRow(stat: Stats, row: IndexEntry): boolean {
  if (stat.isDirectory()) return row.kind === 'dir' && (row.inode === null || row.inode === stat.ino);
  if (!stat.isFile()) return false;
  const base = toBase(row)!;
  return base.syncedRevision !== null && statMatches({ size: stat.size, mtimeMs: stat.mtimeMs, inode: stat.ino }, base);
}

/** MD0: every entry at or below the target is in the index at its revision; every other entry of the group is a tombstone. */
function movedHere(ctx: ApplyContext, group: DirMoveGroup): boolean {
  const target = group.root.path;
  const rows = new Map(ctx.store.index.listUnder(ctx.folderId, target).map((r) => [r.path, r.syncedRevision]));
  const own = ctx.store.index.get(ctx.folderId, target);
  if (own) rows.set(target, own.syncedRevision);
  return group.entries.every((e) => (inside(e.path, target) ? !e.deleted && e.revision !== null && rows.get(e.path) === e.revision : e.deleted));
}

/**
 * MD1: renames the source directory to the target in one rename(2) and moves every index row
 * below it in one transaction, with the revisions of the moved entries. Returns the number of
 * files moved, MD0 when the move is here already, or the row that refused it (the caller then
 * pairs the entries file by file).
 */
export async function applyDirMove(ctx: ApplyContext, group: DirMoveGroup): Promise<{ rule: 'MD0' } | { rule: 'MD1'; files: number } | { refused: DirMoveAction }> {
  const { root: entry, from } = group;
  const { store, folderId } = ctx;
  const resolve = { caseInsensitive: ctx.caseInsensitive };
  const src = await resolveInside(ctx.root, from, resolve);
  const dst = await resolveInside(ctx.root, entry.path, resolve);
  const fromRow = store.index.get(folderId, from);
  const rows = fromRow ? [fromRow, ...store.index.listUnder(folderId, from)] : [];
  const input: DirMoveInput = {
    remote: entry,
    source: {
      base: toBase(fromRow),
      local: localOf(src.stat, false),
      queued: pendingOf(store, folderId, from) !== null || store.queue.hasLiveUnder(folderId, from),
      disk: 'unwalked',
    },
    target: {
      local: localOf(dst.stat, false),
      indexed: store.index.holds(folderId, entry.path),
      queued: pendingOf(store, folderId, entry.path) !== null || store.queue.hasLiveUnder(folderId, entry.path),
    },
    feedMatches: feedMovesExactly(group, rows),
    alreadyHere: src.stat === null && fromRow === undefined && !store.index.holds(folderId, from) && !store.queue.hasLiveUnder(folderId, from) && pendingOf(store, folderId, from) === null && movedHere(ctx, group),
  };
  let action = decideDirMove(input);
  if (action.kind === 'walk') {
    const disk = (await diskMatchesIndex(src.abs, from, rows)) ? 'same' : 'differs';
    action = decideDirMove({ ...input, source: { ...input.source, disk } });
  }
  // MD0: every entry is U1/DU1 (at its revision) or D2/DD2 (absent, nothing indexed or queued).
  if (action.kind === 'already-here') return { rule: 'MD0' };
  if (action.kind !== 'move-dir-local') return { refused: action };
  await placeParents(ctx, entry.path);
  // Right before the rename the target must still be free: rename(2) would replace an empty
  // folder, and Node offers no RENAME_NOREPLACE. What remains is the window of one lstat.
  if ((await resolveInside(ctx.root, entry.path, resolve)).stat !== null) return { refused: { kind: 'no-dir-move', rule: 'MD4', reason: 'the target appeared' } };
  await fsp.rename(src.abs, dst.abs);
  // The index moves only once the rename is durable in both parents.
  await dirSyncer.flush(path.dirname(dst.abs));
  if (path.dirname(src.abs) !== path.dirname(dst.abs)) await dirSyncer.flush(path.dirname(src.abs));
  const moved = group.entries.filter((e) => !e.deleted && e.revision !== null);
  store.transaction(() => {
    // Nothing is queued at or below either path (MD3, MD4): no in-flight answer to settle.
    // Set-based: the rows move, then take their moved revisions, in three statements.
    store.index.movePath(folderId, from, entry.path);
    store.index.setSyncedRevisions(folderId, moved.map((e) => [e.path, e.revision!] as const));
    store.index.removeIntents(folderId, moved.map((e) => e.path));
  });
  const files = moved.filter((e) => (e.kind ?? 'file') === 'file').length;
  await pruneEmptyParents(ctx, from);
  return { rule: 'MD1', files };
}
