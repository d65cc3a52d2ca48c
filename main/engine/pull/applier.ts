import { randomUUID } from 'node:crypto';
import fs, { closeSync, fstatSync, lstatSync, promises as fsp, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BATCHABLE_BLOCK_BYTES } from '../../../protocol/blocks';
import { BLOCK_SIZE } from '../../../protocol/constants';
import { FerryError } from '../../../protocol/errors';
import { intentMatch, type IndexEntry } from '../../store/file-index';
import type { Logger } from '../../logging';
import { birthOf, contentHashOf, hashStable, justEmptied, type StableHash } from '../hashing';
import { conflictPath, parseConflictName } from '../conflict-name';
import { moveNoClobber } from '../no-clobber';
import { DirSyncer, type TxnGroup } from './group-commit';
import { decide, placesRemoteFile, needsHash, sameBlocks, statMatches, type Action as Decision, type BaseState, type LocalState, type RemoteState } from './decide';
import type { BlockFetcher } from './downloader';
import { CASE_PROBE_PREFIX, ensureParents, joinInside, resolveInside, unsafePath } from './safe-path';
import { carriedByOwnMove, dropQueued, dropQueuedDelete, isOwnInFlight, movedAwayBase, movedBackUnseen, pendingOf, replacedByPull, type PendingRef, type PullStore } from './store-port';
import type { SetAside } from './mover';
import type { LateWrites } from './late-writes';

/** A validated remote entry: a feed item, or a delete synthesised by a full-sync reconcile. */
export interface RemoteEntry extends RemoteState {
  path: string;
  mtime: number;
  modificationDate: string;
  device: string;
  /**
   * The puller's, not the feed's: the folder the server holds with something in it, below a
   * path that is a file here. Never this device's own commit, whoever's `device` it carries
   * (docs/conflict-rules.md, "Whoever committed what is below").
   */
  serverFolder?: boolean;
  /**
   * A restore made this revision (the feed names the revision it brought back): never this
   * device's own commit, though `device` names the device that asked for it (docs/conflict-rules.md,
   * the paragraph on restores after O2).
   */
  restoredFrom?: string;
}

export interface ApplyContext {
  folderId: string;
  /** The folder root, resolved once (the root itself may be a symlink the user chose). */
  root: string;
  tmpDir: string;
  store: PullStore;
  fetcher: BlockFetcher;
  caseInsensitive: boolean;
  log: Logger;
  /** This device's name: conflict copies are named after the device whose version they keep. */
  deviceName: string;
  /** This device's id, as the server records it on the changes this device commits. */
  deviceId: string;
  /** The name of another device whose change this is, for Activity (null: this device's, or not known). */
  whoChanged?: (device: string | undefined) => string | null;
  /** This pull's moves: where each moved-away path went (a delete here that is a rename there is said so). */
  movedTo?: ReadonlyMap<string, string>;
  /** Index writes of downloaded files commit together (optional: one transaction each without). */
  commits?: TxnGroup;
  /** Files deleted by this pull are kept here until its downloads are done (M3). */
  aside?: SetAside;
  /** Files a download replaced are looked at again a while later (without it: once, when it is recorded). */
  lateWrites?: LateWrites;
  /**
   * The paths holding an earlier run's download intent, read as the run starts (it writes its
   * own only when it applies); without it every planned path is looked up.
   */
  leftOverIntents?: ReadonlySet<string>;
  /** The clock a just-emptied local file's write time is weighed against (default: Date.now). */
  now?: () => number;
}

export interface Observation {
  abs: string;
  /** lstat of the path when it exists (directories are recorded with it). */
  stat: Stats | null;
  local: LocalState;
  hash: StableHash | null;
  base: IndexEntry | undefined;
  pending: PendingRef | null;
  /** The remote change is this device's own commit and the path's upload is in flight (O1). */
  ownInFlight: boolean;
  /** The remote change is this device's own commit, in flight or not (O2). */
  own: boolean;
  /** The revision a queued move takes away from this path, for a path with nothing there (U1). */
  movedAwayBase: string | null;
  /** Our own folder move, its answer not in, carried this entry (O4). */
  carriedByOwnMove: boolean;
  /** The live item is an upload of bytes the pull has replaced at the path since (store-port.ts, replacedByPull). */
  pendingReplaced: boolean;
}

export interface Plan {
  entry: RemoteEntry;
  seen: Observation;
  action: Action;
  /** A cancelled mass delete: every delete-local becomes a re-upload of the local file. */
  keepLocal?: boolean;
  /** A file delete of a pull that also downloads (M3): its blocks may serve a download. */
  setAside?: boolean;
}

export type Outcome =
  | { kind: 'downloaded' | 'deleted' | 'recorded' | 'reuploaded' | 'moved'; path: string; rule: string; from?: string }
  | { kind: 'conflict'; path: string; rule: string; copyPath: string; device: string }
  | { kind: 'skipped'; path: string; rule: string; reason: string };

/** A decision the pull acts on now: one that waits (O3) fails the item instead (decideFor). */
export type Action = Exclude<Decision, { kind: 'wait' }>;

const TMP_PREFIX = 'pull-';

/**
 * The pull settles `rel` (its index row, a change queued for it): a commit of the path still
 * in flight will answer with older news, which must not overwrite this (queue.markPulled).
 */
export const settled = (ctx: ApplyContext, rel: string): void => ctx.store.queue.markPulled(ctx.folderId, rel);

export const toBase = (e: IndexEntry | undefined): BaseState | undefined =>
  e && { kind: e.kind, syncedRevision: e.syncedRevision, size: e.size, mtimeMs: e.mtimeMs, inode: e.inode, blocks: e.blocks };

export function localOf(stat: Stats | null, dirEmpty: boolean): LocalState {
  if (stat === null) return { type: 'absent' };
  if (stat.isSymbolicLink()) return { type: 'other', what: 'symlink' };
  if (stat.isDirectory()) return { type: 'dir', empty: dirEmpty };
  if (!stat.isFile()) return { type: 'other', what: 'special file' };
  return { type: 'file', size: stat.size, mtimeMs: stat.mtimeMs, inode: stat.ino, blocks: null };
}

/**
 * P10: below a directory move not yet sent, the index row's revision is the old path's. Another
 * device's entry at the new path meets a file never synced here (a conflict copy, never a silent
 * overwrite or delete of what the user moved there); the move's own entry keeps that base (P9).
 */
function movedHere(base: IndexEntry | undefined, entry: RemoteEntry): IndexEntry | undefined {
  if (base?.moveFrom === undefined || entry.movedFrom === base.moveFrom) return base;
  return base.syncedRevision === base.moveBase ? { ...base, syncedRevision: null } : base;
}

