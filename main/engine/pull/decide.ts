/**
 * The three-way decision of docs/conflict-rules.md (local vs last synced vs remote), as a
 * pure function. Row ids (U1…, D1…) refer to the tables there.
 */

export interface RemoteState {
  /** What the path names remotely; absent means a file (a server before directories). */
  kind?: 'file' | 'dir';
  /** null for a delete synthesised by a full-sync reconcile (the path is simply gone). */
  revision: string | null;
  deleted: boolean;
  size: number;
  blocks: readonly string[];
  /** A move's new entry names its old path (a file moved, or an entry a directory move carried; checked like any remote path). */
  movedFrom?: string;
}

/** The file index row: what was last synced (while no queue item is live for the path). */
export interface BaseState {
  kind: 'file' | 'dir';
  syncedRevision: string | null;
  size: number;
  mtimeMs: number;
  inode: number | null;
  blocks: readonly string[] | null;
}

export type LocalState =
  | { type: 'absent' }
  | { type: 'dir'; empty: boolean }
  | { type: 'other'; what: string }
  /** blocks: the hashes of what is on disk, when they were computed (null: not hashed). */
  | { type: 'file'; size: number; mtimeMs: number; inode: number; blocks: readonly string[] | null };

export interface DecideInput {
  remote: RemoteState;
  base: BaseState | undefined;
  local: LocalState;
  /** The op of a live (not done) queue item for the path: a local change not yet pushed. */
  pending: 'upsert' | 'delete' | null;
  /**
   * The remote change is this device's own commit while an upload of the path is still in
   * flight: the pull saw it before the pusher had its answer.
   */
  ownInFlight?: boolean;
  /** The base revision of that live queue item (a queued delete names what it deletes). */
  pendingBase?: string | null;
  /** The remote change is this device's own commit (its `device` is ours), in flight or not. */
  own?: boolean;
  /** The live queue item is a move of this old path (its answer not recorded yet). */
  pendingMoveFrom?: string | null;
  /** The revision a queued move takes away from this path (the path is its old one), if any. */
  movedAwayBase?: string | null;
  /**
   * This device's upload of the path (a file) is in a batch sent and not answered yet, the queue
   * row still holds what it sends, and the file here is still those bytes: that commit may have
   * landed, with the remote change built on it (O3).
   */
  sentHere?: boolean;
  /**
   * The entry was carried by this device's own folder move whose answer is not in: only that
   * answer moves this device's base to the entry's new revision (P9, O4).
   */
  carriedByOwnMove?: boolean;
  /**
   * The live queue item is an upload of bytes the pull has replaced at the path since (moved to a
   * conflict copy, U6, while it was in flight): no change of the file here (docs/conflict-rules.md,
   * "unchanged").
   */
  pendingReplaced?: boolean;
}

export type Action =
  | { kind: 'download'; rule: string }
  /** A remote directory: mkdir it (never through a symlink) and record it. */
  | { kind: 'create-dir'; rule: string }
  | { kind: 'delete-local'; rule: string }
  | { kind: 'conflict-copy-then-download'; rule: string }
  /** U7: the local folder the server had goes (once empty: rmdir; else moved aside as U9), and the remote file comes. */
  | { kind: 'replace-with-file'; rule: string }
  /** U9: the local folder is moved to a conflict copy with what it holds, and the remote file comes. */
  | { kind: 'dir-copy-then-download'; rule: string }
  /** DU4: the local file the server had goes (checked, as D4), and the remote folder is made. */
  | { kind: 'replace-with-dir'; rule: string }
  /** DU6: the local file is kept as a conflict copy, and the remote folder is made. */
  | { kind: 'conflict-copy-then-dir'; rule: string }
  | { kind: 'record-only'; rule: string }
  | { kind: 'reupload-local'; rule: string }
  | { kind: 'skip'; rule: string; reason: string }
  /** Not decided now: the pull runs again once what it waits for is recorded (O3). */
  | { kind: 'wait'; rule: string; reason: string };

/** The actions that download the remote file to the path (after whatever they do with what is there). */
export const placesRemoteFile = (a: Action): boolean =>
  a.kind === 'download' || a.kind === 'conflict-copy-then-download' || a.kind === 'replace-with-file' || a.kind === 'dir-copy-then-download';

