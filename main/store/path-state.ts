import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Db } from './db';
import type { EntryKind, FileIndexRepo, LocalRecord } from './file-index';
import { changeOf, liveIdle, type ChangeKeep, type ClaimRef, type Change, type CompleteOutcome, type EnqueueOutcome, type FailOutcome, type QueueRow, type QueueRows } from './queue';

/** A move's answer: the entries a directory took along, each at its new path and revision (P9). */
export type MovedEntries = ReadonlyArray<{ path: string; from: string; revision: string }>;

/**
 * The changes of a path's sync state that span the file index and the queue, each one
 * transaction: a local change queued (undoing a move that will not go rewrites the index rows
 * it carried), a push completed (its revision recorded), a move refused. The queue and the
 * index repositories each touch only their own table; docs/architecture.md, "Who owns which
 * state", and docs/conflict-rules.md, "Pushing a move" (P1-P10), for the rules coded here.
 */
export interface PathStateRepo {
  /** A change to push: a new row, or one that replaces the path's earlier change. */
  enqueue(change: Change): EnqueueOutcome;
  /** A local file or folder changed: its state recorded in the index, its upload queued on `baseRevision`. */
  localChanged(state: LocalRecord, baseRevision: string | null): EnqueueOutcome;
  /** A local entry the user removed: its index row out, its delete queued on `baseRevision`. */
  localGone(entry: { folderId: string; path: string; kind: EntryKind }, baseRevision: string | null): EnqueueOutcome;
  /**
   * The push of `ref` succeeded; records the revision in the index in the same transaction.
   * A move's answer: `moved` lists the entries a directory took along (P9); a move whose
   * snapshot is not the moved content goes on as an upload on the move's revision (P2).
   */
  complete(ref: ClaimRef, result: { revision: string | null; moved?: MovedEntries }): CompleteOutcome;
  /**
   * The server refused the move `ref` sent (P8): the row becomes an upload of its path as new
   * (for a directory, with every entry below it) and the old path is deleted on its base
   * revision. Never a loss: the usual rows decide what the other device changed.
   * `sourceGone`: the server has no `from` any more (refused as a conflict naming no current revision).
   */
  moveRefused(ref: ClaimRef, move: { from: string; kind: EntryKind; baseRevision: string | null; sourceGone?: boolean }): FailOutcome;
  /**
   * The pull accounted for the path's queued change: it is dropped, if no pusher holds it. A
   * move that has not gone leaves behind what the server needs without it (P5, P8: its old
   * path's delete, the entries below a folder as new). True when a change was dropped.
   */
  cancel(folderId: string, path: string): boolean;
}