/** A folder the index holds: one missing or a file on disk is what the user did, not scanned yet. */
const heldAsFolder = (ctx: ApplyContext) => (dir: string): boolean => ctx.store.index.get(ctx.folderId, dir)?.kind === 'dir';

/** lstat, queue and index for one path, hashing only when the decision needs it. */
export async function observe(ctx: ApplyContext, entry: RemoteEntry): Promise<Observation> {
  const { abs, stat } = await resolveInside(ctx.root, entry.path, { caseInsensitive: ctx.caseInsensitive, heldAsFolder: heldAsFolder(ctx) });
  const dirEmpty = stat?.isDirectory() ? (await fsp.readdir(abs)).length === 0 : false;
  let local = localOf(stat, dirEmpty);
  const base = movedHere(ctx.store.index.get(ctx.folderId, entry.path), entry);
  const pending = pendingOf(ctx.store, ctx.folderId, entry.path);
  const pendingReplaced = replacedByPull(pending, base);
  if (local.type !== 'absent' && base === undefined && pending === null && movedBackUnseen(ctx.store, ctx.folderId, entry.path)) {
    // Looked at again a second later: the scan records the move back in about that.
    throw new FerryError('moved_back', `${entry.path} was renamed back here before the scan recorded it: the pull runs again once the scan has recorded that`, { retryable: true, retryAfterSeconds: 1 });
  }
  const baseState = toBase(base);
  let hash: StableHash | null = null;
  if (local.type === 'file' && baseState && pending === null && statMatches(local, baseState) && baseState.blocks) {
    local = { ...local, blocks: baseState.blocks };
  } else if ((pendingReplaced && local.type === 'file') || needsHash({ remote: entry, base: baseState, local, pending: pending?.op ?? null })) {
    // An upload the pull replaced is decided on the bytes alone: the stat does not tell the pull's
    // version from a same-size edit written within the file system's mtime step (found by review).
    hash = await hashStable(abs);
    // A file still being written reads as changed with unknown blocks: never "unchanged".
    if (hash && local.type === 'file') local = { ...local, size: hash.size, mtimeMs: hash.mtimeMs, inode: hash.inode, blocks: hash.blocks };
    // Empty under a second ago, most likely caught between its creation and its first write: not
    // the same content as an empty remote file until it stays so (docs/conflict-rules.md, "caught
    // being written"; chaos seed 19797).
    if (hash && !entry.deleted && entry.kind !== 'dir' && entry.size === 0 && justEmptied(hash, (ctx.now ?? Date.now)())) {
      throw new FerryError('being_written', `${entry.path} was emptied here under a second ago, perhaps on its way to new bytes: the pull decides it once it has stayed so`, { retryable: true, retryAfterSeconds: 1 });
    }
  }
  const movedAway = local.type === 'absent' && !entry.deleted ? movedAwayBase(ctx.store, ctx.folderId, entry.path) : null;
  const own = entry.device === ctx.deviceId && entry.serverFolder !== true && entry.restoredFrom === undefined;
  return {
    abs,
    stat,
    local,
    hash,
    base,
    pending,
    ownInFlight: own && isOwnInFlight(entry, ctx.deviceId, pending, base),
    own,
    movedAwayBase: movedAway,
    carriedByOwnMove: own && carriedByOwnMove(ctx.store, ctx.folderId, entry),
    pendingReplaced,
  };
}

export async function plan(ctx: ApplyContext, entry: RemoteEntry): Promise<Plan> {
  if (!ctx.leftOverIntents || ctx.leftOverIntents.has(entry.path)) await adoptLeftOverDownload(ctx, entry.path);
  const seen = await observe(ctx, entry);
  return { entry, seen, action: decideFor(entry, seen) };
}

/**
 * A download an earlier run renamed into place but never committed (a kill in between) is
 * recorded as that download before the pull decides the path, as the scanner does when it
 * looks first (docs/conflict-rules.md, "Download intents"). Taken for a new file, it met the
 * feed's next revision of the path as a needless conflict copy (chaos seed 3043). While a run
 * plans, every intent is an earlier run's: this run writes its own only when it applies.
 */
async function adoptLeftOverDownload(ctx: ApplyContext, rel: string): Promise<void> {
  const intent = ctx.store.index.getIntent(ctx.folderId, rel);
  if (!intent) return;
  const { abs, stat } = await resolveInside(ctx.root, rel, { caseInsensitive: ctx.caseInsensitive });
  const hash = stat?.isFile() ? await hashStable(abs).catch(() => null) : null;
  const adopted = ctx.store.transaction(() => {
    ctx.store.index.removeIntent(ctx.folderId, rel);
    // The user's own file there, or a change queued since (a delete), stands.
    if (!hash || pendingOf(ctx.store, ctx.folderId, rel) !== null) return null;
    const match = intentMatch(intent, hash);
    if (match === 'as placed') {
      ctx.store.index.put({ folderId: ctx.folderId, path: rel, kind: 'file', size: hash.size, mtimeMs: hash.mtimeMs, inode: hash.inode, contentHash: hash.contentHash, blocks: hash.blocks, syncedRevision: intent.revision });
    } else if (match === 'changed since') {
      // Synced at its revision with the bytes it had (no stat of them), so the change reads as an edit of that revision.
      ctx.store.index.put({ folderId: ctx.folderId, path: rel, kind: 'file', size: intent.size, mtimeMs: 0, inode: null, contentHash: intent.contentHash, blocks: intent.blocks, syncedRevision: intent.revision });
    }
    return match;
  });
  if (adopted) ctx.log.info('a download the agent was killed placing, recorded', { path: rel, revision: intent.revision, file: adopted });
}

/** The decision for the path; one that waits (O3) fails the item, and the pull runs again a second later. */
function decideFor(entry: RemoteEntry, o: Observation): Action {
  const action = decide({
    remote: entry,
    base: toBase(o.base),
    local: o.local,
    pending: o.pending?.op ?? null,
    pendingBase: o.pending?.baseRevision ?? null,
    ownInFlight: o.ownInFlight,
    own: o.own,
    pendingMoveFrom: o.pending?.moveFrom ?? null,
    movedAwayBase: o.movedAwayBase,
    sentHere: sentHere(o),
    carriedByOwnMove: o.carriedByOwnMove,
    pendingReplaced: o.pendingReplaced,
  });
  if (action.kind === 'wait') throw uploadInFlight(entry.path, action.reason);
  return action;
}

/** The path waits for a push's answer: the item fails, and the pull runs again a second later. */
export const uploadInFlight = (path: string, why: string, details?: Record<string, unknown>): FerryError =>
  new FerryError('upload_in_flight', `${path}: ${why}; the pull runs again once it is recorded`, { retryable: true, retryAfterSeconds: 1, ...(details ? { details } : {}) });

