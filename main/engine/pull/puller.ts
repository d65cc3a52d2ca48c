import { setMaxListeners } from 'node:events';
import { promises as fsp } from 'node:fs';
import { BATCHABLE_BLOCK_BYTES } from '../../../protocol/blocks';
import { MAX_CHANGES_LIMIT } from '../../../protocol/constants';
import { FerryError, asFerryError } from '../../../protocol/errors';
import { EQUAL_JITTER, backoffDelay } from '../../../shared/backoff';
import { createLogger, type Logger } from '../../logging';
import { diskFullError, DISK_FULL, isDiskFull } from '../disk-full';
import { checkRoot } from '../folder-marker';
import { ancestorsOf, existsOnDisk, parentOf } from '../paths';
import { apply, plan, prepareTmpDir, rebaseOnOwnCommit, uploadInFlight, withPolicy, type ApplyContext, type Outcome, type Plan, type RemoteEntry } from './applier';
import { deletingIt, placesRemoteFile } from './decide';
import { readChanges } from './changes-reader';
import { BlockFetcher, blockRefs } from './downloader';
import type { LocalBlockRef } from '../hashing';
import { TxnGroup } from './group-commit';
import { logPullActivity, otherDevice } from './activity-log';
import { PullerEmitter, type PullSummary } from './events';
import { PullHealth, onlyWaitedOnThisDevice, waitsOnThisDevice, WAITS_FOR_RENAME, type PullHealthView } from './health';
import { checkMassDelete, DEFAULT_MASS_DELETE, HOLD_SAMPLE_SIZE, type MassDeleteVerdict } from '../folder/mass-delete';
import { folderStates, type FolderStates } from '../folder/state';
import { applyMove, pairMoves, SetAside, unmarkedMoves, type MovePair } from './mover';
import { applyDirMove, groupDirMoves } from './dir-mover';
import type { PullRemote } from './remote-port';
import { checkRemotePath, findCaseClashes, isCaseInsensitiveDir, joinInside } from './safe-path';
import { pendingOf, type PullStore } from './store-port';
import { LateWrites } from './late-writes';

export interface PullerOptions {
  massDeletePercent: number;
  massDeleteCount: number;
  massDeleteMinCount: number;
  /** Block downloads (and files applied) at once. */
  downloadConcurrency: number;
  /** Small files (one batchable block) applied at once; their blocks travel in batch fetches. */
  smallFileConcurrency: number;
  /** Seconds one long poll (changes/wait) may hang. */
  pollTimeoutSec: number;
  /** A pull runs at least this often even when the long poll says nothing. */
  fallbackIntervalMs: number;
  /** A pull held for a mass delete weighs the server's deletes again at most this often. */
  heldRecheckMs: number;
  /** Items per changes page (the server's default when unset). */
  pageLimit?: number;
  /** Retry backoff after a failed pull or poll: base and cap. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Overrides the per-folder probe (tests, and disks known to be case-insensitive). */
  caseInsensitive?: boolean;
  /** How long a file a download replaced stays linked for a late write (late-writes.ts). */
  lateWriteGraceMs?: number;
  platform: NodeJS.Platform;
}

export const DEFAULT_PULLER_OPTIONS: PullerOptions = {
  ...DEFAULT_MASS_DELETE,
  downloadConcurrency: 16,
  smallFileConcurrency: 128,
  // The largest page the contract allows: the pull reads every page before it applies anything,
  // so small pages only add round trips (a renamed folder of 10,000 files: 21 pages, now 3).
  pageLimit: MAX_CHANGES_LIMIT,
  pollTimeoutSec: 30,
  fallbackIntervalMs: 5 * 60_000,
  heldRecheckMs: 5000,
  retryBaseMs: 1000,
  retryMaxMs: 60_000,
  platform: process.platform,
};

export interface PullerDeps {
  /** The repositories; store.folders is the folder lookup (id → local root, remote id, state). */
  store: PullStore;
  remote: PullRemote;
  device: { id: string; name: string };
  /** Another device's name from its id, for Activity's lines (by default a short form of the id). */
  deviceLabel?: (id: string) => string;
  /** Looks up the names of devices deviceLabel does not know yet, briefly (never throws). */
  knowDevices?: (ids: readonly string[]) => Promise<void>;
  clock?: () => number;
  /** Jitter for the retry backoff (tests inject a fixed one). */
  random?: () => number;
  log?: Logger;
  options?: Partial<PullerOptions>;
  /** The folder state's owner (main/engine/folder/); by default one over the store. */
  states?: FolderStates;
  /** Runs a folder's pull in its turn with the folder's scans (the folder's coordinator). */
  exclusive?: (folderId: string, pull: () => Promise<PullSummary>) => Promise<PullSummary>;
  /**
   * The folder's paths this puller is placing now (its coordinator's set, which the scanner
   * reads: a pulled file between its rename and its index commit is not a local change).
   */
  applying?: (folderId: string) => Set<string>;
  /**
   * The name that cannot be synced a folder at or above `relPath` was renamed to here, with the
   * synced name it was renamed from (the scanner keeps that name's rows: docs/conflict-rules.md,
   * "Renamed to a name that cannot be synced"); undefined for none.
   */
  renamedUnsyncable?: (folderId: string, relPath: string) => { path: string; from: string } | undefined;
  /** Whether an ignore rule here takes the path out of sync: its entries are left as they are. */
  ignores?: (folderId: string, relPath: string, isDir: boolean) => boolean;
}

/** Waits of a second for this device's scan tried this often before the backoff grows: the wait is no race any more. */
export const QUICK_RETRIES = 5;
/**
 * How far such a wait's backoff grows: an upload of this device's can be in flight for minutes,
 * and the pull that waits on it should not come a minute after it ends.
 */
export const WAIT_BACKOFF_CAP_MS = 10_000;

/**
 * The delay before a failed pull runs again. A server's Retry-After, or a wait of a second for
 * this device's own scan or upload, is kept the first QUICK_RETRIES times; after that the
 * backoff grows from it (to WAIT_BACKOFF_CAP_MS, or beyond only as far as the server asked), so
 * a wait that outlives a scan does not pull every second for ever.
 */
export function pullRetryDelay(failures: number, error: unknown, options: Pick<PullerOptions, 'retryBaseMs' | 'retryMaxMs'>, random: () => number): number {
  const e = asFerryError(error);
  const policy = { baseMs: options.retryBaseMs, capMs: options.retryMaxMs, jitter: EQUAL_JITTER };
  if (e.retryAfterSeconds === undefined) return backoffDelay(failures, policy, random);
  const asked = e.retryAfterSeconds * 1000;
  return failures <= QUICK_RETRIES ? asked : Math.max(asked, Math.min(WAIT_BACKOFF_CAP_MS, backoffDelay(failures - QUICK_RETRIES, policy, random)));
}