export const sameBlocks = (a: readonly string[] | null | undefined, b: readonly string[] | null | undefined): boolean =>
  !!a && !!b && a.length === b.length && a.every((h, i) => h === b[i]);

/** The stat matches the index row: the scanner's rule for "unchanged, no need to hash". */
export function statMatches(local: { size: number; mtimeMs: number; inode: number }, base: BaseState): boolean {
  return base.kind === 'file' && local.size === base.size && local.mtimeMs === base.mtimeMs && (base.inode === null || base.inode === local.inode);
}

/**
 * True when the local file must be hashed to decide. Callers first fill `local.blocks`
 * from the index row when the stat matches it and nothing is queued (no hash needed).
 */
export function needsHash({ local, base, remote, pending }: DecideInput): boolean {
  if (local.type !== 'file' || local.blocks !== null || remote.kind === 'dir') return false;
  if (remote.revision !== null && base?.syncedRevision === remote.revision) return false;
  // An upsert may be identical content (U4); a delete only asks "unchanged since sync?" (D4/D5).
  return !remote.deleted || (pending === null && base?.syncedRevision != null);
}

type FileLocal = Extract<LocalState, { type: 'file' }>;

/** Unchanged since the last sync: nothing queued, synced before, same stat or same blocks. */
function unchangedSinceSync(local: FileLocal, base: BaseState | undefined, pending: DecideInput['pending'], pendingReplaced = false): boolean {
  if ((pending !== null && !pendingReplaced) || !base || base.syncedRevision === null || base.kind !== 'file') return false;
  // An upload the pull replaced: the bytes, never the stat, say the file is the pull's version.
  if (pending !== null) return sameBlocks(local.blocks, base.blocks);
  return statMatches(local, base) || sameBlocks(local.blocks, base.blocks);
}

/**
 * A queued local delete of exactly this revision: the user deleted what the remote change
 * brings (the scanner drops the index row with the file, so only the queue still knows it).
 * Read again (a token not yet stored when the agent was killed), it is no reason to bring the
 * file back (chaos seed 300): U1/DU1, already at this revision.
 */
export const deletingIt = (remote: RemoteState, pending: DecideInput['pending'], pendingBase: string | null | undefined): boolean =>
  !remote.deleted && pending === 'delete' && pendingBase != null && pendingBase === remote.revision;

/** U1: the user moved exactly this revision elsewhere, and the move has not landed (chaos seed 10993). */
const MOVED_AWAY = 'moved elsewhere on this device; the move has not reached the server yet';
const movingIt = (remote: RemoteState, movedAwayBase: string | null | undefined): boolean =>
  !remote.deleted && movedAwayBase != null && movedAwayBase === remote.revision;

const OWN_LANDED: Action = { kind: 'skip', rule: 'O2', reason: 'our own commit, whose answer was lost; the queued upload is rebased on it' };

/** The directory rows DU1-DU6 and DD1-DD8: a directory has no content, only existence. */
function decideDir(input: DecideInput): Action {
  const { remote, base, local, pending, pendingBase, movedAwayBase } = input;
  const synced = base?.syncedRevision ?? null;
  if (remote.revision !== null && (synced === remote.revision || deletingIt(remote, pending, pendingBase))) {
    return { kind: 'skip', rule: remote.deleted ? 'DD1' : 'DU1', reason: 'already at this revision' };
  }
  if (movingIt(remote, movedAwayBase)) return { kind: 'skip', rule: 'DU1', reason: MOVED_AWAY };
  if (!remote.deleted) {
    if (local.type === 'absent') return { kind: 'create-dir', rule: 'DU2' };
    if (local.type === 'dir') return { kind: 'record-only', rule: 'DU3' };
    // O2 for a kind change: our own folder, its answer lost, then turned into a file here.
    if (local.type === 'file') {
      if (ownLanded(input, synced)) return OWN_LANDED;
      // Another device turned the file into a folder: it follows, or keeps a changed file as a copy.
      return unchangedSinceSync(local, base, pending, input.pendingReplaced) ? { kind: 'replace-with-dir', rule: 'DU4' } : { kind: 'conflict-copy-then-dir', rule: 'DU6' };
    }
    return { kind: 'skip', rule: 'DU5', reason: `local entry is a ${local.what}` };
  }
  if (local.type === 'absent') return { kind: 'record-only', rule: 'DD2' };
  if (local.type === 'dir') {
    if (synced === null || base?.kind !== 'dir') return { kind: 'reupload-local', rule: 'DD3' };
    return local.empty ? { kind: 'delete-local', rule: 'DD4' } : { kind: 'reupload-local', rule: 'DD5' };
  }
  if (local.type === 'file') {
    // The server deleted a folder where a file is here: one it had and another device replaced
    // (it turned the file into that folder) goes, as D4; the user's own (changed, or new: the
    // folder turned into a file here) is kept and uploaded as new, as D6 the other way round.
    return unchangedSinceSync(local, base, pending, input.pendingReplaced) ? { kind: 'delete-local', rule: 'DD6' } : { kind: 'reupload-local', rule: 'DD7' };
  }
  return { kind: 'skip', rule: 'DD8', reason: `local entry is a ${local.what}` };
}