/**
 * O3: the push in flight sends a file in a batch sent and not answered, and
 * the file here is still those bytes (hashed, or as the scanner recorded them).
 */
function sentHere({ pending, local, base }: Observation): boolean {
  const sending = pending?.sending;
  if (sending?.sent !== true || sending.op !== 'upsert' || sending.kind !== 'file' || local.type !== 'file') return false;
  if (local.blocks !== null) return sameBlocks(local.blocks, sending.blocks);
  const indexed = toBase(base);
  return indexed !== undefined && statMatches(local, indexed) && sameBlocks(indexed.blocks, sending.blocks);
}

/** Same type and, for files, same size, mtime and inode: nothing happened in between. */
function sameLocal(a: LocalState, b: LocalState): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'file' && b.type === 'file') return a.size === b.size && a.mtimeMs === b.mtimeMs && a.inode === b.inode;
  if (a.type === 'dir' && b.type === 'dir') return a.empty === b.empty;
  return true;
}

/** Takes the decision again right before acting when the local side moved meanwhile. */
async function recheck(ctx: ApplyContext, p: Plan): Promise<{ seen: Observation; action: Action }> {
  const fresh = await observe(ctx, p.entry);
  if (sameLocal(fresh.local, p.seen.local) && fresh.pending?.generation === p.seen.pending?.generation) {
    // Keep the blocks learnt at planning time (the stat says the content is the same).
    return { seen: { ...fresh, local: p.seen.local, hash: fresh.hash ?? p.seen.hash }, action: p.action };
  }
  ctx.log.info('local file changed during the pull; deciding again', { path: p.entry.path });
  return { seen: fresh, action: withPolicy(decideFor(p.entry, fresh), p.keepLocal) };
}

/** Applies the cancel-mass-delete policy to a decision. */
export function withPolicy(action: Action, keepLocal: boolean | undefined): Action {
  return keepLocal && action.kind === 'delete-local' ? { kind: 'reupload-local', rule: `${action.rule}+keep` } : action;
}

/**
 * Directory fsyncs after renames are shared: files renamed into one directory at about the
 * same time wait for one fsync that started after their rename, not one each.
 */
export const dirSyncer = new DirSyncer();

/** `<root>/.ferry/tmp`, created as real directories; leftovers of a killed run are removed. */
export async function prepareTmpDir(root: string): Promise<string> {
  let dir = root;
  for (const name of ['.ferry', 'tmp']) {
    dir = path.join(dir, name);
    await fsp.mkdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    const stat = await fsp.lstat(dir);
    if (stat.isSymbolicLink() || !stat.isDirectory()) {
      throw new FerryError('unsafe_path', `Refusing to use ${dir}: it is not a real directory`);
    }
  }
  // Downloads and case probes of a run that was killed (chaos seed 178 found a probe left).
  for (const name of await fsp.readdir(dir)) {
    if (name.startsWith(TMP_PREFIX) || name.startsWith(CASE_PROBE_PREFIX)) await fsp.rm(path.join(dir, name), { force: true });
  }
  return dir;
}

interface Written {
  size: number;
  mtimeMs: number;
  inode: number;
  /** The file keeps it through the rename: a rename of it written at once is still found (local moves). */
  birthtimeMs: number;
  contentHash: string;
}

/** Index writes after a download: grouped with other files' when the context allows it. */
function commitIndex(ctx: ApplyContext, fn: () => void): Promise<void> {
  if (ctx.commits) return ctx.commits.run(fn);
  ctx.store.transaction(fn);
  return Promise.resolve();
}

/**
 * A small file (at most one block, verified by the fetcher): the same steps as writeTemp —
 * temp file, every byte written, mtime, fsync — with synchronous calls for the page-cache
 * work (microseconds each) and only the fsync off the event loop.
 */
async function writeSmallTemp(ctx: ApplyContext, tmp: string, entry: RemoteEntry): Promise<Written> {
  const hash = entry.blocks[0];
  const data = hash === undefined ? new Uint8Array(0) : await ctx.fetcher.fetch(hash, entry.size);
  if (data.length !== entry.size) {
    throw new FerryError('malformed_reply', `The blocks of ${entry.path} hold ${data.length} bytes, the feed says ${entry.size}`, { retryable: true });
  }
  // Creating a file and changing its times take journal handles, which wait while the disk
  // commits other fsyncs: those stay off the event loop. Writing to the page cache does not.
  const fd = await openFd(tmp, 'wx');
  try {
    let at = 0;
    while (at < data.length) at += writeSync(fd, data, at, data.length - at);
    const mtime = new Date(entry.mtime);
    await futimesFd(fd, mtime, mtime);
    await fsyncFd(fd);
    const stat = fstatSync(fd);
    return { size: stat.size, mtimeMs: stat.mtimeMs, inode: stat.ino, birthtimeMs: stat.birthtimeMs, contentHash: contentHashOf(entry.blocks) };
  } finally {
    closeSync(fd);
  }
}

const openFd = promisify(fs.open);
const futimesFd = promisify(fs.futimes);
const fsyncFd = promisify(fs.fsync);

/** Writes the verified blocks to a temp file, fsyncs it and sets its mtime. */
async function writeTemp(ctx: ApplyContext, tmp: string, entry: RemoteEntry): Promise<Written> {
  if (entry.blocks.length <= 1 && entry.size <= BATCHABLE_BLOCK_BYTES) return writeSmallTemp(ctx, tmp, entry);
  const handle = await fsp.open(tmp, 'wx');
  try {
    // Blocks are fetched ahead (the fetcher bounds concurrency) and written in order.
    const window = 4;
    const pending: Array<Promise<Uint8Array>> = [];
    const start = (i: number) => {
      const hash = entry.blocks[i];
      if (hash !== undefined && pending[i] === undefined) {
        // The length lets a small block join a batch fetch with other files' blocks.
        const p = ctx.fetcher.fetch(hash, Math.min(BLOCK_SIZE, entry.size - i * BLOCK_SIZE));
        p.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
        pending[i] = p;
      }
    };
    let written = 0;
    for (let i = 0; i < entry.blocks.length; i++) {
      for (let j = i; j < i + window; j++) start(j);
      const data = await pending[i]!;
      // A write may take only part of the block (a disk filling up does that before it
      // refuses with ENOSPC): the rest is written on, never counted as written.
      for (let at = 0; at < data.length; ) {
        const { bytesWritten } = await handle.write(data, at, data.length - at, written + at);
        at += bytesWritten;
      }
      written += data.length;
      if (written > entry.size) break;
    }
    if (written !== entry.size) {
      throw new FerryError('malformed_reply', `The blocks of ${entry.path} hold ${written} bytes, the feed says ${entry.size}`, { retryable: true });
    }
    // mtime through the open handle, before the fsync that then covers it too.
    const mtime = new Date(entry.mtime);
    await handle.utimes(mtime, mtime);
    await handle.sync();
    const stat = await handle.stat();
    if (stat.size !== entry.size) throw new FerryError('short_write', `The temp file of ${entry.path} holds ${stat.size} bytes, not ${entry.size}`, { retryable: true });
    return { size: stat.size, mtimeMs: stat.mtimeMs, inode: stat.ino, birthtimeMs: stat.birthtimeMs, contentHash: contentHashOf(entry.blocks) };
  } finally {
    await handle.close();
  }
}