type DeletePolicy = 'guard' | 'confirm' | 'keep';

export interface Puller {
  /** One pull of a folder now; concurrent requests share the next run ("Sync now", after a push conflict). */
  pullNow(folderId: string): Promise<PullSummary>;
  /**
   * The folder syncs again (its root back, a held bulk delete of this disk answered): its loop,
   * waiting while the folder was not ok, pulls and long-polls again now, not at its fallback pull.
   */
  syncsAgain(folderId: string): void;
  /** Long poll per folder while online, with a periodic pull as a fallback. */
  start(folderIds?: string[]): void;
  stop(): Promise<void>;
  setOnline(online: boolean): void;
  /** Applies changed settings (the mass-delete thresholds) to the next pulls, without a restart. */
  setOptions(next: Partial<Pick<PullerOptions, 'massDeletePercent' | 'massDeleteCount'>>): void;
  /** A paused folder: apply the pending deletes. */
  confirmMassDelete(folderId: string): Promise<PullSummary>;
  /** A paused folder: keep the local files and upload them again. */
  /**
   * `first`: work done in the folder's pull turn before the keep pull, none of the held pull's
   * looks between (a Cancel's restore on the server); when it throws, nothing is pulled and the
   * hold stands.
   */
  cancelMassDelete(folderId: string, first?: () => Promise<void>): Promise<PullSummary>;
  /** The guard's verdict for a folder this puller paused (stored: it outlives a restart). */
  pendingMassDelete(folderId: string): MassDeleteVerdict | undefined;
  /** Why the pulls do not bring a folder's or a path's changes (for `why`). */
  readonly health: PullHealthView;
  /** How many folders' pulls are applying changes now (the 'applying' event says when it moves). */
  applyingNow(): number;
  /** How many changes the folder's pull is applying now (0 when none is). */
  incoming(folderId: string): number;
  readonly events: PullerEmitter;
}

/** The pull's skips that are this device's own changes coming back (docs/conflict-rules.md). */
const ECHO_RULES: ReadonlySet<string> = new Set(['U1', 'D1', 'DU1', 'DD1', 'O1', 'O2']);

/** A held pull's looks at the server's deletes are at least this many times their own length apart. */
const HELD_LOOKS_APART = 10;

const emptySummary = (folderId: string): PullSummary => ({
  folderId,
  full: false,
  expired: false,
  pages: 0,
  downloaded: 0,
  deleted: 0,
  recorded: 0,
  reuploaded: 0,
  moved: 0,
  conflicts: 0,
  skipped: 0,
  paused: false,
  tokenStored: false,
  durationMs: 0,
});

/** Runs fn over items with at most `limit` at once; every item runs even when some fail. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}

/** The plans of each folder together, folders in order of first appearance, feed order within one. */
export function byFolder<T extends { entry: { path: string } }>(plans: readonly T[]): T[] {
  const groups = new Map<string, T[]>();
  for (const p of plans) {
    const dir = parentOf(p.entry.path);
    const group = groups.get(dir);
    if (group) group.push(p);
    else groups.set(dir, [p]);
  }
  return [...groups.values()].flat();
}

const isDeleteSide = (p: Plan) => p.entry.deleted;
/** The nearest folder above `rel` that is a file here (the user turned the folder into one), if any. */
async function fileAbove(root: string, rel: string): Promise<string | undefined> {
  for (const dir of ancestorsOf(rel)) {
    const st = await fsp.lstat(joinInside(root, dir)).catch(() => null);
    if (st) return st.isFile() ? dir : undefined;
  }
  return undefined;
}
/** A directory item, or a delete of a file where a folder is here (D6, D8: looked at with the folders). */
const isDir = (p: Plan) => p.entry.kind === 'dir' || (p.entry.deleted && p.seen.local.type === 'dir');
const isDownload = (p: Plan) => placesRemoteFile(p.action);

/** Plans grouped by path depth, deepest group first: each group runs after the deeper ones. */
function deepestFirst(plans: readonly Plan[]): Plan[][] {
  const groups = new Map<number, Plan[]>();
  for (const p of plans) {
    const depth = p.entry.path.split('/').length;
    const group = groups.get(depth);
    if (group) group.push(p);
    else groups.set(depth, [p]);
  }
  const depths = [...groups.keys()].sort((a, b) => b - a);
  return depths.map((d) => groups.get(d)!);
}