/**
 * O2: our own commit landed but its answer was lost, and the user changed the file again. The
 * server took it only on the base this device named, which the queued upload still builds on
 * (the synced revision): no other device's change came between, so the upload is the user's
 * next version of it, not a conflict (chaos seed 1029). A new file's upload names no base, which
 * the server takes only where nothing is live at the path: none on either side matches too
 * (chaos seed 4035).
 */
const ownLanded = ({ own, pending, pendingBase, remote, pendingMoveFrom }: DecideInput, synced: string | null): boolean =>
  own === true && pending === 'upsert' && pendingBase !== undefined && buildsOnOwn(pendingBase, synced, remote, pendingMoveFrom) && ownMoveIsQueued(remote, pendingMoveFrom);

/**
 * The queued change builds on what this device synced, or the index names no revision (the
 * user deleted the path since, made it again, or moved a file there): its base is then the one
 * this device's push went on. A move's row only for that move landing (docs/conflict-rules.md, O2).
 */
const buildsOnOwn = (pendingBase: string | null, synced: string | null, remote: RemoteState, pendingMoveFrom: string | null | undefined): boolean =>
  pendingBase === synced || (synced === null && (pendingMoveFrom == null || remote.movedFrom === pendingMoveFrom));

/**
 * O2 for a delete: our own commit of a path that is gone here, with a delete of it queued on
 * what the index synced (none on either side for a new file), or on any revision once the index
 * names none: the commit's answer was lost and the user deleted or moved the file away since
 * (chaos seed 11715). Downloaded, it came back; or the delete conflicted at every recheck. A
 * delete that carries a file move (P5) only for that move landing.
 */
const ownDeleted = ({ own, pending, pendingBase, remote, local, base, pendingMoveFrom }: DecideInput): boolean =>
  own === true && !remote.deleted && local.type === 'absent' && pending === 'delete' && pendingBase !== undefined && buildsOnOwn(pendingBase, base?.syncedRevision ?? null, remote, pendingMoveFrom) && ownMoveIsQueued(remote, pendingMoveFrom);

/**
 * A move's entry is the commit the queued item names only when that item is the move itself.
 * A directory move carries each entry below it as the server holds it, another device's edit
 * made just before included, and names no base for it: our queued upload of such an entry was
 * never checked against that edit (chaos seed 8001, --disk-full: dev-b's rename of `a` to `A`
 * carried dev-a's new bytes of `a/Ärger/a.tar.gz`; taken for dev-b's own commit, dev-b's next
 * version went up on it and dev-a's edit was overwritten unseen).
 */
const ownMoveIsQueued = (remote: RemoteState, pendingMoveFrom: string | null | undefined): boolean =>
  remote.movedFrom === undefined || remote.movedFrom === pendingMoveFrom;