/**
 * Moves the local file aside under a free conflict name named after this device (the one
 * whose version the copy keeps), so two devices never make copies of one name; returns its
 * relative path. Never replaces anything: a name that is taken is skipped.
 */
async function moveAside(ctx: ApplyContext, entry: RemoteEntry, abs: string): Promise<string> {
  const when = new Date(entry.modificationDate);
  for (let attempt = 1; attempt < 1000; attempt++) {
    const rel = conflictPath(entry.path, ctx.deviceName, when, attempt);
    if (await moveNoClobber(abs, joinInside(ctx.root, rel))) return rel;
  }
  throw new FerryError('conflict_name_exhausted', `No free conflict name next to ${entry.path}`);
}

const parentRel = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');

/** A local version this apply moved to a conflict copy, recorded with the download. */
interface Aside {
  copyPath: string;
  seen: Observation;
}

/** Tries to place a download this often when something keeps appearing at its path. */
const PLACE_ROUNDS = 3;

async function download(ctx: ApplyContext, p: Plan): Promise<Outcome> {
  const { entry } = p;
  const tmp = path.join(ctx.tmpDir, `${TMP_PREFIX}${randomUUID()}.part`);
  let renamed = false;
  let intent = false;
  let replaced: string | null = null;
  const asides: Aside[] = [];
  /** U7, U9: where the user's folder at the path went. */
  let dirCopy: string | null = null;
  try {
    const written = await writeTemp(ctx, tmp, entry);
    await placeParents(ctx, entry.path);
    // Before any rename: a kill between the rename and the index commit leaves a file the index
    // does not know; this tells the scanner it is this download, not a new file (chaos seed 86).
    // Committed with other files' intents in one transaction, and before the rename all the same.
    if (entry.revision !== null) {
      const revision = entry.revision;
      await commitIndex(ctx, () => ctx.store.index.putIntent({ folderId: ctx.folderId, path: entry.path, revision, size: written.size, contentHash: written.contentHash, blocks: [...entry.blocks], inode: written.inode }));
      intent = true;
    }
    let current = p;
    let seen: Observation;
    let action: Action;
    for (let round = 1; ; round++) {
      ({ seen, action } = await recheck(ctx, current));
      if (action.kind === 'record-only' || action.kind === 'skip') return finishWithout(ctx, entry, seen, action, asides);
      if (action.kind === 'dir-copy-then-download' || (action.kind === 'replace-with-file' && !(await removedEmptyDir(seen.abs)))) {
        dirCopy = await moveDirAside(ctx, entry, seen);
      }
      if (!placesRemoteFile(action)) {
        recordAsides(ctx, entry, asides);
        return { kind: 'skipped', path: entry.path, rule: action.rule, reason: `unexpected ${action.kind} for an upsert` };
      }
      if (action.kind === 'conflict-copy-then-download') asides.push({ copyPath: await moveAside(ctx, entry, seen.abs), seen });
      if (action.kind === 'download' && seen.local.type === 'file') {
        // U5: the synced version is overwritten in place, and stays reachable until recorded.
        replaced = await linkReplaced(ctx, seen.abs);
        await fsp.rename(tmp, seen.abs);
        break;
      }
      // Nothing is at the path now (absent, or moved aside): a file that appears meanwhile
      // (the user's, or another apply's) is decided on again, never replaced.
      if (await moveNoClobber(tmp, seen.abs)) break;
      if (round >= PLACE_ROUNDS) {
        recordAsides(ctx, entry, asides);
        throw new FerryError('path_busy', `Something keeps appearing at ${entry.path}; it is pulled again later`, { retryable: true });
      }
      current = { ...current, seen, action };
    }
    renamed = true;
    // The index says "synced" only once the rename is durable (a lost rename must never read
    // as a local delete); the fsync is shared with renames into the same directory.
    await dirSyncer.flush(path.dirname(seen.abs));
    await commitIndex(ctx, () => {
      settled(ctx, entry.path);
      ctx.store.index.removeIntent(ctx.folderId, entry.path);
      ctx.store.index.put({
        folderId: ctx.folderId,
        path: entry.path,
        kind: 'file',
        size: written.size,
        mtimeMs: written.mtimeMs,
        inode: written.inode,
        birthtimeMs: birthOf(written),
        contentHash: written.contentHash,
        blocks: [...entry.blocks],
        syncedRevision: entry.revision,
      });
      // A conflict moved the local bytes to the copy: their pending upload here (parked after the
      // server said conflict, whatever generation the plan saw) goes with them (chaos seed 4).
      const last = asides.at(-1);
      const moved = last && last.seen.local.type === 'file' ? last.seen.local.blocks : null;
      dropQueued(ctx.store, ctx.folderId, entry.path, seen.pending, entry.blocks, moved);
      for (const a of asides) recordConflictCopy(ctx, entry, a.seen, a.copyPath);
      listCopyMadeElsewhere(ctx, entry.path);
    });
    if (replaced) {
      const link = replaced;
      replaced = null;
      const kept = await keepIfWrittenSince(ctx, entry, seen, link, !ctx.lateWrites);
      if (kept) asides.push(kept);
      else ctx.lateWrites?.watch(ctx.folderId, () => keepIfWrittenSince(ctx, entry, seen, link, true));
    }
    const last = asides.at(-1);
    if (last) return { kind: 'conflict', path: entry.path, rule: asides.length > 1 ? 'U6' : action.rule, copyPath: last.copyPath, device: entry.device };
    if (dirCopy) return { kind: 'conflict', path: entry.path, rule: action.rule, copyPath: dirCopy, device: entry.device };
    return { kind: 'downloaded', path: entry.path, rule: action.rule };
  } finally {
    if (!renamed) {
      if (intent) ctx.store.index.removeIntent(ctx.folderId, entry.path);
      await fsp.rm(tmp, { force: true });
    }
    if (replaced) await fsp.rm(replaced, { force: true });
  }
}

