import type { IndexEntry, Store } from '../../store';
import { sameBlocks } from './decide';

/** The repositories the puller touches; a whole Store fits. */
export type PullStore = Pick<Store, 'folders' | 'index' | 'queue' | 'paths' | 'tokens' | 'ignoredRemote' | 'conflicts' | 'activity' | 'tasks' | 'transaction'>;

/** A live queue item for a path as the planner saw it. */
export interface PendingRef {
  id: number;
  op: 'upsert' | 'delete';
  generation: number;
  baseRevision: string | null;
  /** A move of this old path to the item's path (docs/conflict-rules.md, "Pushing a move"). */
  moveFrom: string | null;
  /** A generation of the path is being pushed right now (its result not recorded yet). */
  inFlight: boolean;
  /**
   * What that push sends, when the row still holds it (no newer change queued behind it);
   * `sent`: it is in a batch sent (recorded before it went) and not answered yet (O3).
   */
  sending: { op: 'upsert' | 'delete'; kind: 'file' | 'dir'; blocks: readonly string[] | null; sent?: boolean } | null;
  /** The kind and blocks of the row's newest change (what it would upload). */
  kind: 'file' | 'dir';
  blocks: readonly string[] | null;
}

export function pendingOf(store: PullStore, folderId: string, path: string): PendingRef | null {
  const item = store.queue.getByPath(folderId, path);
  if (!item || item.state === 'done') return null;
  const inFlight = item.inFlightGeneration !== null;
  const sending = inFlight && item.inFlightGeneration === item.generation ? { op: item.op, kind: item.kind, blocks: item.blocks, sent: store.tasks.holds(item.id, item.generation) } : null;
  return { id: item.id, op: item.op, generation: item.generation, baseRevision: item.baseRevision, moveFrom: item.moveFrom, inFlight, sending, kind: item.kind, blocks: item.blocks };
}

/**
 * The live item is an upload whose bytes the index no longer records at the path: the pull placed
 * another version there after it was queued (the pusher held it in flight, so the pull could not
 * drop it; its bytes went to a conflict copy, U6), and it stays so after its answer lets go of it.
 * The scanner writes a change to the index and the queue together, so a change of the user's never
 * reads so. No change of the file here (docs/conflict-rules.md, "unchanged").
 */
export function replacedByPull(pending: PendingRef | null, base: Pick<IndexEntry, 'kind' | 'syncedRevision' | 'blocks'> | undefined): boolean {
  if (pending === null || pending.op !== 'upsert' || pending.kind !== 'file' || pending.moveFrom !== null || pending.blocks === null) return false;
  if (base?.kind !== 'file' || base.syncedRevision === null || base.blocks === null) return false;
  return !sameBlocks(pending.blocks, base.blocks);
}

/**
 * The revision a queued move takes away from `path` (U1): the move's base for the path itself;
 * for an entry below a moved folder, the revision its index row kept from the old path (P10).
 */
export function movedAwayBase(store: PullStore, folderId: string, path: string): string | null {
  const move = store.queue.movingAway(folderId, path);
  if (!move || move.moveFrom === null) return null;
  if (move.moveFrom === path) return move.baseRevision;
  const there = store.index.get(folderId, move.path + path.slice(move.moveFrom.length));
  return there?.moveFrom === path ? (there.moveBase ?? null) : null;
}

/**
 * O4: the entry (a file) names its old path below a folder move of this device's that is in
 * flight, and lands where that move takes it: the move's answer, not the entry, moves this
 * device's base to the new revision (P9).
 */
export function carriedByOwnMove(store: PullStore, folderId: string, entry: { path: string; movedFrom?: string; deleted: boolean; kind?: 'file' | 'dir' }): boolean {
  const from = entry.movedFrom;
  if (from === undefined || entry.deleted || (entry.kind ?? 'file') !== 'file') return false;
  // The deepest live move over the old path first, then the ones above it: a move of a folder
  // inside may be queued behind the one in flight that carried the entry.
  for (let over = from; ; ) {
    const move = store.queue.movingAway(folderId, over);
    if (!move || move.moveFrom === null) return false;
    if (move.kind === 'dir' && move.moveFrom !== from && move.inFlightGeneration !== null && entry.path === move.path + from.slice(move.moveFrom.length)) return true;
    if (!move.moveFrom.includes('/')) return false;
    over = move.moveFrom.slice(0, move.moveFrom.lastIndexOf('/'));
  }
}