export function createPullerImpl(deps: PullerDeps): Puller {
  const options: PullerOptions = { ...DEFAULT_PULLER_OPTIONS, ...deps.options };
  const { store, remote } = deps;
  const clock = deps.clock ?? Date.now;
  const log = deps.log ?? createLogger('pull');
  const events = new PullerEmitter();
  // Downloads, deletes here and failures show in Activity (conflicts are logged by the applier).
  const naming = { self: deps.device, ...(deps.deviceLabel ? { deviceLabel: deps.deviceLabel } : {}) };
  logPullActivity(events, store.activity, naming);
  const whoChanged = otherDevice(naming);
  const caseCache = new Map<string, boolean>();
  // Without a coordinator's sets (a puller on its own, in tests): one of its own per folder.
  const ownApplying = new Map<string, Set<string>>();
  const applyingIn =
    deps.applying ??
    ((folderId: string) => {
      let set = ownApplying.get(folderId);
      if (!set) ownApplying.set(folderId, (set = new Set()));
      return set;
    });
  const states = deps.states ?? folderStates(store);
  const health = new PullHealth();
  /**
   * The changes each folder's pull is applying now (downloads, deletes, moves): the agent is busy
   * with them. A folder's runs go one at a time (its chain), so its size is the runs applying.
   */
  const incoming = new Map<string, number>();
  const whileApplying = async (folderId: string, changes: number, apply: () => Promise<void>): Promise<void> => {
    if (changes === 0) return apply();
    incoming.set(folderId, changes);
    events.emit('applying', { folderId, changes });
    try {
      await apply();
    } finally {
      incoming.delete(folderId);
      events.emit('applying', { folderId, changes: 0 });
    }
  };
  const lateWrites = new LateWrites(log, options.lateWriteGraceMs);
  // Per folder: the run in progress (tail) and the one waiting behind it (queued).
  const chains = new Map<string, { tail?: Promise<unknown>; queued?: Promise<PullSummary> }>();
  let running = false;
  let online = true;
  let abort = new AbortController();
  // Every block request of a run listens on it.
  setMaxListeners(0, abort.signal);
  const wakers = new Set<() => void>();
  /** Each folder's loop while it waits for the folder to sync again, or out a failure's backoff (syncsAgain ends the wait). */
  const notOk = new Map<string, () => void>();
  const loops: Array<Promise<void>> = [];
  // Per folder held on the pull side: where the read that tripped the guard ended (the loop
  // long-polls from there, so the server's next change has the held deletes weighed again),
  // and how long that look took (a large backlog is looked at less often).
  const heldAt = new Map<string, { token: string; lookMs: number }>();
  // Per folder: the files guarded pulls deleted here lately, weighed with the next pull's deletes
  // (docs/conflict-rules.md, "The server's deletes are weighed over a window too").
  const pullWindow = new Map<string, Array<{ path: string; at: number }>>();

  /** Of `paths`, those not here again (the index does not hold them) and not among `exclude`. */
  function stillGone(folderId: string, paths: readonly string[], exclude: ReadonlySet<string>): string[] {
    const asked = [...new Set(paths)].filter((p) => !exclude.has(p));
    const here = new Set(store.index.present(folderId, asked));
    return asked.filter((p) => !here.has(p));
  }

  /** The window's files deleted here by the guarded pulls of the last PULL_DELETE_WINDOW_MS, still gone. */
  function deletedBefore(folderId: string, exclude: ReadonlySet<string>): string[] {
    const now = clock();
    const kept = (pullWindow.get(folderId) ?? []).filter((d) => now - d.at <= PULL_DELETE_WINDOW_MS);
    if (kept.length > 0) pullWindow.set(folderId, kept);
    else pullWindow.delete(folderId);
    return stillGone(folderId, kept.map((d) => d.path), exclude);
  }

  function report(folderId: string, path: string, reason: string, code = 'pull_refused'): void {
    // Said once: a pull held for a mass delete reads the same entries again at every look.
    const before = health.note(folderId, path);
    if (before?.kind !== 'refused' || before.message !== reason) store.activity.add({ folderId, kind: 'pull_skipped', path, message: reason });
    health.refused(folderId, path, code, reason, clock());
    events.emit('skipped', { folderId, path, reason });
  }

  /** The root must exist and, once the local side marked it, hold its marker (an empty mount point does not). */
  async function resolveRoot(localRoot: string, markerId: string | null): Promise<string> {
    const check = checkRoot(localRoot, markerId);
    if (!check.ok && (markerId !== null || check.code === 'folder_root_missing')) {
      throw new FerryError(check.code, check.message, { retryable: true });
    }
    return fsp.realpath(localRoot);
  }

  /** Validated entries, newest per NFC path; invalid or clashing ones are reported. */
  function validate(folderId: string, items: RemoteEntry[], caseInsensitive: boolean): RemoteEntry[] {
    const byPath = new Map<string, RemoteEntry>();
    for (const item of items) {
      const check = checkRemotePath(item.path, options.platform);
      if (!check.ok) {
        report(folderId, item.path, `Invalid remote path: ${check.reason}`);
        continue;
      }
      const current = byPath.get(check.path);
      if (!current || Date.parse(item.modificationDate) >= Date.parse(current.modificationDate)) byPath.set(check.path, withMovedFrom({ ...item, path: check.path }));
    }
    let entries = [...byPath.values()];
    if (caseInsensitive) {
      // Live entries claim their spelling first; a delete never clashes with anything.
      const clashes = findCaseClashes(entries.filter((e) => !e.deleted).map((e) => e.path));
      for (const path of clashes) report(folderId, path, 'Another remote path differs from this one only in case; this disk cannot hold both');
      entries = entries.filter((e) => !clashes.has(e.path));
    }
    return entries;
  }

  /** `movedFrom` is a remote path like any other: one that fails the checks is dropped (the move is then a delete and an upsert). */
  function withMovedFrom(entry: RemoteEntry): RemoteEntry {
    if (entry.movedFrom === undefined) return entry;
    const from = checkRemotePath(entry.movedFrom, options.platform);
    const { movedFrom: _dropped, ...rest } = entry;
    return from.ok && from.path !== entry.path ? { ...rest, movedFrom: from.path } : rest;
  }

  /**
   * Full sync: a synced path that the full listing no longer has was deleted remotely. An entry
   * a folder move not yet sent carried (P10: its revision is its old path's) is not synced here.
   */
  function reconcileDeletes(folderId: string, root: string, entries: RemoteEntry[]): RemoteEntry[] {
    const listed = new Set(entries.map((e) => e.path));
    const now = new Date(clock()).toISOString();
    const deletes: RemoteEntry[] = [];
    for (const row of store.index.listUnder(folderId, '')) {
      if (listed.has(row.path)) continue;
      if (row.syncedRevision === null) {
        // Sent, no answer yet: landed and deleted since, or not landed? The answer tells; the
        // pull lists again after it (docs/conflict-rules.md, "Tokens, pages and failures"). Only
        // once its batch went (a big file's blocks still going up cannot have landed), and only
        // for a path here to delete (one gone from disk since is the scanner's).
        const sent = store.queue.getByPath(folderId, row.path);
        if (sent?.inFlightGeneration != null && store.tasks.holds(sent.id, sent.inFlightGeneration) && existsOnDisk(joinInside(root, row.path))) {
          throw uploadInFlight(row.path, 'its create or move was sent, and the full listing lacks it', { ownWait: true });
        }
        // An upload built on a revision the listing lacks (not in flight): the server deleted or
        // moved away its base; decided as a remote delete of a path never synced here, D3 (chaos seed 51284).
        // (A move's base is its source's: the move's own rules answer for it, P8.)
        const onGoneBase = sent !== undefined && sent.state !== 'done' && sent.inFlightGeneration === null && sent.op === 'upsert' && sent.moveFrom === null && sent.baseRevision !== null;
        if (!onGoneBase) continue;
      }
      if (row.moveFrom !== undefined && row.syncedRevision === row.moveBase) continue;
      deletes.push({ path: row.path, kind: row.kind, revision: null, deleted: true, size: 0, mtime: 0, blocks: [], modificationDate: now, device: '' });
    }
    // A download an earlier run placed but never recorded, whose path the server no longer
    // lists: adopted as that download when planned, then deleted like any file (chaos seed 8409).
    for (const path of store.index.intentPaths(folderId)) {
      if (listed.has(path) || store.index.get(folderId, path) !== undefined) continue;
      deletes.push({ path, kind: 'file', revision: null, deleted: true, size: 0, mtime: 0, blocks: [], modificationDate: now, device: '' });
    }
    return deletes;
  }

  /** hash → where the index says a local file holds it; built on first need. */
  function localBlocks(folderId: string, root: string): (hash: string) => LocalBlockRef | undefined {
    let map: Map<string, LocalBlockRef> | undefined;
    return (hash) => {
      if (!map) {
        map = new Map();
        for (const row of store.index.listUnder(folderId, '')) {
          if (row.kind !== 'file' || !row.blocks) continue;
          for (const [h, ref] of blockRefs(joinInside(root, row.path), row.size, row.blocks)) if (!map.has(h)) map.set(h, ref);
        }
      }
      return map.get(hash);
    };
  }

  function countOutcome(summary: PullSummary, folderId: string, outcome: Outcome, about: { restoredFrom?: string | undefined; device: string; movedTo?: string | undefined }): void {
    switch (outcome.kind) {
      case 'conflict':
        summary.conflicts++;
        events.emit('conflict', { folderId, path: outcome.path, copyPath: outcome.copyPath, device: outcome.device });
        return;
      case 'skipped':
        // U1/D1 and, for a folder, DU1/DD1 (already at this revision), O1 (still being pushed) and
        // O2 (answer lost) are the normal echo of our own pushes: not news, and never a refusal
        // (a folder made here read as "left as it is" until something else touched its path).
        if (ECHO_RULES.has(outcome.rule)) return;
        summary.skipped++;
        report(folderId, outcome.path, outcome.reason);
        return;
      default:
        summary[outcome.kind]++;
        health.applied(folderId, outcome.path);
        events.emit('applied', {
          folderId,
          path: outcome.path,
          action: outcome.kind,
          rule: outcome.rule,
          device: about.device,
          ...(about.restoredFrom !== undefined ? { restoredFrom: about.restoredFrom } : {}),
          ...(outcome.from !== undefined ? { from: outcome.from } : {}),
          ...(outcome.kind === 'deleted' && about.movedTo !== undefined ? { to: about.movedTo } : {}),
        });
    }
  }

  async function runPull(folderId: string, policy: DeletePolicy): Promise<PullSummary> {
    const started = clock();
    // The pull a waiting conflict asked for may have been the one that failed (see below).
    const afterFailure = health.failure(folderId) !== null;
    const summary = emptySummary(folderId);
    const folder = store.folders.require(folderId);
    // Held by this side, a guard pull weighs the server's deletes again (they may be undone);
    // held by the scan side, the pull waits for the answer.
    if (folder.state === 'paused_mass_delete' && policy === 'guard' && !heldByPull(folder)) return { ...summary, paused: true };
    const flog = log.child({ folder: folderId });
    const root = await resolveRoot(folder.localRoot, folder.markerId);
    // Files an earlier pull replaced are looked at before the temp folder is cleared.
    await lateWrites.flush(folderId);
    const tmpDir = await prepareTmpDir(root);
    let caseInsensitive = options.caseInsensitive ?? caseCache.get(root);
    if (caseInsensitive === undefined) caseCache.set(root, (caseInsensitive = await isCaseInsensitiveDir(tmpDir)));

    const readOptions = { signal: abort.signal, ...(options.pageLimit ? { limit: options.pageLimit } : {}) };
    let read = await readChanges(remote, folder.remoteId, store.tokens.get(folderId), readOptions);
    if (read.kind === 'expired') {
      flog.warn('sync token expired; running a full sync');
      summary.expired = true;
      read = await readChanges(remote, folder.remoteId, undefined, readOptions);
      if (read.kind === 'expired') throw new FerryError('sync_token_expired', 'The server rejected a full sync as expired', { retryable: true });
    }
    summary.full = read.full;
    summary.pages = read.pages;

    let entries = validate(folderId, read.items, caseInsensitive);
    if (read.full) entries = entries.concat(reconcileDeletes(folderId, root, entries));
    // Ignored here: neither sent nor received (docs/conflict-rules.md, "Ignored paths").
    const ignores = deps.ignores;
    if (ignores) {
      const marked = entries.map((e) => ({ entry: e, ignored: ignores(folderId, e.path, e.kind === 'dir') }));
      const kept = marked.filter((m) => !m.ignored).map((m) => m.entry);
      if (kept.length < entries.length) flog.debug('ignored here: left as they are', { entries: entries.length - kept.length });
      // What the server has that stays out is recorded, so the folder never reads "everything in
      // sync" beside it: afresh from a full listing, else path by path (idempotent: a pull that
      // fails reads the same entries again).
      const live = marked.map(({ entry, ignored }) => ({ path: entry.path, ignored: ignored && !entry.deleted }));
      if (read.full) store.ignoredRemote.replace(folderId, live.filter((e) => e.ignored).map((e) => e.path));
      else store.ignoredRemote.update(folderId, live);
      entries = kept;
    }

    // Files deleted by this pull lend their blocks first (M3), then any indexed file.
    const aside = new SetAside(tmpDir);
    try {
      return await applyRun(folderId, policy, { started, afterFailure, summary, flog, root, tmpDir, caseInsensitive, read, entries, aside });
    } finally {
      await aside.clear();
    }
  }

  async function applyRun(
    folderId: string,
    policy: DeletePolicy,
    run0: { started: number; afterFailure: boolean; summary: PullSummary; flog: Logger; root: string; tmpDir: string; caseInsensitive: boolean; read: { token: string }; entries: RemoteEntry[]; aside: SetAside },
  ): Promise<PullSummary> {
    const { started, afterFailure, summary, flog, root, tmpDir, caseInsensitive, read, entries, aside } = run0;
    // Activity names who deleted, moved or changed what this pull applies: names no digest gave yet looked up first.
    const others = new Set(entries.map((e) => e.device).filter((d) => d !== '' && d !== deps.device.id));
    if (others.size > 0) await deps.knowDevices?.([...others]);
    const applying = applyingIn(folderId);
    const indexed = localBlocks(folderId, root);
    const lookupLocal = (hash: string) => aside.lookup(hash) ?? indexed(hash);
    const onBytes = (bytes: number) => events.emit('received', { folderId, bytes });
    const fetcher = new BlockFetcher({ remote, concurrency: options.downloadConcurrency, lookupLocal, signal: abort.signal, onBytes });
    const ctx: ApplyContext = { folderId, root, tmpDir, store, fetcher, caseInsensitive, log: flog, deviceName: deps.device.name, deviceId: deps.device.id, whoChanged, commits: new TxnGroup((fn) => store.transaction(fn)), aside, lateWrites, leftOverIntents: new Set(store.index.intentPaths(folderId)), now: clock };
    const errors: FerryError[] = [];
    // A folder renamed here to a name that cannot be synced keeps its old name's rows: what another
    // device put in it waits for a name that syncs, said as such, and not as a wait of a second
    // for the scan (which has recorded it).
    const keptUnderUnsyncable = (entry: RemoteEntry, e: FerryError): FerryError => {
      const renamed = e.code === 'parent_gone' ? deps.renamedUnsyncable?.(folderId, entry.path) : undefined;
      if (!renamed) return e;
      return new FerryError(WAITS_FOR_RENAME, `${entry.path} comes here once the folder ${renamed.from}, renamed here to ${JSON.stringify(renamed.path)} (a name that cannot be synced), has a name that syncs: rename it`, { retryable: true });
    };
    const unsafe = (entry: RemoteEntry, error: unknown): boolean => {
      const e = keptUnderUnsyncable(entry, isDiskFull(error) ? diskFullError(error, root) : asFerryError(error));
      if (e.code === 'unsafe_path') {
        summary.skipped++;
        report(folderId, entry.path, e.message, e.code);
        return true;
      }
      errors.push(e);
      // Stopped (a pause, a quit), not failed: nothing to say of the path (a new-user try read
      // "Its pull failed (aborted)" beside "paused").
      if (abort.signal.aborted) return false;
      // Said once: the pull runs again every few seconds, and the path's failure stays in `why`.
      const before = health.note(folderId, entry.path);
      health.itemFailed(folderId, entry.path, e, clock());
      const again = before?.kind === 'failed' && before.code === e.code;
      // A wait of a second on this device's own upload or scan is no fault (a new-user try read
      // "pull item failed" for one on the terminal): the log file keeps it.
      (again ? flog.debug : waitsOnThisDevice(e) ? flog.info : flog.warn).call(flog, 'pull item failed', { path: entry.path, code: e.code, error: e.message });
      return false;
    };

    // A moved directory whose source is here as synced moves in one rename (MD1), before
    // anything else is planned; a move that cannot hands its entries to the file rows.
    const { groups, rest: single } = groupDirMoves(entries);
    const toPlan = [...single];
    for (const group of groups) {
      const keys = [group.from, group.root.path];
      for (const k of keys) applying.add(k);
      try {
        const done = await applyDirMove(ctx, group);
        if ('rule' in done && done.rule === 'MD0') {
          flog.debug('directory move already here', { path: group.root.path, from: group.from, rule: 'MD0' });
        } else if ('rule' in done) {
          summary.moved += done.files;
          events.emit('applied', { folderId, path: group.root.path, action: 'moved', rule: 'MD1', from: group.from, device: group.root.device });
          flog.debug('applied', { path: group.root.path, from: group.from, revision: group.root.revision, rule: 'MD1', files: done.files });
        } else {
          if (done.refused.kind === 'no-dir-move') flog.info('directory move paired file by file', { path: group.root.path, rule: done.refused.rule, reason: done.refused.reason });
          toPlan.push(...group.entries);
        }
      } catch (error) {
        // The file rows decide each entry again (and report what is unsafe).
        flog.warn('directory move failed; paired file by file', { path: group.root.path, error: asFerryError(error).message });
        toPlan.push(...group.entries);
      } finally {
        for (const k of keys) applying.delete(k);
      }
    }

    const plans: Plan[] = [];
    // Below a file this pull turns into a folder (DU4, DU6), a path cannot be looked at until that
    // folder is made: planned right after the folders are.
    const remoteDirs = new Set(toPlan.filter((e) => e.kind === 'dir' && !e.deleted).map((e) => e.path));
    const belowRemoteDir = (p: string) => ancestorsOf(p).some((d) => remoteDirs.has(d));
    const afterDirs: RemoteEntry[] = [];
    // A folder the user turned into a file here while another device put something in it: the
    // server still holds the folder (docs/conflict-rules.md, "A folder turned into a file here").
    const filesHoldingRemote = new Map<string, RemoteEntry>();
    const deletingThisRevision = (entry: RemoteEntry): boolean => {
      const queued = pendingOf(store, folderId, entry.path);
      return deletingIt(entry, queued?.op ?? null, queued?.baseRevision);
    };
    const ownDeletedHere = (entry: RemoteEntry): boolean => entry.device === deps.device.id && pendingOf(store, folderId, entry.path)?.op === 'delete';
    const planAll = (list: readonly RemoteEntry[], into: Plan[], defer: boolean) =>
      forEachLimited(list, options.downloadConcurrency, async (entry) => {
        try {
          into.push(await plan(ctx, entry));
        } catch (error) {
          // Below a file the scan has not recorded yet (the index holds the folder), `plan` throws
          // the retryable parent_gone: what the user deleted with it is not queued yet, so nothing
          // is decided until it is (chaos --kinds seed 60486: docs/conflict-rules.md, "A folder
          // turned into a file here").
          if (!defer || asFerryError(error).code !== 'unsafe_path') return void unsafe(entry, error);
          const file = entry.deleted ? undefined : await fileAbove(root, entry.path);
          // Deleted here with the folder, that delete queued on this very revision (U1, DU1), or on
          // none when it is this device's own commit whose answer was not in (chaos --kinds seeds
          // 60407, 60409: docs/conflict-rules.md, "What the user deleted with the folder…").
          if (file !== undefined && deletingThisRevision(entry)) return void flog.debug('applied', { path: entry.path, revision: entry.revision, rule: entry.kind === 'dir' ? 'DU1' : 'U1', outcome: 'skipped' });
          if (file !== undefined && ownDeletedHere(entry)) {
            // Its delete goes on this revision, as its answer would have said (O2).
            rebaseOnOwnCommit(ctx, entry);
            return void flog.debug('applied', { path: entry.path, revision: entry.revision, rule: 'O2', outcome: 'skipped' });
          }
          if (file !== undefined && !filesHoldingRemote.has(file)) filesHoldingRemote.set(file, entry);
          if (file !== undefined || belowRemoteDir(entry.path)) afterDirs.push(entry);
          else unsafe(entry, error);
        }
      });
    await planAll(toPlan, plans, true);
    for (const [dir, below] of filesHoldingRemote) {
      // The server holds a folder there with something in it: decided as that folder (DU4, or DU6
      // for the user's file), with no revision, so that it is not "already at this revision" (the
      // user's file on the folder's revision, which the server refuses while the folder holds
      // anything); recorded at the feed's revision for it, or the one the index holds.
      const listed = plans.findIndex((p) => p.entry.path === dir);
      const revision = listed >= 0 ? plans[listed]!.entry.revision : (store.index.get(folderId, dir)?.syncedRevision ?? null);
      const folderEntry: RemoteEntry = { path: dir, kind: 'dir', revision: null, deleted: false, size: 0, blocks: [], mtime: below.mtime, modificationDate: below.modificationDate, device: below.device, serverFolder: true };
      remoteDirs.add(dir);
      const found: Plan[] = [];
      await planAll([folderEntry], found, false);
      plans.splice(listed >= 0 ? listed : plans.length, listed >= 0 ? 1 : 0, ...found.map((p) => ({ ...p, entry: { ...p.entry, revision } })));
    }

    // Remote moves that can be local renames (M1/M2), and deletes whose bytes live on under
    // another name: neither is a delete for the guard.
    const pairs = pairMoves(plans);
    const paired = new Set(pairs.flatMap((m) => [m.target, m.source]));
    const unmarked = unmarkedMoves(plans, () => store.index.listUnder(folderId, ''));
    const fileDeletes = plans.filter((p) => !paired.has(p) && !unmarked.has(p) && p.action.kind === 'delete-local' && p.seen.local.type === 'file');
    const localDeletes = fileDeletes.length;
    if (policy === 'guard') {
      const folderNow = store.folders.get(folderId);
      const held = heldByPull(folderNow);
      // Weighed with what the pulls just before deleted here (a bulk delete arrives in parts);
      // while held, with what the hold counted then, however long the question waits.
      // Left out: this pull's own deletes, and what it brings back (a restore elsewhere, found by review).
      // Only a pull with deletes weighs anything: no set of a 10,000-entry pull's paths otherwise.
      const thisPull = () => new Set([...fileDeletes.map((p) => p.entry.path), ...entries.filter((e) => !e.deleted).map((e) => e.path)]);
      const before = localDeletes === 0 ? [] : held ? stillGone(folderId, folderNow?.pausedHold?.removedHere ?? [], thisPull()) : deletedBefore(folderId, thisPull());
      // Counting the folder's files costs a scan of its index: only when there are deletes to weigh.
      const verdict = localDeletes > 0 ? checkMassDelete(localDeletes + before.length, store.index.countFiles(folderId) + before.length, options, 'pull', before.length) : null;
      if (verdict?.tripped) {
        // Held already: the question is brought up to date, quietly (docs/conflict-rules.md).
        states.pause(folderId, { side: 'pull', deletes: verdict.deletes, files: verdict.files, ...holdDetail(fileDeletes), ...(before.length > 0 ? { removedHere: before } : {}) }, verdict.reason);
        heldAt.set(folderId, { token: read.token, lookMs: clock() - started });
        if (!held) {
          flog.info('mass delete: folder paused until the user confirms or cancels', { deletes: verdict.deletes, files: verdict.files });
          events.emit('paused', { folderId, verdict });
        }
        const paused = { ...summary, paused: true, durationMs: clock() - started };
        events.emit('pulled', paused);
        return paused;
      }
      if (held) {
        // What the question was about is no longer on the server: nobody needs to answer.
        heldAt.delete(folderId);
        // What the window deleted before the hold still counts with what comes next (found by
        // review: a hold withdrawn, then a third part, went unasked).
        const gone = stillGone(folderId, folderNow?.pausedHold?.removedHere ?? [], new Set());
        if (gone.length > 0) pullWindow.set(folderId, gone.map((path) => ({ path, at: clock() })));
        else pullWindow.delete(folderId);
        states.resume(folderId, withdrawnReason(localDeletes));
        events.emit('holdEnded', { folderId });
      }
    }
    const keepLocal = policy === 'keep';
    // A path the feed moved elsewhere in this pull: its delete here is that move (a new-user try read
    // "project Deleted here: laptop-a deleted it" for a folder laptop-a renamed).
    const movedTo = new Map(entries.filter((e) => e.movedFrom !== undefined && !e.deleted).map((e) => [e.movedFrom!, e.path]));
    ctx.movedTo = movedTo;
    const run = async (p: Plan) => {
      const k = p.entry.path;
      applying.add(k);
      try {
        const outcome = await apply(ctx, p);
        flog.debug('applied', { path: p.entry.path, revision: p.entry.revision, rule: outcome.rule, outcome: outcome.kind });
        // A first (or expired-token) full listing brings what this device never had: a restore
        // before it joined is no news of "came back" here (found by a new-user try).
        countOutcome(summary, folderId, outcome, { restoredFrom: summary.full ? undefined : p.entry.restoredFrom, device: p.entry.device, movedTo: movedTo.get(p.entry.path) });
      } catch (error) {
        unsafe(p.entry, error);
      } finally {
        applying.delete(k);
      }
    };
    // Moves first: a moved directory is empty by the time its tombstone is looked at
    // (docs/conflict-rules.md, "Moves and renames"). A pair that no longer holds goes to the usual rows.
    const unpaired: Plan[] = [];
    await forEachLimited(pairs, options.downloadConcurrency, async (m: MovePair) => {
      const keys = [m.source.entry.path, m.target.entry.path];
      for (const k of keys) applying.add(k);
      try {
        const outcome = await applyMove(ctx, m);
        if (outcome) countOutcome(summary, folderId, outcome, { device: m.target.entry.device });
        else unpaired.push(m.source, m.target);
      } catch (error) {
        unsafe(m.target.entry, error);
      } finally {
        for (const k of keys) applying.delete(k);
      }
    });
    const rest = plans.filter((p) => !paired.has(p)).concat(unpaired);
    // Files this pull deletes lend their blocks to its downloads (a move the feed does not
    // mark as one, a file moved and edited elsewhere): set aside until the downloads are done.
    const downloads = rest.some((p) => !p.entry.deleted && p.entry.kind !== 'dir');
    const final = rest.map((p) => {
      const q = downloads && p.entry.deleted && p.entry.kind !== 'dir' ? { ...p, setAside: true } : p;
      return keepLocal ? { ...q, action: withPolicy(q.action, true), keepLocal } : q;
    });

    // Said while it applies what it found (a new-user try read "idle" through a 300 MB download).
    const changes = final.filter((p) => p.action.kind !== 'skip').length + afterDirs.length;
    await whileApplying(folderId, changes, async () => {
      // Deletes first: a path that turns from file into directory (or back) needs the old one gone.
      // File deletes, then directory deletes deepest first (a folder is looked at once what the
      // remote deleted inside it is gone), then directories, then files (docs/conflict-rules.md).
      await forEachLimited(final.filter((p) => isDeleteSide(p) && !isDir(p)), options.downloadConcurrency, run);
      for (const level of deepestFirst(final.filter((p) => isDeleteSide(p) && isDir(p)))) {
        await forEachLimited(level, options.downloadConcurrency, run);
      }
      await forEachLimited(final.filter((p) => !isDeleteSide(p) && isDir(p)), options.downloadConcurrency, run);
      if (afterDirs.length > 0) {
        const later: Plan[] = [];
        await planAll(afterDirs, later, false);
        // Folders below a new folder parents first, then their files with the rest.
        for (const p of later.filter(isDir).sort((a, b) => a.entry.path.length - b.entry.path.length)) await run(p);
        final.push(...later.filter((p) => !isDir(p)).map((p) => (keepLocal ? { ...p, action: withPolicy(p.action, true), keepLocal } : p)));
      }
      // Small files are latency-bound: many at once let their blocks share batch fetches (a
      // bounded number of requests) and their directory fsyncs. Bigger ones keep the lower bound.
      // Grouped by folder (stable: feed order within one): files renamed into a folder at about the
      // same time share its fsync, where feed order spread over many folders paid one per file.
      const files = byFolder(final.filter((p) => !isDeleteSide(p) && !isDir(p)));
      const small = (p: Plan) => p.entry.size <= BATCHABLE_BLOCK_BYTES;
      const smallDownloads = files.filter((p) => small(p) && isDownload(p) && p.entry.blocks.length === 1);
      fetcher.expect(smallDownloads.map((p) => ({ hash: p.entry.blocks[0]!, length: p.entry.size })));
      await Promise.all([
        forEachLimited(files.filter(small), Math.max(options.downloadConcurrency, options.smallFileConcurrency), run),
        forEachLimited(files.filter((p) => !small(p)), options.downloadConcurrency, run),
      ]);
    });

    // The window: what this guarded pull deleted here counts with the next pull's deletes; an
    // answer (confirm, cancel) starts it again.
    if (policy === 'guard') {
      const gone = localDeletes === 0 ? [] : stillGone(folderId, fileDeletes.map((p) => p.entry.path), new Set());
      if (gone.length > 0) pullWindow.set(folderId, [...(pullWindow.get(folderId) ?? []), ...gone.map((path) => ({ path, at: clock() }))]);
    } else pullWindow.delete(folderId);
    if (errors.length > 0) {
      // A full disk is the folder's state, not one item's: it is what the pull failed of.
      const full = errors.find((e) => e.code === DISK_FULL);
      if (full) throw full;
      // The user's yes stands when what failed is passing: the deletes went, and the next pull
      // applies the rest (docs/conflict-rules.md, "confirm"). Kept paused, they had to answer again.
      if (policy === 'confirm' && errors.every((e) => e.retryable)) endHold(folderId);
      // A failure first: the pull's code is a wait for the user's rename only when nothing else failed.
      const first = errors.find((e) => e.code !== WAITS_FOR_RENAME) ?? errors[0]!;
      // The soonest any item asked to be tried again (a parent folder the scan is about to record: a second).
      const after = errors.map((e) => e.retryAfterSeconds).filter((s): s is number => s !== undefined);
      const failed =
        first.code === WAITS_FOR_RENAME
          ? errors.length === 1
            ? first.message
            : `${errors.length} changes wait for a rename here. First: ${first.message}`
          : errors.length === 1
            ? `1 change could not be applied; the pull will run again: ${first.message}`
            : `${errors.length} changes could not be applied; the pull will run again. First: ${first.message}`;
      throw new FerryError(first.code, failed, {
        retryable: errors.some((e) => e.retryable),
        cause: first,
        ...(after.length > 0 ? { retryAfterSeconds: Math.min(...after) } : {}),
        ...(errors.every(waitsOnThisDevice) ? { details: { passing: true } } : {}),
      });
    }
    // Every page applied: only now does the token move (and a confirmed/cancelled pause end).
    const storeToken = () => store.tokens.set(folderId, read.token);
    if (policy === 'guard') storeToken();
    else endHold(folderId, storeToken);
    // A push conflict waits a minute for its recheck; a pull that applied changes of the folder
    // since it was recorded is what it waited for, so it is due now (the host kicks the pusher
    // on 'pulled'). So is the first pull through after a failed one, which may have been the
    // pull the conflict asked for (chaos seed 1033). Any other pull that read nothing new leaves
    // it to its minute: no tight loop (docs/conflict-rules.md, "Conflicts that wait"). A full
    // pull lists everything: it counts only when it changed something here (chaos seed 60093).
    const changedHere = summary.downloaded + summary.deleted + summary.recorded + summary.reuploaded + summary.moved + summary.conflicts > 0;
    if ((summary.full ? changedHere : entries.length > 0) || afterFailure) {
      const rechecked = store.queue.recheckConflicts(folderId, started);
      if (rechecked > 0) flog.info('conflicts rechecked after the pull', { items: rechecked });
    }
    summary.tokenStored = true;
    summary.durationMs = clock() - started;
    health.succeeded(folderId);
    flog.info('pulled', { ...summary });
    events.emit('pulled', summary);
    return summary;
  }

  function guarded(folderId: string, policy: DeletePolicy): Promise<PullSummary> {
    return runPull(folderId, policy).catch((error: unknown) => {
      const e = isDiskFull(error) ? diskFullError(error, store.folders.get(folderId)?.localRoot ?? folderId) : asFerryError(error);
      const before = health.failure(folderId);
      if (!abort.signal.aborted) health.failed(folderId, e, clock());
      // 'error' is special to EventEmitter: without a listener emit() would throw.
      if (!abort.signal.aborted && events.listenerCount('error') > 0) events.emit('error', { folderId, error: e });
      // The folder's own error (its root missing) is said once, by its state, and so is a server
      // that cannot be reached (the agent's state: offline), and a failure the last try of the
      // pull already had: each retry would only repeat it in the terminal.
      // A request this agent aborted (a pause, a stop) is no failure to warn about either.
      // Nor is a wait of a second on this device's own upload or scan (a race, not a fault).
      const said = e.code === 'offline' || e.code === 'aborted' || onlyWaitedOnThisDevice(e) || store.folders.get(folderId)?.errorCode === e.code || before?.code === e.code;
      (said ? log.debug : log.warn).call(log, 'pull failed', { folder: folderId, code: e.code, error: e.message });
      throw e;
    });
  }

  function enqueueRun(folderId: string, policy: DeletePolicy, first?: () => Promise<void>): Promise<PullSummary> {
    const chain = chains.get(folderId) ?? {};
    chains.set(folderId, chain);
    if (policy === 'guard' && chain.queued) return chain.queued;
    const before = chain.tail ?? Promise.resolve();
    const next: Promise<PullSummary> = before
      .catch(() => undefined)
      .then(() => {
        if (chain.queued === next) chain.queued = undefined;
        const turn = async () => {
          await first?.();
          return guarded(folderId, policy);
        };
        return deps.exclusive ? deps.exclusive(folderId, turn) : turn();
      });
    if (policy === 'guard') chain.queued = next;
    chain.tail = next;
    return next;
  }

  // --- scheduling -------------------------------------------------------------------------

  /** `until`: a folder's wait for it to sync again, which syncsAgain ends early. */
  function sleep(ms: number, until?: string): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakers.delete(done);
        if (until !== undefined) notOk.delete(until);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      wakers.add(done);
      if (until !== undefined) notOk.set(until, done);
    });
  }
  const wakeAll = () => [...wakers].forEach((w) => w());
  /**
   * Ends a pause the user answered (with `alongWith`, in its transaction: the token stored). The
   * folder's loop slept while it was paused (no long poll then): it long-polls again now, not at
   * the next fallback pull minutes later (a restore after a confirmed mass delete waited for it).
   */
  const endHold = (folderId: string, alongWith: () => void = () => undefined): void => {
    const resumed = store.transaction(() => {
      alongWith();
      if (store.folders.get(folderId)?.state !== 'paused_mass_delete') return false;
      states.resume(folderId);
      return true;
    });
    if (!resumed) return;
    heldAt.delete(folderId);
    events.emit('holdEnded', { folderId });
    wakeAll();
  };

  const backoff = (failures: number, error: unknown): number => pullRetryDelay(failures, error, options, deps.random ?? Math.random);

  async function loop(folderId: string): Promise<void> {
    let failures = 0;
    while (running) {
      if (!online) {
        await sleep(options.fallbackIntervalMs);
        continue;
      }
      try {
        await enqueueRun(folderId, 'guard');
        failures = 0;
      } catch (error) {
        if (!running) return;
        const delay = backoff(++failures, error);
        health.retryAt(folderId, clock() + delay);
        // Cut short when the folder syncs again (its root back, its remote folder made): the
        // backoff of failed pulls may be a minute by then.
        await sleep(delay, folderId);
        continue;
      }
      const lastPull = clock();
      while (running && online) {
        const remaining = options.fallbackIntervalMs - (clock() - lastPull);
        if (remaining <= 0) break;
        const folder = store.folders.get(folderId);
        if (!folder) return;
        const held = heldByPull(folder);
        const token = held ? heldAt.get(folderId)?.token : store.tokens.get(folderId);
        // Dropped while the folder syncs (changed ignore rules, a Cancel, a conflict), for a full
        // listing: the loop runs it now, and backs off if it fails. Slept on, a full pull that
        // failed once (an upload in flight) waited out the whole fallback interval (found by
        // the test of changed ignore rules).
        if (!token && !held && folder.state === 'ok') break;
        if (!token || (folder.state !== 'ok' && !held)) {
          await sleep(remaining, folderId);
          break;
        }
        try {
          const timeout = Math.max(1, Math.min(options.pollTimeoutSec, Math.ceil(remaining / 1000)));
          if (await remote.waitForChanges(folder.remoteId, token, timeout, { signal: abort.signal })) {
            // A held pull reads its whole backlog again: a busy folder does not have it do so at every change.
            if (held) await sleep(Math.max(options.heldRecheckMs, HELD_LOOKS_APART * (heldAt.get(folderId)?.lookMs ?? 0)) - (clock() - lastPull));
            break;
          }
        } catch (error) {
          if (!running) return;
          const e = asFerryError(error);
          // An expired token shows up on the next pull, which runs the full sync.
          if (e.code === 'sync_token_expired') break;
          // A connection cut or refused (the server restarting) is the agent's state to say.
          const lost = e.code === 'offline' || e.code === 'network';
          (lost ? log.debug : log.warn).call(log, 'long poll failed', { folder: folderId, code: e.code, error: e.message });
          await sleep(backoff(++failures, e));
          break;
        }
      }
    }
  }

  return {
    events,
    pullNow: (folderId) => enqueueRun(folderId, 'guard'),
    syncsAgain(folderId) {
      notOk.get(folderId)?.();
    },
    setOptions(next) {
      if (next.massDeletePercent !== undefined) options.massDeletePercent = next.massDeletePercent;
      if (next.massDeleteCount !== undefined) options.massDeleteCount = next.massDeleteCount;
    },
    start(folderIds) {
      if (running) return;
      running = true;
      abort = new AbortController();
      setMaxListeners(0, abort.signal);
      for (const id of folderIds ?? store.folders.list().map((f) => f.id)) loops.push(loop(id));
    },
    async stop() {
      running = false;
      abort.abort();
      wakeAll();
      await Promise.allSettled(loops.splice(0));
      await Promise.allSettled([...chains.values()].map((c) => c.tail));
      await lateWrites.flush();
    },
    setOnline(value) {
      online = value;
      health.linkChanged(value);
      wakeAll();
    },
    confirmMassDelete: (folderId) => enqueueRun(folderId, 'confirm'),
    cancelMassDelete: (folderId, first) => enqueueRun(folderId, 'keep', first),
    pendingMassDelete(folderId) {
      const folder = store.folders.get(folderId);
      const hold = folder?.state === 'paused_mass_delete' ? folder.pausedHold : null;
      if (hold?.side !== 'pull') return undefined;
      return { tripped: true, deletes: hold.deletes, files: hold.files, reason: folder?.pausedReason ?? '' };
    },
    health,
    applyingNow: () => incoming.size,
    incoming: (folderId) => incoming.get(folderId) ?? 0,
  };
}