/**
 * U5 replaces the synced version by rename. A program that opened it before the last check and
 * writes now writes into the replaced file: linked in the temp folder, it stays reachable (a
 * kill leaves it to the temp cleanup). Null without hard links, or when the path is gone.
 */
async function linkReplaced(ctx: ApplyContext, abs: string): Promise<string | null> {
  const link = path.join(ctx.tmpDir, `${TMP_PREFIX}replaced-${randomUUID()}`);
  try {
    await fsp.link(abs, link);
    return link;
  } catch {
    return null;
  }
}

/**
 * The replaced file, once the download is recorded and again a while later (LateWrites): written
 * since the check (its size or mtime moved), its bytes become a conflict copy that the scanner
 * uploads (docs/conflict-rules.md, the re-check before the final rename: chaos seeds 11263 and
 * 263); otherwise it goes on the last look (`last`), and stays linked until then.
 */
async function keepIfWrittenSince(ctx: ApplyContext, entry: RemoteEntry, seen: Observation, replaced: string, last: boolean): Promise<Aside | null> {
  const st = await fsp.lstat(replaced).catch(() => null);
  if (!st || seen.local.type !== 'file' || sameLocal(seen.local, localOf(st, false))) {
    if (last) await fsp.rm(replaced, { force: true });
    return null;
  }
  const copyPath = await moveAside(ctx, entry, replaced);
  ctx.log.warn('a file replaced by a download was written to meanwhile: its bytes are kept as a conflict copy', { path: entry.path, copy: copyPath });
  const written: Observation = { ...seen, local: { type: 'file', size: st.size, mtimeMs: st.mtimeMs, inode: st.ino, blocks: null }, hash: null };
  ctx.store.transaction(() => recordConflictCopy(ctx, entry, written, copyPath));
  return { copyPath, seen: written };
}

/**
 * Another device's conflict copy, downloaded: listed here too, from its name, until the user
 * settles it on any device (docs/conflict-rules.md, "Conflict copies"). Once per copy.
 */
function listCopyMadeElsewhere(ctx: ApplyContext, path: string): void {
  const copy = parseConflictName(path);
  if (!copy || ctx.store.conflicts.openAt(ctx.folderId, path)) return;
  // Named after this device: a copy made here once, back through a restore or a folder taken up
  // afresh. It keeps this device's version (the other side unknown now: device ''), not another's.
  const mine = copy.device === ctx.deviceName;
  ctx.store.conflicts.record({ folderId: ctx.folderId, path: copy.original, copyPath: path, device: '', madeBy: mine ? null : copy.device });
}

/** The local bytes now live at copyPath: index them as a new file and queue their upload. */
function recordConflictCopy(ctx: ApplyContext, entry: RemoteEntry, seen: Observation, copyPath: string): void {
  // Never synced here (a first sync, a folder taken up afresh): the server's version, a restore or
  // not, was there before this device looked, so no change of it raced this one (found by a
  // new-user try: a restore made minutes before was named as the cause).
  const neverSynced = seen.base === undefined;
  ctx.store.conflicts.record({ folderId: ctx.folderId, path: entry.path, copyPath, device: entry.device, restoredFrom: neverSynced ? null : (entry.restoredFrom ?? null) });
  const message = neverSynced ? `A file of this name was here and on the server with other bytes; the local version was kept as ${copyPath}` : `Both sides changed; the local version was kept as ${copyPath}`;
  ctx.store.activity.add({ folderId: ctx.folderId, kind: 'conflict', path: entry.path, message });
  const local = seen.local;
  const hash = seen.hash;
  if (local.type !== 'file' || !local.blocks) return; // still being written: the scanner picks it up
  const state = {
    folderId: ctx.folderId,
    path: copyPath,
    kind: 'file' as const,
    size: local.size,
    mtimeMs: local.mtimeMs,
    inode: local.inode,
    contentHash: hash?.contentHash ?? seen.base?.contentHash ?? null,
    blocks: [...local.blocks],
  };
  // The name was free on disk, yet the index may still hold a row for it (a file there was
  // just deleted or moved, not yet scanned): the upload builds on that row's revision, as a
  // re-created file does. With no base the server would answer conflict, and the pull would
  // find nothing to do (its revision is "already synced"), for ever (chaos seed 3).
  const base = ctx.store.index.get(ctx.folderId, copyPath)?.syncedRevision ?? null;
  settled(ctx, copyPath);
  ctx.store.paths.localChanged(state, base);
}

/**
 * O1: the pull saw this device's own commit land. That commit is the newer news again, after
 * anything the pull settled for the path before (chaos seed 41). And when it is the queue's
 * latest change of the path, the item is done now: waiting for the pusher's answer (a 504 and
 * its retry in async mode, a flaky link), the next change another device built on it read as
 * a conflict with a local edit, and made a copy of bytes already on the server (chaos seed 37).
 * The pusher's answer then finds the item done.
 */
function ownCommitLanded(ctx: ApplyContext, entry: RemoteEntry, pending: PendingRef | null): void {
  // S19: a folder's move is completed by the pusher's answer, which names what moved with it.
  const folderMove = !!pending?.moveFrom && pending.sending?.kind === 'dir';
  ctx.store.transaction(() => {
    ctx.store.queue.clearPulled(ctx.folderId, entry.path);
    if (pending?.sending && entry.revision !== null && !folderMove) {
      ctx.store.paths.complete({ id: pending.id, generation: pending.generation, op: pending.op }, { revision: entry.revision });
    }
  });
  // A newer change behind the push: the generation in flight may not be the one that made this
  // commit (its answer lost before a restart); the newer change goes up on it, as in O2 (chaos seed 11027).
  if (pending?.inFlight && pending.sending === null) {
    if (entry.deleted) reuploadAfterOwnDelete(ctx, entry.path);
    else rebaseOnOwnCommit(ctx, entry);
  }
}

/**
 * O1, our delete landed with the path made again behind it: the server holds no version of the
 * path, so the waiting upload goes up as new, not on the base it took from the delete (S22),
 * which conflicted at every recheck once the delete's answer was lost (docs/conflict-rules.md, O1).
 */
function reuploadAfterOwnDelete(ctx: ApplyContext, rel: string): void {
  ctx.store.transaction(() => {
    const item = ctx.store.queue.getByPath(ctx.folderId, rel);
    if (!item || item.state === 'done' || item.op !== 'upsert' || item.baseRevision === null) return;
    // The index names a version: not a path made again after the delete (the pull recorded one since).
    if ((ctx.store.index.get(ctx.folderId, rel)?.syncedRevision ?? null) !== null) return;
    settled(ctx, rel);
    const { folderId, path, kind, op, size, mtimeMs, contentHash, blocks } = item;
    ctx.store.paths.enqueue({ folderId, path, kind, op, size, mtimeMs, contentHash, blocks, baseRevision: null, asNew: true });
  });
}