/**
 * A queued move not in flight takes `path` away (the path itself, or a folder above it), yet
 * something is on disk there again: the rename was undone before the scan saw it. Decided now,
 * the path reads as new (a conflict copy of the very version the move took: chaos seed 17606);
 * the scan records the move back first (P4) and gives the path its row again. A move in flight
 * is left to the usual rows: it may land, and the scan does not undo it (docs/conflict-rules.md,
 * "A rename undone before the scan saw it").
 */
export function movedBackUnseen(store: PullStore, folderId: string, path: string): boolean {
  const move = store.queue.movingAway(folderId, path);
  return !!move && move.moveFrom !== null && move.inFlightGeneration === null;
}

/**
 * The remote change is this device's commit that is still in flight (O1): our device, a push
 * of the path in flight, and, where the row still holds what it sends, the same change with
 * the folder still holding it. A commit of ours that landed earlier while a later one is in
 * flight is not it, and neither is one whose bytes the pull has since moved to a conflict
 * copy (the index then describes the download that took their place: chaos seed 254); those
 * are decided as usual.
 */
export function isOwnInFlight(
  entry: { device: string; deleted: boolean; kind?: 'file' | 'dir'; blocks: readonly string[]; movedFrom?: string },
  deviceId: string,
  pending: PendingRef | null,
  indexed: { kind: 'file' | 'dir'; blocks: readonly string[] | null } | undefined,
): boolean {
  if (entry.device !== deviceId || !pending?.inFlight) return false;
  // The file move the row carries, landing: it holds the moved bytes, not an edit queued after it (P2).
  if (!entry.deleted && (entry.kind ?? 'file') === 'file' && pending.moveFrom !== null && entry.movedFrom === pending.moveFrom) return true;
  const s = pending.sending;
  if (s === null) return true; // a newer change waits behind the push: it cannot be compared
  if (entry.deleted) return s.op === 'delete' && indexed === undefined;
  if (s.op !== 'upsert') return false;
  if ((entry.kind ?? 'file') === 'dir') return s.kind === 'dir' && indexed?.kind === 'dir';
  return s.kind === 'file' && sameBlocks(s.blocks, entry.blocks) && indexed?.kind === 'file' && sameBlocks(indexed.blocks, entry.blocks);
}

/**
 * Drops the queued local change for a path once the pull has accounted for it: the
 * generation the planner saw, or an echo of the content just written. A newer change the
 * user made meanwhile stays queued. An item in flight is left to the pusher: the server
 * answers its stale base revision with a conflict, never an overwrite.
 */
export function dropQueued(
  store: PullStore,
  folderId: string,
  path: string,
  seen: PendingRef | null,
  written: readonly string[] | null,
  /** Bytes a conflict moved to a copy (queued there): an upload of them here is accounted for too. */
  movedAside: readonly string[] | null = null,
): boolean {
  const item = store.queue.getByPath(folderId, path);
  if (!item || item.state === 'done' || item.inFlightGeneration !== null) return false;
  const accounted =
    (seen !== null && item.generation === seen.generation) ||
    (item.op === 'upsert' && (sameBlocks(item.blocks, written) || sameBlocks(item.blocks, movedAside)));
  if (!accounted) return false;
  return store.paths.cancel(folderId, path);
}

/**
 * D3/D5/DD3/DD5: the server deleted the path, so a delete queued here and not sent is moot, and
 * must not lend the upload its base (a file re-created before its delete went out builds on
 * the deleted revision: chaos seed 11595, a conflict at every recheck).
 */
export function dropQueuedDelete(store: PullStore, folderId: string, path: string): void {
  const queued = store.queue.getByPath(folderId, path);
  if (queued && queued.state !== 'done' && queued.op === 'delete' && queued.inFlightGeneration === null) {
    store.paths.cancel(folderId, path);
  }
}
