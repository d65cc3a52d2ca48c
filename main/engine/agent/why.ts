import { SETTLE_CONFLICT } from '../../../shared/conflict-words';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { QueueItem, Store } from '../../store';
import { deviceLabel } from '../../../shared/device-words';
import { loadFolderIgnore } from '../ignore';
import { withLinkReason, type PullFailure, type PullHealthView } from '../pull';
import { lossyNamePath, lstatQuietly, relativeTo, resolveDiskPath, toKey, unsyncableReason } from '../paths';
import { parseConflictName } from '../conflict-name';
import { renamedAwayTo, unsyncableWhy } from '../scanner';

/** Why a path is (or is not) in sync, one reason per fact that holds, the deciding one first. */
export type WhyCode =
  | 'ignored'
  | 'dead_rule'
  | 'paused'
  | 'offline'
  | 'signed_out'
  | 'held'
  | 'folder_error'
  | 'disk_full'
  | 'failed'
  | 'retry_wait'
  | 'in_flight'
  | 'pending'
  | 'pull_failed'
  | 'pulling'
  | 'pull_refused'
  | 'conflict'
  | 'unsyncable'
  | 'not_scanned'
  | 'not_on_server'
  | 'on_server'
  | 'changed_locally'
  | 'in_sync'
  | 'unknown';

export interface WhyReason {
  code: WhyCode;
  message: string;
}

export interface PathExplanation {
  folderId: string;
  path: string;
  inSync: boolean;
  reasons: WhyReason[];
  local: { exists: boolean; kind: 'file' | 'dir' | 'link' | 'special' | null; size: number | null; modifiedAt: string | null };
  /**
   * This device's record of the path: the server's revision it last synced, and the size the scan
   * last recorded (the local file's: a change not sent yet has already changed it).
   */
  synced: { revision: string | null; size: number } | null;
  /** Deleted here, and the delete not sent yet (queued, held, or failing): the device had it. */
  deletedHere: boolean;
  /** The folder's last failed pull while its pulls fail (null once one gets through). */
  lastPullError: LastPullError | null;
}

export interface LastPullError {
  code: string;
  message: string;
  at: string;
  retryable: boolean;
  /** When the pull runs again by itself (null: not scheduled yet). */
  nextTryAt: string | null;
  /** No try is scheduled: the pull runs once the server answers again. */
  untilOnline?: boolean;
}