/**
 * O2: this device's own commit landed though its answer was lost, and the user changed the
 * file since. Its revision becomes the synced one and the queued upload is queued again on it
 * (a fresh generation, due now: a push of it on the old base met a conflict, or will): the
 * user's next version goes up on their last one, no conflict copy (chaos seed 1029; a new file,
 * no base on either side: chaos seed 4035). A queued delete is queued again on it the same way:
 * the user deleted (or moved away) that version (chaos seed 11715).
 */
export function rebaseOnOwnCommit(ctx: ApplyContext, entry: RemoteEntry): void {
  const revision = entry.revision;
  if (revision === null) return;
  ctx.store.transaction(() => {
    const item = ctx.store.queue.getByPath(ctx.folderId, entry.path);
    const synced = ctx.store.index.get(ctx.folderId, entry.path)?.syncedRevision ?? null;
    // On what this device synced, or the index names none: the base this device's push went on (O2).
    if (!item || item.state === 'done' || (item.baseRevision !== synced && synced !== null)) return;
    if (item.moveFrom !== null) {
      // A file move landing with its answer lost: settled as that answer would (P2, P5), so a
      // later rename moves the new name. Anything else a move's row leaves to its own answer.
      if (item.kind === 'file' && entry.movedFrom === item.moveFrom) {
        ctx.store.paths.complete({ id: item.id, generation: item.inFlightGeneration ?? item.generation, op: 'upsert' }, { revision });
      }
      return;
    }
    settled(ctx, entry.path);
    if (item.op === 'delete') {
      ctx.store.paths.enqueue({ folderId: ctx.folderId, path: entry.path, kind: item.kind, op: 'delete', baseRevision: revision });
      return;
    }
    ctx.store.index.setSyncedRevision(ctx.folderId, entry.path, revision);
    const { folderId, path, kind, op, size, mtimeMs, contentHash, blocks } = item;
    ctx.store.paths.enqueue({ folderId, path, kind, op, size, mtimeMs, contentHash, blocks, baseRevision: revision });
  });
}

/** Copies made before the apply ended some other way are recorded all the same. */
function recordAsides(ctx: ApplyContext, entry: RemoteEntry, asides: readonly Aside[]): void {
  if (asides.length === 0) return;
  ctx.store.transaction(() => {
    for (const a of asides) recordConflictCopy(ctx, entry, a.seen, a.copyPath);
  });
}

/** record-only and skip, after a re-check: nothing is written to the folder. */
function finishWithout(ctx: ApplyContext, entry: RemoteEntry, seen: Observation, action: Action, asides: readonly Aside[] = []): Outcome {
  recordAsides(ctx, entry, asides);
  if (action.rule === 'O1') ownCommitLanded(ctx, entry, seen.pending);
  if (action.rule === 'O2') rebaseOnOwnCommit(ctx, entry);
  if (action.kind === 'skip') return { kind: 'skipped', path: entry.path, rule: action.rule, reason: action.reason };
  ctx.store.transaction(() => {
    settled(ctx, entry.path);
    const local = seen.local;
    if (entry.kind === 'dir' && !entry.deleted && local.type === 'dir') {
      putDir(ctx, entry.path, seen.stat, entry.revision);
    } else if (entry.deleted || local.type !== 'file') {
      ctx.store.index.remove(ctx.folderId, entry.path);
    } else {
      ctx.store.index.put({
        folderId: ctx.folderId,
        path: entry.path,
        kind: 'file',
        size: local.size,
        mtimeMs: local.mtimeMs,
        inode: local.inode,
        contentHash: seen.hash?.contentHash ?? seen.base?.contentHash ?? null,
        blocks: [...entry.blocks],
        syncedRevision: entry.revision,
      });
    }
    dropQueued(ctx.store, ctx.folderId, entry.path, seen.pending, entry.deleted ? null : entry.blocks);
  });
  return { kind: 'recorded', path: entry.path, rule: action.rule };
}

/** Keeps the local file and queues it as a new upload (base revision null). */
async function reupload(ctx: ApplyContext, entry: RemoteEntry, seen: Observation, rule: string): Promise<Outcome> {
  if (seen.local.type === 'dir') return reuploadDir(ctx, entry, seen, rule);
  const hash = seen.hash ?? (await hashStable(seen.abs));
  ctx.store.transaction(() => {
    settled(ctx, entry.path);
    const local = seen.local;
    if (local.type === 'file' && hash) {
      const state = {
        folderId: ctx.folderId,
        path: entry.path,
        kind: 'file' as const,
        size: hash.size,
        mtimeMs: hash.mtimeMs,
        inode: hash.inode,
        contentHash: hash.contentHash,
        blocks: hash.blocks,
      };
      ctx.store.index.put({ ...state, syncedRevision: null });
      dropQueuedDelete(ctx.store, ctx.folderId, entry.path);
      ctx.store.paths.enqueue({ ...state, op: 'upsert', baseRevision: null, asNew: true });
    } else {
      // Changing under us: forget the synced revision and let the scanner queue it.
      ctx.store.index.setSyncedRevision(ctx.folderId, entry.path, null);
    }
  });
  // `+keep`: the user cancelled a held delete of another device's, not a change made here.
  const message = rule.endsWith('+keep') ? `Deleted ${onDevice(ctx, entry)}; kept as you asked (Cancel) and uploaded again` : `Deleted ${onDevice(ctx, entry, 'remotely')} but changed here: kept and uploaded again`;
  ctx.store.activity.add({ folderId: ctx.folderId, kind: 'pull_kept_local', path: entry.path, message });
  return { kind: 'reuploaded', path: entry.path, rule };
}

/** Removes parents the delete left empty, up to the root; stops at the first non-empty. */
export async function pruneEmptyParents(ctx: ApplyContext, rel: string): Promise<void> {
  for (let dir = parentRel(rel); dir !== ''; dir = parentRel(dir)) {
    // A folder the server holds as a directory stays until its own tombstone (DD4); one on its
    // way there (queued or in flight) stays for its answer (docs/conflict-rules.md, "Pruning").
    const row = ctx.store.index.get(ctx.folderId, dir);
    if (row?.kind === 'dir' && row.syncedRevision !== null) return;
    if (pendingOf(ctx.store, ctx.folderId, dir)?.op === 'upsert') return;
    try {
      await fsp.rmdir(joinInside(ctx.root, dir));
    } catch {
      return; // not empty, not a directory (a symlink is refused by rmdir), or gone
    }
    ctx.store.index.remove(ctx.folderId, dir);
  }
}