export function decide(input: DecideInput): Action {
  // O1: our own commit, still in flight. The pusher records its revision and rebases what the
  // user changed since (complete()); taken for another device's edit it made a conflict copy
  // of the user's next version (chaos seed 8).
  if (input.ownInFlight) return { kind: 'skip', rule: 'O1', reason: 'our own change; the pusher records its result' };
  if (ownDeleted(input)) return { kind: 'skip', rule: 'O2', reason: 'our own commit, whose answer was lost; the queued delete is rebased on it' };
  if (input.remote.kind === 'dir') return decideDir(input);
  const { remote, base, local, pending, pendingBase } = input;
  const synced = base?.syncedRevision ?? null;
  if (remote.revision !== null && (synced === remote.revision || deletingIt(remote, pending, pendingBase))) {
    return { kind: 'skip', rule: remote.deleted ? 'D1' : 'U1', reason: 'already at this revision' };
  }
  if (movingIt(remote, input.movedAwayBase)) return { kind: 'skip', rule: 'U1', reason: MOVED_AWAY };
  // O3: another device's change, our upload of these very bytes still unanswered. Landed, it is
  // the remote change's ancestor: decided now, our own bytes became a conflict copy (chaos seed 18086).
  if (input.sentHere && !input.own) return { kind: 'wait', rule: 'O3', reason: 'our upload of this file is in flight: its answer says what the remote change is built on' };
  // O4: our folder move carried this file; its answer rebases what this device holds of it (P9).
  // Decided now, an edit made here since the rename became a conflict copy (chaos seed 19529).
  if (input.carriedByOwnMove && !(local.type === 'file' && local.size === remote.size && sameBlocks(local.blocks, remote.blocks))) {
    return { kind: 'wait', rule: 'O4', reason: "our folder move carried this file: its answer says which version here it moved" };
  }
  if (local.type === 'other') return { kind: 'skip', rule: remote.deleted ? 'D7' : 'U8', reason: `local entry is a ${local.what}` };

  if (!remote.deleted) {
    if (local.type === 'absent') {
      return synced === null ? { kind: 'download', rule: 'U2' } : { kind: 'download', rule: 'U3' };
    }
    if (local.type === 'dir') {
      // O2 for a kind change: our own file, its answer lost, then turned into a folder here.
      if (ownLanded(input, synced)) return OWN_LANDED;
      // Another device turned the folder into a file: it follows once this pull's deletes emptied it.
      if (base?.kind === 'dir' && synced !== null && pending === null) return { kind: 'replace-with-file', rule: 'U7' };
      return { kind: 'dir-copy-then-download', rule: 'U9' };
    }
    if (local.size === remote.size && sameBlocks(local.blocks, remote.blocks)) return { kind: 'record-only', rule: 'U4' };
    if (ownLanded(input, synced)) return OWN_LANDED;
    if (unchangedSinceSync(local, base, pending, input.pendingReplaced)) return { kind: 'download', rule: 'U5' };
    return { kind: 'conflict-copy-then-download', rule: 'U6' };
  }

  if (local.type === 'absent') return { kind: 'record-only', rule: 'D2' };
  // The server deleted a file; the folder with its name here is the user's, never on the server: kept, uploaded as new.
  if (local.type === 'dir') {
    // D8: a folder the server had, nothing queued at it: another device turned it into a file and
    // deleted that. It goes once this pull's deletes emptied it (one still holding something stays, DD5).
    if (base?.kind === 'dir' && synced !== null && pending === null) return { kind: 'delete-local', rule: 'D8' };
    return { kind: 'reupload-local', rule: 'D6' };
  }
  if (synced === null) return { kind: 'reupload-local', rule: 'D3' };
  if (unchangedSinceSync(local, base, pending, input.pendingReplaced)) return { kind: 'delete-local', rule: 'D4' };
  return { kind: 'reupload-local', rule: 'D5' };
}

// ── moves (docs/conflict-rules.md, "Moves and renames") ─────────────────────

/** A file upsert carrying `movedFrom`, seen together with what is at its source and its target. */
export interface MoveInput {
  /** The moved entry (the target's feed item). */
  remote: RemoteState;
  /** The source path: its index row, what is on disk, its live queue item. */
  source: { base: BaseState | undefined; local: LocalState; pending: DecideInput['pending']; pendingInFlight: boolean; pendingReplaced?: boolean };
  /** The target path: what is on disk and whether a local change of it is queued. */
  target: { local: LocalState; pending: DecideInput['pending'] };
}

export type MoveAction = { kind: 'move-local'; rule: 'M1' | 'M2' } | { kind: 'no-move'; rule: 'M3'; reason: string };