/** How long the files a guarded pull deleted here count with the next pull's deletes. */
export const PULL_DELETE_WINDOW_MS = 15 * 60_000;

/** Held on the pull side: the server's deletes wait for the user's answer. */
function heldByPull(folder: { state: string; pausedHold: { side: string } | null } | undefined): boolean {
  return folder?.state === 'paused_mass_delete' && folder.pausedHold?.side === 'pull';
}

/** Activity's line when the held deletes went away on the server before anyone answered. */
function withdrawnReason(deletes: number): string {
  const undone = 'The deletes that waited for your answer were undone on the server';
  return deletes === 0 ? `${undone}: nothing to answer, nothing deleted here` : `${undone}, all but ${deletes}: too few to ask, so ${deletes === 1 ? 'that one goes' : 'those go'} as any delete does`;
}

/** What the user sees of a held pull-side delete: a few paths and the devices that deleted them. */
function holdDetail(deletes: readonly Plan[]): { sample: string[]; devices: string[] } {
  const sample = deletes.map((p) => p.entry.path).sort().slice(0, HOLD_SAMPLE_SIZE);
  // A full sync's own deletes (paths the server no longer lists) carry no device.
  const devices = [...new Set(deletes.map((p) => p.entry.device).filter((d) => d !== ''))].sort();
  return { sample, devices };
}