async function deleteLocal(ctx: ApplyContext, p: Plan): Promise<Outcome> {
  const { entry } = p;
  const { seen, action } = await recheck(ctx, p);
  if (action.kind === 'reupload-local') return reupload(ctx, entry, seen, action.rule);
  if (action.kind !== 'delete-local') return finishWithout(ctx, entry, seen, action);
  if (seen.local.type === 'dir') {
    try {
      await fsp.rmdir(seen.abs);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Something landed inside since the re-check: keep it all (DD5), never remove more.
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return reupload(ctx, entry, { ...seen, local: { type: 'dir', empty: false } }, 'DD5');
      throw error;
    }
  } else if (!(await removeIfChecked(ctx, p, seen))) {
    // Another file took the path since the check, or the file was written: it is back, and kept (D5).
    const fresh = await observe(ctx, entry);
    const again = withPolicy(decideFor(entry, fresh), p.keepLocal);
    return again.kind === 'reupload-local' ? reupload(ctx, entry, fresh, again.rule) : finishWithout(ctx, entry, fresh, again);
  }
  await dirSyncer.flush(path.dirname(seen.abs));
  ctx.store.transaction(() => {
    settled(ctx, entry.path);
    ctx.store.index.remove(ctx.folderId, entry.path);
    dropQueued(ctx.store, ctx.folderId, entry.path, seen.pending, null);
  });
  await pruneEmptyParents(ctx, entry.path);
  return { kind: 'deleted', path: entry.path, rule: action.rule };
}

/**
 * D4 takes the file away only if it is still the one checked: renamed into the temp folder
 * first and compared there, never unlinked at its path (docs/conflict-rules.md, "Atomic writes":
 * a file renamed onto the path between the check and the unlink went with it, chaos seed 12009).
 * True: gone, or set aside for this pull's downloads. False: the user's file is back at the
 * path, or a conflict copy when the path was taken again meanwhile.
 */
async function removeIfChecked(ctx: ApplyContext, p: Plan, seen: Observation): Promise<boolean> {
  const moving = path.join(ctx.tmpDir, `${TMP_PREFIX}deleting-${randomUUID()}`);
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.rename(seen.abs, moving);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (!(await fsp.lstat(seen.abs).then(() => true, () => false))) return true; // gone since the check: nothing to delete
      if (attempt > 0) throw error;
      await fsp.mkdir(ctx.tmpDir, { recursive: true }); // the temp folder itself went (removed by hand)
    }
  }
  const st = await fsp.lstat(moving);
  const now = localOf(st, false);
  if (seen.local.type === 'file' && sameLocal(seen.local, now)) {
    const kept = p.setAside && ctx.aside ? await ctx.aside.take(moving, st.size, seen.local.blocks) : false;
    if (!kept) await fsp.unlink(moving);
    return true;
  }
  if (await moveNoClobber(moving, seen.abs)) return false;
  const copyPath = await moveAside(ctx, p.entry, moving);
  ctx.log.warn('a file put at a path the pull was deleting is kept as a conflict copy', { path: p.entry.path, copy: copyPath });
  const kept: Observation = { ...seen, local: now, hash: null };
  ctx.store.transaction(() => recordConflictCopy(ctx, p.entry, kept, copyPath));
  return false;
}

/**
 * U7: the folder another device turned into a file, emptied by this pull's deletes, goes. False:
 * something is still in it (what the server never had): it is moved aside (U9).
 */
async function removedEmptyDir(abs: string): Promise<boolean> {
  try {
    await fsp.rmdir(abs);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    if (code === 'ENOENT') return true;
    throw error;
  }
}

/**
 * U7, U9: the user's folder at a path another device made a file: moved, with everything in it,
 * to a conflict copy named after this device. The index and queue forget the old name (what was
 * queued there or below is dropped), so the scan finds the copy as a new folder and uploads it
 * with what it holds. A change at or below it still in flight: the pull waits for its answer.
 */
async function moveDirAside(ctx: ApplyContext, entry: RemoteEntry, seen: Observation): Promise<string> {
  const { store, folderId } = ctx;
  const under = store.index.listUnder(folderId, entry.path).map((e) => e.path);
  const inFlight = [entry.path, ...under].some((p) => store.queue.getByPath(folderId, p)?.inFlightGeneration != null);
  if (inFlight) throw uploadInFlight(entry.path, 'a change in the folder is being sent');
  const copyPath = await moveAside(ctx, entry, seen.abs);
  store.transaction(() => {
    for (const p of [entry.path, ...under]) {
      store.paths.cancel(folderId, p);
      store.index.remove(folderId, p);
    }
    store.conflicts.record({ folderId, path: entry.path, copyPath, device: entry.device, restoredFrom: entry.restoredFrom ?? null });
    store.activity.add({ folderId, kind: 'conflict', path: entry.path, message: `A file came where this folder was; the folder was kept as ${copyPath}` });
  });
  ctx.log.warn('a folder where another device put a file is kept as a conflict copy', { path: entry.path, copy: copyPath });
  return copyPath;
}

/**
 * DU4/DU6: another device turned the file into a folder. The file here goes, checked as D4
 * checks it, or, changed here, to a conflict copy; then the folder is made and recorded (DU2).
 */
async function replaceWithDir(ctx: ApplyContext, p: Plan): Promise<Outcome> {
  const { entry } = p;
  const { seen, action } = await recheck(ctx, p);
  if (action.kind !== 'replace-with-dir' && action.kind !== 'conflict-copy-then-dir') return apply(ctx, { ...p, seen, action });
  // The file's upload is being answered: what it meets decides whether there is a copy to make.
  if (seen.pending?.inFlight) throw uploadInFlight(entry.path, 'our upload of the file is in flight');
  let copyPath: string | null = null;
  if (action.kind === 'replace-with-dir') {
    // Written since the check, or another file took the path: it is back, and decided again (DU6).
    if (!(await removeIfChecked(ctx, { ...p, seen, action }, seen))) {
      const fresh = await observe(ctx, entry);
      return apply(ctx, { ...p, seen: fresh, action: decideFor(entry, fresh) });
    }
  } else {
    copyPath = await moveAside(ctx, entry, seen.abs);
  }
  ctx.store.transaction(() => {
    ctx.store.index.remove(ctx.folderId, entry.path);
    if (copyPath) recordConflictCopy(ctx, entry, seen, copyPath);
    dropQueued(ctx.store, ctx.folderId, entry.path, seen.pending, null, seen.local.type === 'file' ? seen.local.blocks : null);
  });
  const made = await createDir(ctx, { ...p, seen: await observe(ctx, entry), action: { kind: 'create-dir', rule: action.rule } });
  return copyPath && made.kind === 'downloaded' ? { kind: 'conflict', path: entry.path, rule: action.rule, copyPath, device: entry.device } : made;
}