export function pathStateRepo(db: Db, rows: QueueRows, index: FileIndexRepo, clock: Clock = systemClock): PathStateRepo {
  const synced = (folderId: string, path: string) => index.get(folderId, path)?.syncedRevision ?? null;

  function enqueueOne(change: Change): EnqueueOutcome {
    const now = clock();
    const existing = rows.byPath(change.folderId, change.path);
    const live = existing !== undefined && existing.state !== 'done';
    // A change on a revision the pull recorded at the path since is another device's file there,
    // not the moved one: it never carries the move (P2, P5; chaos seed 13057).
    const carries = change.baseRevision === null || change.baseRevision === existing?.base_revision;
    const keepMove = (row: QueueRow): ChangeKeep => ({ baseRevision: row.base_revision, moveFrom: row.move_from, moveHash: row.move_hash });
    if (carries && live && existing.move_from !== null && !change.moveFrom && change.kind === existing.kind && (existing.in_flight_generation !== null || existing.create_sent === 1)) {
      // An edit (P2) or a delete (P5) of a move in flight, or sent without an answer (it may have
      // landed): a newer generation that still carries the move. Its answer settles the move
      // (complete, moveRefused); without one (a kill) it is sent again, and the server answers a
      // move already made as made (docs/conflict-rules.md, "A move sent without an answer").
      rows.replace(existing.id, change, now, keepMove(existing));
      return 'replaced';
    }
    if (liveIdle(existing) && existing.move_from !== null && !change.moveFrom) {
      // A move that has not gone yet, and a newer change of its path (docs/conflict-rules.md,
      // "Pushing a move"). An edit keeps the move and uploads after it (P2); a delete (P5), or
      // the pull dropping the row, turns it into what the server needs without it.
      if (carries && change.op === 'upsert' && change.kind === existing.kind) {
        rows.replace(existing.id, change, now, keepMove(existing));
        return 'replaced';
      }
      unmove(existing);
      return enqueueOne(change);
    }
    // A user's change on no base of a path whose queued change builds on a server revision takes
    // that revision: the index holds a path made again before its delete went out as new, while
    // the server still has the revision the queue names. A file re-created so builds on its
    // delete's revision (an editor's save dance seen halfway), an edit of it keeps it (S22, chaos
    // seed 40050) and a delete of it goes on it (S21, chaos seed 40036). An upload in flight is
    // rebased by its answer instead (S6); the pull's own changes (an upload as new, dropping a
    // row it accounted for) keep no base.
    const fromUser = change.op === 'delete' ? change.byUser === true : change.asNew !== true;
    const inherits = change.baseRevision === null && fromUser && live && existing.base_revision !== null && (change.op === 'delete' || existing.op === 'delete' || liveIdle(existing));
    const next = inherits ? { ...change, baseRevision: existing.base_revision } : change;
    if (next.op === 'delete' && next.baseRevision === null) {
      // The server never had this path. A create never sent is simply dropped; one in flight
      // may land, so the delete follows it (complete() rebases it); so does one sent without an
      // answer, which the server may have taken (chaos seed 11715).
      if (!live) return 'noop';
      const maybeLanded = next.byUser === true && existing.create_sent === 1;
      if (existing.in_flight_generation === null && !maybeLanded) {
        rows.remove(existing.id);
        return 'cancelled';
      }
    }
    if (!existing) {
      rows.insert(next, now);
      return 'queued';
    }
    rows.replace(existing.id, next, now);
    return live ? 'replaced' : 'queued';
  }

  /** What the index holds at `path`, queued as a new upload (never left looking synced). */
  function uploadAsNew(folderId: string, e: { path: string; kind: EntryKind; size: number; mtimeMs: number; contentHash: string | null; blocks: string[] | null }): void {
    index.setSyncedRevision(folderId, e.path, null);
    enqueueOne({ folderId, path: e.path, kind: e.kind, op: 'upsert', size: e.size, mtimeMs: e.mtimeMs, contentHash: e.contentHash, blocks: e.blocks, baseRevision: null });
  }

  /**
   * P9: what the index holds below a moved directory that the server did not move with it (another
   * device deleted it there first; or the answer did not list what moved) is not on the server at
   * its new path: it goes up as new, never left looking synced (chaos seed 3). An upload of bytes
   * the server holds there already is answered as done.
   */
  function leftBehind(row: QueueRow, moved: MovedEntries | undefined): void {
    const listed = new Set((moved ?? []).map((m) => m.path));
    for (const e of index.entriesUnder(row.folder_id, row.path)) {
      if (listed.has(e.path) || e.syncedRevision === null) continue;
      const queued = rows.byPath(row.folder_id, e.path);
      if (queued && queued.state !== 'done') {
        index.setSyncedRevision(row.folder_id, e.path, null);
        if (queued.in_flight_generation === null && queued.op === 'upsert') rows.rebase(queued.id, null);
        continue;
      }
      uploadAsNew(row.folder_id, e);
    }
  }

  /**
   * `from` is to go on `base`; a new file queued there meanwhile replaces that version instead
   * (P5), unless the server has no `from` any more (P8): then it goes up as new.
   */
  function deleteSource(folderId: string, from: string, kind: EntryKind, base: string | null, sourceGone = false): void {
    const there = rows.byPath(folderId, from);
    if (there !== undefined && there.state !== 'done' && there.move_from === null) {
      // A change of `from` on what the pull brought there since is the user's doing with what is
      // there now (P8, chaos seed 10985): the version the move named is gone, nothing to delete.
      if (there.base_revision !== null) return;
      if (liveIdle(there) && there.op === 'upsert') {
        if (!sourceGone) rows.rebase(there.id, base);
        return;
      }
    }
    // The pull put a newer version of `from` back here since (another device's edit of it, kept
    // as U3 keeps it): the version the move named is gone from the server (P8, chaos seed 11565).
    const now = synced(folderId, from);
    if (now !== null && now !== base) return;
    enqueueOne({ folderId, path: from, kind, op: 'delete', baseRevision: base });
  }

  /**
   * A move that will not be sent as one (P5, P8): its path goes up as new and its old path is
   * deleted on its base. For a directory the same holds for every entry below it: what the scan
   * queued under the new path (on the old entries' revisions) and what the index holds there.
   */
  function unmove(row: QueueRow, sourceGone = false): void {
    const from = row.move_from!;
    const base = row.base_revision;
    const now = clock();
    // A delete that carried the move (P5): the server never had the path, so nothing goes up for it.
    if (row.op === 'delete') rows.remove(row.id);
    else rows.replace(row.id, { ...changeOf(row), baseRevision: null }, now);
    if (row.kind === 'dir') {
      const oldPath = (p: string) => from + p.slice(row.path.length);
      const queued = new Set<string>();
      const under = (p: string) => p.startsWith(`${row.path}/`);
      // P3: a move out of the folder names where this move would have put its source; without it,
      // the source is still at its old path (chaos seed 10988).
      const movingOut = new Set<string>();
      for (const m of rows.movesFromUnder(row.folder_id, row.path)) {
        if (under(m.path)) continue;
        movingOut.add(m.path);
        const was = oldPath(m.move_from!);
        rows.rewriteMoveFrom(m.id, was);
        // A folder that would now move inside itself goes entry by entry instead.
        if (m.path.startsWith(`${was}/`) && m.in_flight_generation === null) unmove({ ...m, move_from: was });
      }
      for (const child of rows.liveUnder(row.folder_id, row.path)) {
        queued.add(child.path);
        // The entry's old name and revision as the move found them (P10), not what the pull wrote since.
        const source = index.get(row.folder_id, child.path);
        const sourceBase = source?.moveBase ?? null;
        // P10: a change queued on another revision than the one the rename carried builds on the
        // server's own entry that the pull recorded at the new name (chaos seed 11701), or is the
        // pull's upload of the moved file as new (D3, chaos seed 72): it goes as queued, and only
        // the old name goes besides.
        if (source?.moveFrom !== undefined && child.base_revision !== sourceBase) {
          deleteSource(row.folder_id, source.moveFrom, child.kind, sourceBase, sourceGone);
          continue;
        }
        if (child.in_flight_generation !== null || child.base_revision === null) continue;
        if (child.op === 'delete') rows.remove(child.id);
        else rows.replace(child.id, { ...changeOf(child), baseRevision: null }, now);
        // A change queued below the moved directory names an entry the server still holds at its old path.
        const gone = child.move_from ?? child.path;
        if (source?.moveFrom) deleteSource(row.folder_id, source.moveFrom, child.kind, sourceBase, sourceGone);
        else deleteSource(row.folder_id, under(gone) ? oldPath(gone) : gone, child.kind, child.base_revision, sourceGone);
      }
      for (const e of index.entriesUnder(row.folder_id, row.path)) {
        const carried = e.moveFrom !== undefined;
        const oldBase = carried ? (e.moveBase ?? null) : e.syncedRevision;
        if (queued.has(e.path) || oldBase === null) continue;
        // P10: the pull recorded the server's own entry at the new name meanwhile: it is there already.
        const pulledHere = carried && e.syncedRevision !== null && e.syncedRevision !== oldBase;
        if (!pulledHere) uploadAsNew(row.folder_id, e);
        deleteSource(row.folder_id, e.moveFrom ?? oldPath(e.path), e.kind, oldBase, sourceGone);
      }
      // P10: an entry the rename carried that left the folder since, by a move of its own that
      // went: its old name goes too, on its old revision (chaos seed 18130). One still queued
      // takes it from there itself (P3, above).
      for (const e of index.settleCarriedOut(row.folder_id, from, row.path)) {
        if (!movingOut.has(e.path) && e.moveFrom !== undefined && e.moveBase != null) deleteSource(row.folder_id, e.moveFrom, e.kind, e.moveBase, sourceGone);
      }
      index.settleMoveSources(row.folder_id, row.path, false);
    }
    deleteSource(row.folder_id, from, row.kind, base, sourceGone);
  }

  const enqueue = db.transaction((change: Change): EnqueueOutcome => enqueueOne(change));

  const localChanged = db.transaction((state: LocalRecord, baseRevision: string | null): EnqueueOutcome => {
    index.putLocal(state);
    const { folderId, path, kind } = state;
    // A folder's row carries no bytes: only its name goes up.
    const content = kind === 'file' ? { size: state.size, mtimeMs: state.mtimeMs, contentHash: state.contentHash, blocks: state.blocks } : {};
    return enqueueOne({ folderId, path, kind, op: 'upsert', ...content, baseRevision });
  });

  const localGone = db.transaction((entry: { folderId: string; path: string; kind: EntryKind }, baseRevision: string | null): EnqueueOutcome => {
    index.remove(entry.folderId, entry.path);
    return enqueueOne({ folderId: entry.folderId, path: entry.path, kind: entry.kind, op: 'delete', baseRevision, byUser: true });
  });

  const complete = db.transaction((ref: ClaimRef, result: { revision: string | null; moved?: MovedEntries }): CompleteOutcome => {
    const row = rows.byId(ref.id);
    if (!row) return 'gone';
    const now = clock();
    for (const m of result.moved ?? []) {
      index.replaceSyncedRevision(row.folder_id, m.path, m.from, m.revision);
      rows.rebaseMoved(row.folder_id, m.path, m.from, m.revision);
    }
    if (row.move_from !== null && row.kind === 'dir' && row.generation === ref.generation) leftBehind(row, result.moved);
    if (row.move_from !== null && row.kind === 'dir') index.settleMoveSources(row.folder_id, row.path, false);
    // Already done (the pull saw this commit land, or a newer one of the path finished): the
    // answer is old news, and must not take the index back to an older revision.
    if (row.state === 'done') return row.generation === ref.generation ? 'done' : 'superseded';
    // S20: a newer change replaced the row after the pull let go of this generation (it saw the
    // commit land, O1): that newer change was decided on what the pull saw, so this answer is old news.
    if (row.generation !== ref.generation && row.in_flight_generation !== ref.generation) return 'superseded';
    // The pull settled the path while this was in flight: its view is the newer one.
    const pulledOver = row.pulled_during === ref.generation;
    if (ref.op === 'upsert' && !pulledOver) index.setSyncedRevision(row.folder_id, row.path, result.revision);
    if (row.generation === ref.generation && row.move_from !== null && row.op === 'delete' && !pulledOver) {
      // The move a delete carried was sent again after a kill and landed (P5): now the delete, on its revision.
      rows.afterMove(row.id, result.revision, now);
      return 'done';
    }
    const movedOther = row.generation === ref.generation && row.move_from !== null && row.kind === 'file' && (row.move_hash === null || row.move_hash !== row.content_hash);
    if (movedOther && !pulledOver) {
      rows.afterMove(row.id, result.revision, now);
      return 'done';
    }
    if (row.generation === ref.generation) {
      rows.markDone(row.id, now);
      return 'done';
    }
    // A newer change waits behind this one (held for it, S20): release it and base it on what the server now has.
    rows.releaseHold(row.id, now);
    if (!pulledOver) rows.rebase(row.id, ref.op === 'upsert' ? result.revision : null);
    // The pull settled the path meanwhile: an upload waiting goes up on what the pull recorded there,
    // never on a base carried over from the generation that landed (a move's `from`, a delete's).
    else if (row.op === 'upsert') rows.rebase(row.id, synced(row.folder_id, row.path));
    // The move it carried landed (P2): what waits is the change after it.
    if (row.move_from !== null) rows.moveDone(row.id);
    return 'superseded';
  });

  const moveRefused = db.transaction((ref: ClaimRef, move: { from: string; kind: EntryKind; baseRevision: string | null; sourceGone?: boolean }): FailOutcome => {
    const gone = move.sourceGone ?? false;
    const row = rows.byId(ref.id);
    if (!row) return 'gone';
    const now = clock();
    if (row.state === 'done') return 'superseded';
    if (row.generation === ref.generation && row.move_from !== null) {
      rows.releaseHold(row.id, now);
      if (row.kind === 'file' && row.op === 'upsert' && row.pulled_during === ref.generation) {
        // P8: the pull settled the new name while the move was in flight (its conflict copy holds
        // the moved bytes): only the old name goes; nothing goes up here (chaos seed 19095).
        rows.moveDone(row.id);
        rows.markDone(row.id, now);
        deleteSource(row.folder_id, move.from, row.kind, row.base_revision, gone);
        return 'superseded';
      }
      unmove(row, gone);
      return 'retry_wait';
    }
    // A newer change of the path waits behind the move: it goes up as new, and the old path goes.
    if (row.in_flight_generation === ref.generation) rows.releaseHold(row.id, now);
    if (row.move_from !== null) {
      unmove(row, gone); // the newer generation still carried the move (P2): the same as its own refusal
      return 'superseded';
    }
    if (row.op === 'upsert') rows.rebase(row.id, null);
    deleteSource(row.folder_id, move.from, move.kind, move.baseRevision, gone);
    return 'superseded';
  });

  const cancel = db.transaction((folderId: string, path: string): boolean => {
    const row = rows.byPath(folderId, path);
    if (!liveIdle(row)) return false;
    if (row.move_from !== null) unmove(row);
    // A delete that carried the move is gone with it (unmove); an upload is now a plain one.
    const left = rows.byId(row.id);
    if (!liveIdle(left)) return false;
    rows.remove(left.id);
    return true;
  });

  return {
    enqueue: (change) => enqueue(change),
    localChanged: (state, baseRevision) => localChanged(state, baseRevision),
    localGone: (entry, baseRevision) => localGone(entry, baseRevision),
    cancel: (folderId, path) => cancel(folderId, path),
    complete: (ref, result) => complete(ref, result),
    moveRefused: (ref, move) => moveRefused(ref, move),
  };
}