/**
 * M1-M3: a remote move is a local rename when the source still holds (or, edited, was last
 * synced at) exactly the content that moved and the target is free; anything else is decided
 * path by path by the usual rows.
 */
export function decideMove({ remote, source, target }: MoveInput): MoveAction {
  const noMove = (reason: string): MoveAction => ({ kind: 'no-move', rule: 'M3', reason });
  if (remote.deleted || remote.kind === 'dir') return noMove('not a file move');
  const { base, local } = source;
  if (local.type !== 'file') return noMove('the source is not a local file');
  if (!base || base.kind !== 'file' || base.syncedRevision === null) return noMove('the source was never synced');
  if (base.size !== remote.size || !sameBlocks(base.blocks, remote.blocks)) return noMove('the moved file holds other content than the source was synced at');
  if (target.local.type !== 'absent' || target.pending !== null) return noMove('the target is taken locally');
  if (unchangedSinceSync(local, base, source.pending, source.pendingReplaced)) return { kind: 'move-local', rule: 'M1' };
  if (source.pendingInFlight || source.pending === 'delete') return noMove('a change of the source is being sent');
  return { kind: 'move-local', rule: 'M2' };
}

/**
 * A directory upsert carrying `movedFrom`, with what this device holds at its source and its
 * target, summed up by the mover (the queue and the index asked once per subtree, the disk
 * walked once with lstat).
 */
export interface DirMoveInput {
  /** The moved directory's own entry (the target's feed item). */
  remote: RemoteState;
  source: {
    base: BaseState | undefined;
    local: LocalState;
    /** A live queue item at or below the source. */
    queued: boolean;
    /** What the disk below the source holds against the index: 'unwalked' until it is walked. */
    disk: 'unwalked' | 'same' | 'differs';
  };
  /** The target: on disk, in the index (at or below it), in the queue (at or below it). */
  target: { local: LocalState; indexed: boolean; queued: boolean };
  /** The feed moves exactly what the index holds below the source, and names nothing else there or below the target. */
  feedMatches: boolean;
  /**
   * The move is here already: every entry at or below the target is in the index at its
   * revision, and nothing is on disk, indexed or queued at the source (this device's own move,
   * recorded from its answer; or one an earlier pull applied before its token was stored).
   */
  alreadyHere: boolean;
}

export type DirMoveAction =
  | { kind: 'already-here'; rule: 'MD0' }
  | { kind: 'move-dir-local'; rule: 'MD1' }
  /** Everything else holds: walk the disk below the source, then decide again. */
  | { kind: 'walk' }
  | { kind: 'no-dir-move'; rule: 'MD2' | 'MD3' | 'MD4' | 'MD5' | 'MD6'; reason: string };

/**
 * MD0-MD6: a move already here settles at once; a remote directory move is one local rename when the source directory and all it
 * holds are as last synced, the target is free and the feed moves exactly that; anything else
 * falls back to the file-by-file pairing (M1-M3). The disk walk, the costly check, comes last.
 */
export function decideDirMove({ remote, source, target, feedMatches, alreadyHere }: DirMoveInput): DirMoveAction {
  const noMove = (rule: Extract<DirMoveAction, { kind: 'no-dir-move' }>['rule'], reason: string): DirMoveAction => ({ kind: 'no-dir-move', rule, reason });
  if (remote.deleted || remote.kind !== 'dir' || remote.revision === null) return noMove('MD2', 'not a directory move');
  if (alreadyHere) return { kind: 'already-here', rule: 'MD0' };
  const { base, local } = source;
  if (local.type !== 'dir' || base?.kind !== 'dir' || base.syncedRevision === null) return noMove('MD2', 'the source is not a synced local directory');
  if (source.queued) return noMove('MD3', 'a change at or below the source is queued');
  if (target.local.type !== 'absent' || target.indexed || target.queued) return noMove('MD4', 'the target is taken locally');
  if (!feedMatches) return noMove('MD5', 'the feed does not move exactly what this device holds');
  if (source.disk === 'unwalked') return { kind: 'walk' };
  if (source.disk === 'differs') return noMove('MD6', 'the disk below the source differs from what was synced');
  return { kind: 'move-dir-local', rule: 'MD1' };
}