/** The index row of a directory: kind 'dir', no content, the revision the server has (or null). */
function putDir(ctx: ApplyContext, rel: string, stat: Stats | null, revision: string | null): void {
  settled(ctx, rel);
  ctx.store.index.put({
    folderId: ctx.folderId,
    path: rel,
    kind: 'dir',
    size: 0,
    mtimeMs: stat?.mtimeMs ?? 0,
    inode: stat?.ino ?? null,
    contentHash: null,
    blocks: null,
    syncedRevision: revision,
  });
}

/**
 * Makes the missing parents of a path the pull places, each recorded at once. A folder the index
 * holds that is gone from disk was moved or deleted here and not scanned yet: it is not made
 * again (docs/conflict-rules.md, "Atomic writes": chaos seed 13529).
 */
export const placeParents = (ctx: ApplyContext, rel: string): Promise<void> =>
  ensureParents(ctx.root, rel, (dir, st) => recordParentDir(ctx, dir, st), heldAsFolder(ctx));

/**
 * A parent of a downloaded file (or of a remote directory), made by this pull or an earlier
 * one that was killed before recording it: recorded at once, so the scanner sees it as
 * known and never queues it back. Its own feed item, if any, records the revision (DU3). A
 * queued local delete of it is dropped: the remote put something inside, so the folder is
 * restored with the revision that delete was based on (as U3 restores a file).
 */
export function recordParentDir(ctx: ApplyContext, rel: string, stat: Stats): void {
  if (ctx.store.index.get(ctx.folderId, rel)?.kind === 'dir') return;
  ctx.store.transaction(() => {
    if (ctx.store.index.get(ctx.folderId, rel)?.kind === 'dir') return;
    let revision: string | null = null;
    const queued = ctx.store.queue.getByPath(ctx.folderId, rel);
    if (queued && queued.state !== 'done' && queued.kind === 'dir' && queued.op === 'delete' && queued.inFlightGeneration === null) {
      revision = queued.baseRevision;
      ctx.store.paths.cancel(ctx.folderId, rel);
    }
    putDir(ctx, rel, stat, revision);
  });
}

/** DU2: mkdir the remote directory (parents first, none through a symlink) and record it. */
async function createDir(ctx: ApplyContext, p: Plan): Promise<Outcome> {
  const { entry } = p;
  await placeParents(ctx, entry.path);
  const { seen, action } = await recheck(ctx, p);
  if (action.kind !== 'create-dir') return apply(ctx, { ...p, seen, action });
  try {
    await fsp.mkdir(seen.abs);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stat = lstatSync(seen.abs);
  if (stat.isSymbolicLink() || !stat.isDirectory()) throw unsafePath(entry.path, 'something else appeared at this path');
  ctx.store.transaction(() => {
    putDir(ctx, entry.path, stat, entry.revision);
    dropQueued(ctx.store, ctx.folderId, entry.path, seen.pending, null);
  });
  return { kind: 'downloaded', path: entry.path, rule: action.rule };
}

/** Where a delete came from, for Activity: "on alpha" when the feed names the device (a new-user try read no name). */
function onDevice(ctx: ApplyContext, entry: RemoteEntry, unnamed = 'on another device'): string {
  const by = ctx.whoChanged?.(entry.device) ?? null;
  return by !== null ? `on ${by}` : unnamed;
}

/** DD3/DD5: the local folder stays with all it holds and goes back to the server as a new directory. */
function reuploadDir(ctx: ApplyContext, entry: RemoteEntry, seen: Observation, rule: string): Outcome {
  ctx.store.transaction(() => {
    putDir(ctx, entry.path, seen.stat, null);
    dropQueuedDelete(ctx.store, ctx.folderId, entry.path);
    ctx.store.paths.enqueue({ folderId: ctx.folderId, path: entry.path, kind: 'dir', op: 'upsert', mtimeMs: seen.stat?.mtimeMs ?? 0, baseRevision: null, asNew: true });
  });
  ctx.store.activity.add({
    folderId: ctx.folderId,
    kind: 'pull_kept_local',
    path: entry.path,
    message:
      rule.endsWith('+keep') ? `Folder deleted ${onDevice(ctx, entry)}; kept as you asked (Cancel) and uploaded again`
      : rule === 'DD3' ? `Folder deleted ${onDevice(ctx, entry, 'remotely')} but created here: kept and uploaded again`
      : rule === 'D6' ? `File deleted ${onDevice(ctx, entry, 'remotely')}; the folder with its name here is kept and uploaded`
      : ctx.movedTo?.has(entry.path)
        ? // A rename there, not a delete (a new-user try read "deleted" for a folder laptop-a renamed).
          `Folder renamed to ${ctx.movedTo.get(entry.path)} ${onDevice(ctx, entry, 'remotely')}, but it still holds files the other side does not have: kept here under its old name with them, and uploaded again`
        : `Folder deleted ${onDevice(ctx, entry, 'remotely')} but it still holds files the other side does not have: kept and uploaded again`,
  });
  return { kind: 'reuploaded', path: entry.path, rule };
}

/** Carries out one planned action, re-checking the local side right before it acts. */
export async function apply(ctx: ApplyContext, p: Plan): Promise<Outcome> {
  switch (p.action.kind) {
    case 'download':
    case 'conflict-copy-then-download':
      return download(ctx, p);
    case 'replace-with-file':
    case 'dir-copy-then-download':
      return download(ctx, p);
    case 'create-dir':
      return createDir(ctx, p);
    case 'replace-with-dir':
    case 'conflict-copy-then-dir':
      return replaceWithDir(ctx, p);
    case 'delete-local':
      return deleteLocal(ctx, p);
    case 'reupload-local': {
      const { seen, action } = await recheck(ctx, p);
      if (action.kind === 'reupload-local') return reupload(ctx, p.entry, seen, action.rule);
      if (action.kind === 'delete-local') return deleteLocal(ctx, { ...p, seen, action });
      return finishWithout(ctx, p.entry, seen, action);
    }
    case 'record-only':
    case 'skip': {
      if (p.action.kind === 'skip') return finishWithout(ctx, p.entry, p.seen, p.action);
      const { seen, action } = await recheck(ctx, p);
      if (action.kind === 'record-only' || action.kind === 'skip') return finishWithout(ctx, p.entry, seen, action);
      return apply(ctx, { ...p, seen, action });
    }
  }
}