export interface WhyContext {
  store: Pick<Store, 'folders' | 'index' | 'queue' | 'conflicts' | 'recentDeletes'>;
  ignoreRules: readonly string[];
  paused: boolean;
  /** The link's problem in words, or null while online. */
  linkProblem: string | null;
  /** Which problem: the server cannot be reached, or it refuses this device (offline when not said). */
  linkState?: 'offline' | 'auth_failed';
  /** The folder's disk-full message while it waits for space, else null. */
  diskFull?: (folderId: string) => string | null;
  /** A device id as the user knows it (its name from the digests). */
  deviceName?: (id: string) => string;
  /** What the pulls could not bring (the puller's; absent while the engine is stopped). */
  pull?: PullHealthView;
  /** Whether a pull is applying the server's change of the path right now (its download under way). */
  pulling?: (folderId: string, key: string) => boolean;
  /** The folder's names that cannot be synced, each with the synced name it was renamed from. */
  unsyncable?: (folderId: string) => ReadonlyArray<{ path: string; reason: string; from?: string }>;
  now: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Finds the folder and key of `input`: a folder-relative path with `folderId`, else an
 * absolute path inside one of the folders. Null when no folder holds it.
 */
export function locatePath(store: Pick<Store, 'folders'>, input: { path: string; folderId?: string }): { folderId: string; key: string } | null {
  if (input.folderId !== undefined) {
    if (!store.folders.get(input.folderId)) return null;
    // "." and ".." are steps, not names: `why .` inside the folder failed inside the ignore rules
    // (found by a new-user try). Resolved as a path is; one that leaves the folder is not in it.
    const steps: string[] = [];
    for (const step of input.path.split('/')) {
      if (step === '' || step === '.') continue;
      if (step !== '..') steps.push(step);
      else if (steps.pop() === undefined) return null;
    }
    return { folderId: input.folderId, key: toKey(steps.join('/')) };
  }
  if (!path.isAbsolute(input.path)) return null;
  for (const folder of store.folders.list()) {
    const rel = relativeTo(folder.localRoot, input.path);
    if (rel !== null) return { folderId: folder.id, key: toKey(rel) };
  }
  return null;
}

/**
 * Everything this agent knows about one path and why it is not in sync (docs/architecture.md,
 * "Why a path is not in sync"). Reads only indexed rows and one lstat: fast at any folder size.
 */
/** What a queued change waits for: its turn, or the change the claim sends first (S23, S24, P7). */
function waitingFor(first: QueueItem | undefined): string {
  if (!first) return ', waiting for its turn';
  const change = first.moveFrom !== null ? `the move of ${first.moveFrom} to ${first.path}` : first.op === 'delete' ? `the delete of ${first.path}` : `the upload of the folder ${first.path}`;
  if (first.state !== 'failed') return `, waiting for ${change} to go first`;
  const error = first.lastErrorCode ? ` (${first.lastErrorCode}: ${first.lastErrorMessage ?? ''})` : '';
  return `, waiting for ${change}, which failed${error}: Retry sends it again`;
}

export function explainPath(ctx: WhyContext, folderId: string, key: string): PathExplanation {
  const { store } = ctx;
  const folder = store.folders.require(folderId);
  const local = localState(folder.localRoot, key);
  const entry = store.index.get(folderId, key);
  const item = store.queue.getByPath(folderId, key);
  const reasons: WhyReason[] = [];
  const add = (code: WhyCode, message: string) => reasons.push({ code, message });

  const rules = loadFolderIgnore(folder.localRoot, ctx.ignoreRules);
  const ignored = rules.explain?.(key, local.kind === 'dir');
  if (ignored) add('ignored', `Ignored by the rule "${ignored.rule}" from ${ignored.source === 'settings' ? 'the settings' : ignored.source}`);

  // Facts said after the verdict: they hold, but do not make the path out of sync.
  const asides: WhyReason[] = [];
  const live = item && item.state !== 'done' ? item : undefined;
  if (folder.state === 'paused_mass_delete') {
    const held = folder.pausedHold;
    if (held?.side === 'pull') {
      // The question names every file it deletes when they are few: a path it does not name is not one of them.
      const named = held.sample ?? [];
      if (named.length >= held.deletes && !named.includes(key)) {
        asides.push({ code: 'held', message: `The folder is paused for a mass delete of other files (${held.deletes} of ${held.files}): the server's changes wait for your answer` });
      } else add('held', `The folder is paused: syncing would delete ${held.deletes} of ${held.files} files here; answer the mass delete first`);
    } else if (live?.op === 'delete') add('held', 'Its delete is held with a bulk delete on this computer until you confirm or cancel it');
    else if (live) add('held', 'The folder is paused by a bulk delete waiting for your answer');
    // One of the bulk delete's, gone to the server before the rest were held (a review read "other files" for it).
    else if (item?.op === 'delete' && store.recentDeletes.has(folderId, key)) {
      asides.push({ code: 'held', message: 'Its delete had gone to the server before the rest of the bulk delete here was held: Cancel brings it back with them, Delete leaves it deleted' });
    }
    // Nothing of this path waits: the bulk delete is of other files.
    else asides.push({ code: 'held', message: 'The folder is paused by a bulk delete of other files on this computer: nothing is sent or received until you answer it' });
  }
  if (folder.state === 'error') add('folder_error', `The folder is in error: ${folder.errorMessage ?? folder.errorCode ?? 'unknown'}`);
  const full = ctx.diskFull?.(folderId) ?? null;
  if (full) add('disk_full', `The folder waits for disk space (${full}); it syncs again by itself once space frees`);
  if (live) {
    const what = live.op === 'delete' ? 'delete' : 'upload';
    const error = live.lastErrorCode ? `${live.lastErrorCode}: ${live.lastErrorMessage ?? ''}`.trim() : null;
    // The folder out of this device's reach (not shared with its user, or gone there): sent again by
    // itself once the server lets it reach the folder (a new-user try read "failed … Retry" for that).
    if (live.state === 'failed' && live.lastErrorCode === 'not_found') add('failed', `Its ${what} waits for the folder: the server does not let this device reach it (${error}; another user's folder not shared with this device's user, or removed there); it goes by itself once the folder can be reached`);
    else if (live.state === 'failed') add('failed', `Its ${what} failed after ${live.attempts} ${live.attempts === 1 ? 'attempt' : 'attempts'} (${error ?? 'no reason given'}); Retry sends it again`);
    else if (live.state === 'retry_wait') {
      add('retry_wait', `Its ${what} waits to retry (attempt ${live.attempts}, next try ${iso(live.nextAttemptAt)})${error ? `: ${error}` : ''}`);
    } else if (live.state === 'in_flight') {
      // Taken to be sent, but nothing goes while the link is down: the pusher holds it until a probe gets through.
      add('in_flight', ctx.linkProblem ? `Its ${what} waits for the server: it goes once the server can be reached and accepts this device` : `Its ${what} is being sent now`);
    }
    else add('pending', `Its ${what} is queued since ${iso(live.enqueuedAt)}${ctx.paused ? ', waiting for you to resume' : folder.state === 'paused_mass_delete' ? ', waiting for your answer to the bulk delete' : ctx.linkProblem ? ', waiting for the server' : waitingFor(store.queue.heldBehind(folderId, key))}`);
  }
  const pulled = ctx.pull?.note(folderId, key) ?? null;
  if (pulled?.kind === 'failed') {
    const failure = pullFailureNow(ctx, folderId);
    const next = failure?.untilOnline ? 'the pull tries again once the server answers' : failure?.nextTryAt != null ? `the pull tries again at ${iso(failure.nextTryAt)}` : 'the pull runs again';
    add('pull_failed', `Its pull failed at ${iso(pulled.at)} (${pulled.code}: ${pulled.message}); ${next}`);
  } else if (pulled?.kind === 'refused') add('pull_refused', `The pull left it as it is at ${iso(pulled.at)}: ${pulled.message}`);
  // A new-user try read "the next pull brings it here" through a long download of it.
  const pulling = pulled?.kind !== 'failed' && ctx.pulling?.(folderId, key) === true;
  if (pulling) add('pulling', "The pull is bringing the server's change of it here now");
  // Signed out, nothing is known of the server's side: not "in sync" (a new-user try read that after a revoke).
  const signedOut = ctx.linkState === 'auth_failed';
  if (!reasons.some((r) => r.code === 'ignored') && (live || pulled || folder.state !== 'ok' || full || signedOut)) {
    if (ctx.paused) add('paused', 'Ferry is paused: nothing is sent or received until you resume');
    else if (ctx.linkProblem) add(ctx.linkState === 'auth_failed' ? 'signed_out' : 'offline', ctx.linkProblem);
  }
  // A name the scan skips (docs/conflict-rules.md, "Names that cannot be synced"): said as such,
  // not as a path that is not on disk (a name that is not UTF-8 is read back as another).
  const unsyncable = entry ? null : unsyncableReason(key, local.lossy);
  // Renamed here from a synced name, said as the folder's list says it (a new-user try read it in `ferry status`, not in `why`).
  const renamedFrom = unsyncable === null ? undefined : ctx.unsyncable?.(folderId).find((u) => u.path === key)?.from;
  if (reasons.length === 0 && unsyncable !== null) add('unsyncable', `Not synced: ${unsyncableWhy(unsyncable, renamedFrom)}; rename it to sync it`);
  if (reasons.length === 0) {
    if (!entry && !local.exists) add('unknown', `Ferry knows nothing of ${key} in folder ${folderId}: it is not on disk here and was never synced`);
    // Never recorded, and never will be (a new-user try read "the next scan picks it up" for good).
    else if (!entry && local.kind === 'link') add('unsyncable', 'A symbolic link: Ferry does not follow links nor sync them; what it points to stays where it is');
    else if (!entry && local.kind === 'special') add('unsyncable', 'Not a regular file or folder (a device, a pipe or a socket): Ferry does not sync it');
    else if (!entry) add('not_scanned', 'On disk but not recorded yet: the next scan picks it up');
    else if (!local.exists) {
      // Renamed to a name that cannot be synced: kept on the server (docs/conflict-rules.md).
      const kept = renamedAwayTo(ctx.unsyncable?.(folderId) ?? [], key);
      if (kept) add('unsyncable', `Renamed here to ${kept.path}, a name that cannot be synced: the server and the other devices keep it here as it was; rename it to a name that syncs to move it there`);
      else add('changed_locally', 'Gone from disk but still recorded: the next scan records the delete');
    }
    else if (entry.syncedRevision === null) add('not_on_server', 'Recorded here but not on the server yet');
    else if (local.kind !== entry.kind) {
      // Turned into the other kind (or a link) since: the index still describes what was synced.
      const now = local.kind === 'dir' ? 'a folder' : local.kind === 'file' ? 'a file' : 'neither a file nor a folder';
      add('changed_locally', `A ${entry.kind === 'dir' ? 'folder' : 'file'} when last synced, ${now} on disk now: the next scan records the change`);
    } else if (local.kind === 'file' && (local.size !== entry.size || local.mtimeMs !== entry.mtimeMs)) {
      add('changed_locally', 'Changed on disk since it was last synced: the next scan queues it');
    } else if (ctx.linkProblem !== null) {
      // Out of reach, "in sync" is only what the last pull knew (chaos --kinds seed 60604: a path
      // moved away on the server read "in sync" on a device that could not ask it).
      add('offline', `${ctx.linkProblem}: this device has revision ${entry.syncedRevision} from its last pull; whether the server has a newer one is not known until it answers`);
    } else add('in_sync', `In sync: this device has the server's revision ${entry.syncedRevision}`);
  }
  reasons.push(...asides);
  // A rule that can match nothing ignores no path: the one the user expected to ignore this may be it.
  const dead = ignored ? [] : (rules.deadRules ?? []);
  if (dead.length > 0) {
    const named = dead.map(({ where, rule, problem }) => `"${rule}" (${where}) ${problem}`).join('; ');
    reasons.push({ code: 'dead_rule', message: `No ignore rule matches it; ${dead.length === 1 ? 'one rule matches' : `${dead.length} rules match`} nothing: ${named}` });
  }
  // A conflict is said while its copy is still there (the user has not settled it); the path
  // itself may be in sync meanwhile.
  const saidBefore = reasons.length;
  for (const c of store.conflicts.listOpen(folderId)) {
    if (c.path !== key && c.copyPath !== key) continue;
    if (!localState(folder.localRoot, c.copyPath).exists) continue;
    // A copy another device made (the pull brought it): the copy itself is said from its name, below.
    if (c.madeBy !== null) {
      if (c.path === key) add('conflict', `${c.madeBy}'s version of it is kept beside it as ${c.copyPath}, made there when another change took this name; ${SETTLE_CONFLICT}`);
      continue;
    }
    // Made here once and back from the server since (a restore, a folder taken up afresh).
    if (c.device === '') {
      if (c.path === key) add('conflict', `This device's earlier version of it is kept beside it as ${c.copyPath} (a conflict copy made here before, back from the server); ${SETTLE_CONFLICT}`);
      else add('conflict', `A conflict copy: this device's earlier version of ${c.path}, made here before and back from the server`);
      continue;
    }
    const other = (ctx.deviceName ?? deviceLabel)(c.device);
    // A restore is recorded under the device that asked for it, this one's too: it is said as the
    // restore it was (found by a new-user try: "Changed here and on laptop", asked on laptop).
    if (c.restoredFrom !== null) {
      if (c.path === key) add('conflict', `Changed here while ${other} restored an earlier version (#${c.restoredFrom}): the restored version is here, this device's change was kept as ${c.copyPath}`);
      else add('conflict', `A conflict copy: this device's change of ${c.path}, kept when ${other} restored an earlier version (#${c.restoredFrom}) of it`);
    } else if (c.path === key) add('conflict', `Changed here and on ${other}: ${other}'s version is here, this device's was kept as ${c.copyPath}`);
    else add('conflict', `A conflict copy: this device's version of ${c.path}, kept when ${other} changed it too`);
  }
  // A copy another device made, which came here through the pull: its name says what it is
  // (a new-user try asked `why` about one and got no word of it).
  const copy = reasons.length === saidBefore && local.exists ? parseConflictName(key) : null;
  // The name's time is the change that met another, not when the copy was made (a new-user try read it as that).
  if (copy) add('conflict', `A conflict copy keeping ${copy.device}'s version of ${copy.original} (its name's time: ${copy.at}), kept when another change took that name; ${SETTLE_CONFLICT}`);

  return {
    folderId,
    path: key,
    inSync: reasons[0]!.code === 'in_sync',
    reasons,
    local: { exists: local.exists, kind: local.kind, size: local.kind === 'file' ? local.size : null, modifiedAt: local.exists ? iso(local.mtimeMs) : null },
    synced: entry ? { revision: entry.syncedRevision, size: entry.size } : null,
    deletedHere: live?.op === 'delete',
    lastPullError: lastPullError(pullFailureNow(ctx, folderId)),
  };
}

/** The folder's failed pull as the status shows it: while the server is out of reach, with the link's reason. */
function pullFailureNow(ctx: Pick<WhyContext, 'pull' | 'linkProblem' | 'linkState'>, folderId: string): PullFailure | null {
  const link = ctx.linkState !== undefined && ctx.linkProblem !== null ? { state: ctx.linkState, reason: ctx.linkProblem } : null;
  return withLinkReason(ctx.pull?.failure(folderId) ?? null, link);
}

function lastPullError(failure: PullFailure | null): LastPullError | null {
  if (!failure) return null;
  const { code, message, at, retryable, nextTryAt, untilOnline } = failure;
  return { code, message, at: iso(at), retryable, nextTryAt: nextTryAt === null ? null : iso(nextTryAt), ...(untilOnline ? { untilOnline } : {}) };
}

/** `lossy`: a name not valid UTF-8, there, found by its bytes (its name as read does not open). */
function localState(root: string, key: string): { exists: boolean; kind: PathExplanation['local']['kind']; size: number; mtimeMs: number; lossy: boolean } {
  const abs = resolveDiskPath(root, key);
  const seen = (st: Stats, lossy: boolean) => ({ exists: true, kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'special', size: st.size, mtimeMs: st.mtimeMs, lossy }) as const;
  const plain = lstatQuietly(abs);
  if (plain) return seen(plain, false);
  const bytes = lossyNamePath(root, key);
  const lossy = bytes === null ? undefined : lstatQuietly(bytes);
  return lossy ? seen(lossy, true) : { exists: false, kind: null, size: 0, mtimeMs: 0, lossy: false };
}
