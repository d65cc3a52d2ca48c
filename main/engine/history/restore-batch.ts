import { randomUUID } from 'node:crypto';
import { MAX_BATCH_OPERATIONS, type DeletedItem, type HistoryItem, type OperationInput, type Task } from '../../../protocol';
import { FerryError, isFerryError } from '../../../protocol/errors';
import { backoffDelay, EQUAL_JITTER } from '../../../shared/backoff';
import type { SubmitBatchOptions, SubmitBatchReply } from '../../remote';
import { ancestorsOf } from '../paths';
import { currentName, isNeed, lineAt, movedAwaySince, nameOfRevision, placeOf, previousOnLine, type Need } from './lines';
import { readDeleted, readHistory, readLiveUnder, type HistoryRemote } from './listings';

/**
 * `ferry restore` and the UI's Restore, as restore operations (docs/sync-api.md, "History
 * and restore"). The client expands what the user asked for (these paths, everything deleted
 * under a prefix since a moment, a subtree as it was at a moment) into one restore per path
 * and sends them as batches: no block travels, and the files come back to every device
 * through the normal pull.
 */
export type RestoreRequest =
  /**
   * Each path: `revision` (one path only), or its state `at` a moment, or else its previous live
   * revision. `dryRun`: planned only, nothing sent (the outcome's `wouldRestore` lists the plan).
   */
  | { kind: 'paths'; paths: string[]; revision?: string; at?: string; dryRun?: boolean }
  /**
   * Deleted paths back as they were last, each only while still deleted: exactly `paths` (the
   * Deleted files page, the Undo of a confirmed mass delete), or every deleted path (under
   * `prefix`, deleted at or after `since`).
   */
  | { kind: 'deleted'; paths?: readonly string[]; prefix?: string; since?: string };

export interface RestoreOutcome {
  /** The files back, each with its new revision and the revision whose content it brought back. */
  restored: Array<{ path: string; revision: string; restoredFrom?: string }>;
  /**
   * A dry run's plan, nothing sent: each path that would be restored (its folders above first),
   * to which revision (of `from`, its name then, when renamed since). The other fields say
   * what would be skipped and what is unknown, as a restore does.
   */
  wouldRestore?: Array<{ path: string; revision: string; from?: string; kind: 'file' | 'dir'; modifiedAt?: string; size?: number }>;
  /** The folders back: those asked for, and the deleted ones above what came back. */
  folders: number;
  failed: Array<{ path: string; code: string; message: string }>;
  /** Paths the request named that have nothing to restore, and why (`kind` where the plan knows it). */
  skipped: Array<{ path: string; reason: string; kind?: 'file' | 'dir' }>;
}

export interface RestoreRemote extends HistoryRemote {
  submitBatch(folderId: string, operations: readonly OperationInput[], options?: SubmitBatchOptions): Promise<SubmitBatchReply>;
  getTask(taskId: string): Promise<Task>;
}

export interface RestoreOptions {
  /** Waits between task polls and path_locked retries (tests and the engine inject their timers). */
  delay?: (ms: number) => Promise<void>;
  pollMs?: number;
}

type RestoreOp = Extract<OperationInput, { action: 'restore' }>;
/**
 * `folders`: the planned paths that are folders (counted apart from the files). `listed`: the
 * deleted listing the plan read, whole under `prefix`: what it lacks there is not deleted.
 */
type Planned = {
  ops: RestoreOp[];
  skipped: RestoreOutcome['skipped'];
  folders: Set<string>;
  listed?: { prefix: string; deleted: Map<string, DeletedItem> };
  unknown?: string[];
  /** The version each path gets back and the path's newest, where the plan read them (a dry run names its time and size). */
  versions?: Map<string, { version: HistoryItem; current: HistoryItem | undefined }>;
};

/** Batches of this many operations or fewer are answered in sync mode; bigger ones run as tasks. */
export const SYNC_RESTORE_LIMIT = 1000;
const PATH_LOCKED_RETRIES = 10;
/**
 * A transient failure (a 503, a dropped connection, a sync batch timed out after it applied) is
 * tried again this many times before the user sees it: the batch's tracking id makes a retry
 * apply nothing twice, and a listing is only read.
 */
const TRANSIENT_RETRIES = 4;
const TRANSIENT_BACKOFF = { baseMs: 500, capMs: 4000, jitter: EQUAL_JITTER };
const HISTORY_CONCURRENCY = 8;

export async function restore(server: RestoreRemote, remoteId: string, request: RestoreRequest, options: RestoreOptions = {}): Promise<RestoreOutcome> {
  const remote = retryingTransient(server, options.delay ?? sleep);
  const plan = await withDeletedFolders(
    remote,
    remoteId,
    request.kind === 'deleted' ? (request.paths ? await planDeletedPaths(remote, remoteId, request.paths) : await planDeleted(remote, remoteId, request))
    : await planPaths(remote, remoteId, request),
  );
  const outcome: RestoreOutcome = { restored: [], folders: 0, failed: (plan.unknown ?? []).map(unknownPath), skipped: plan.skipped };
  if (request.kind === 'paths' && request.dryRun) return dryRun(plan, outcome);
  for (let i = 0; i < plan.ops.length; i += MAX_BATCH_OPERATIONS) {
    let chunk = plan.ops.slice(i, i + MAX_BATCH_OPERATIONS);
    let results;
    try {
      results = await submit(remote, remoteId, chunk, options);
    } catch (error) {
      // A server before restores across renames refuses `from` (400, nothing applied): the rest go alone.
      const across = chunk.filter((op) => op.from !== undefined);
      if (!isFerryError(error) || error.code !== 'invalid_request' || across.length === 0) throw error;
      for (const op of across) outcome.skipped.push({ path: op.path, reason: `it was renamed since (from ${op.from}), and this server cannot restore across a rename: upgrade it` });
      chunk = chunk.filter((op) => op.from === undefined);
      results = chunk.length > 0 ? await submit(remote, remoteId, chunk, options) : {};
    }
    for (const op of chunk) {
      const result = results[op.key];
      // Answered with the revision it was based on: the current version has those bytes already,
      // and the server made no new one (found by a new-user try: "Restored 1 file" of nothing).
      if (result?.ok && result.revision === op.baseRevision) outcome.skipped.push({ path: op.path, reason: 'it has those bytes already: no new version was made' });
      else if (result?.ok) {
        if (plan.folders.has(op.path)) outcome.folders++;
        else outcome.restored.push({ path: op.path, revision: result.revision, restoredFrom: op.revision });
      } else outcome.failed.push({ path: op.path, code: result?.code ?? 'internal', message: result?.message ?? 'no result from the server' });
    }
  }
  return outcome;
}

async function planDeleted(remote: RestoreRemote, remoteId: string, request: Extract<RestoreRequest, { kind: 'deleted' }>): Promise<Planned> {
  const deleted = await readDeleted(remote, remoteId, { ...(request.prefix ? { prefix: request.prefix } : {}), ...(request.since ? { since: request.since } : {}) });
  const planned: Planned = { ops: [], skipped: [], folders: new Set() };
  // Since a moment, the listing leaves out what was deleted before it: not whole.
  if (!request.since) planned.listed = { prefix: request.prefix ?? '', deleted: new Map(deleted.map((d) => [d.path, d])) };
  for (const item of deleted) {
    if (!item.lastLive) planned.skipped.push({ path: item.path, reason: 'no earlier version is kept on the server' });
    // The tombstone is the base: a path written again since is refused, not overwritten.
    else {
      planned.ops.push(restoreOp(planned.ops.length, item.path, item.lastLive.revision, item.revision, true));
      if (item.kind === 'dir') planned.folders.add(item.path);
    }
  }
  return planned;
}

/**
 * The deleted listing under the batch's common folder, kept to the batch's own paths: each
 * comes back at its last live revision, with its deletion as the base, so a path written
 * again since is left as it is.
 */
async function planDeletedPaths(remote: RestoreRemote, remoteId: string, paths: readonly string[]): Promise<Planned> {
  const prefix = commonFolder(paths);
  const deleted = new Map((await readDeleted(remote, remoteId, prefix ? { prefix } : {})).map((d) => [d.path, d]));
  const planned: Planned = { ops: [], skipped: [], folders: new Set(), listed: { prefix, deleted } };
  for (const path of paths) {
    const item = deleted.get(path);
    if (!item) planned.skipped.push({ path, reason: 'it is not deleted on the server (written again or restored since, or its delete never reached it)' });
    else if (!item.lastLive) planned.skipped.push({ path, reason: 'no earlier version is kept on the server' });
    else {
      planned.ops.push(restoreOp(planned.ops.length, path, item.lastLive.revision, item.revision, true));
      if (item.kind === 'dir') planned.folders.add(path);
    }
  }
  return planned;
}

/**
 * The deleted folders above what a restore brings back come back with it, first (a batch applies
 * in order), each at its last version and only while still deleted; they are counted as folders,
 * not files. A file restored below a deleted folder otherwise left that folder deleted on
 * the server while every device held it, out of sync for good (found by a new-user try).
 */
async function withDeletedFolders(remote: RestoreRemote, remoteId: string, plan: Planned): Promise<Planned> {
  const planned = new Set(plan.ops.map((op) => op.path));
  const above = new Set<string>();
  for (const op of plan.ops) for (const dir of ancestorsOf(op.path)) if (!planned.has(dir)) above.add(dir);
  if (above.size === 0) return plan;
  // Each folder's state from the listing the plan read where it covers it, else from the folder's
  // own history (a few entries): never the folder's whole deleted listing for one file (found by review).
  const { listed } = plan;
  const covered = (dir: string) => listed !== undefined && (listed.prefix === '' || dir === listed.prefix || dir.startsWith(`${listed.prefix}/`));
  const back: Array<{ path: string; revision: string; base: string }> = [];
  const inListing = (dir: string) => (covered(dir) ? listed!.deleted.get(dir) : undefined);
  // A folder the listing lacks may be deleted still: it leaves out a move's tombstone, and one
  // whose folder a restore brought back under another name (docs/sync-api.md, "History and restore").
  const ask = [...above].filter((dir) => inListing(dir) === undefined);
  for (const dir of above) {
    const d = inListing(dir);
    if (d?.kind === 'dir' && d.lastLive) back.push({ path: dir, revision: d.lastLive.revision, base: d.revision });
  }
  const histories = await readHistories(remote, remoteId, ask);
  ask.forEach((dir, i) => {
    const [newest, ...older] = histories[i] ?? [];
    const live = older.find((h) => !h.deleted);
    if (newest?.deleted && live?.kind === 'dir') back.push({ path: dir, revision: live.revision, base: newest.revision });
  });
  back.sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  const ops = [...back.map((f) => restoreOp(0, f.path, f.revision, f.base, true)), ...plan.ops].map((op, i) => ({ ...op, key: `r${i}` }));
  return { ...plan, ops, folders: new Set([...plan.folders, ...back.map((f) => f.path)]) };
}

/** The histories of `paths`, read a few at a time (newest first, as the server lists them). */
async function readHistories(remote: HistoryRemote, remoteId: string, paths: readonly string[]): Promise<HistoryItem[][]> {
  const histories = new Array<HistoryItem[]>(paths.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(HISTORY_CONCURRENCY, paths.length) }, async () => {
      while (next < paths.length) {
        const i = next++;
        histories[i] = await readHistory(remote, remoteId, paths[i] as string);
      }
    }),
  );
  return histories;
}

/** The deepest folder holding every path ('' for the folder's root). */
export function commonFolder(paths: readonly string[]): string {
  const [first, ...rest] = paths;
  if (first === undefined) return '';
  let parts = first.split('/').slice(0, -1);
  for (const path of rest) {
    const other = path.split('/');
    let i = 0;
    while (i < parts.length && i < other.length - 1 && parts[i] === other[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join('/');
}

async function planPaths(remote: RestoreRemote, remoteId: string, request: Extract<RestoreRequest, { kind: 'paths' }>): Promise<Planned> {
  if (request.revision !== undefined && request.paths.length !== 1) {
    throw new FerryError('invalid_request', 'A revision names a version of one path: give exactly one path with it');
  }
  if (request.at !== undefined) return planAt(remote, remoteId, request.paths, request.at);
  const planned: Planned = { ops: [], skipped: [], folders: new Set() };
  const histories = new Map<string, HistoryItem[]>();
  await resolveAll(remote, remoteId, histories, request.paths, readIn(histories));
  // A revision from the history of the path's old name (renamed since) comes back under this one.
  const { revision } = request;
  const names = revision === undefined ? undefined : await resolveAll(remote, remoteId, histories, request.paths, (path) => nameOfRevision(path, revision, histories) ?? path);
  // R5: a file renamed since its last edit has no earlier content under its name: found back
  // through its renames, only for the paths that need it (docs/conflict-rules.md).
  const renamedOnly = revision === undefined ? request.paths.filter((path) => isRenamedOnly(histories.get(path) ?? [])) : [];
  const earlier = await resolveAll(remote, remoteId, histories, renamedOnly, (path) => previousOnLine(path, histories) ?? '');
  for (const path of request.paths) {
    const history = histories.get(path) ?? [];
    const before = earlier.get(path);
    const pick = before ? { revision: before.revision } : choose(history, request);
    const from = before ? before.name : names?.get(path);
    if (history.length === 0) (planned.unknown ??= []).push(path);
    else if ('reason' in pick) planned.skipped.push({ path, reason: pick.reason });
    else addOp(planned, path, pick.revision, history, histories.get(from ?? path) ?? history, from !== undefined && from !== path ? from : undefined);
  }
  return planned;
}

/**
 * "P as it was at T" (docs/conflict-rules.md, "A folder as it was at a moment, across renames"):
 * every line under P then or now (P under its name then and now; the full listing and the
 * deleted listing with the moved-away paths), followed to its current name (R1) and back to T
 * (R2), restored once at its current name, or into its folder's current name.
 */
async function planAt(remote: RestoreRemote, remoteId: string, asked: readonly string[], when: string): Promise<Planned> {
  const at = Date.parse(when);
  const histories = new Map<string, HistoryItem[]>();
  const resolve = <T>(paths: Iterable<string>, step: (path: string) => T | Need) => resolveAll(remote, remoteId, histories, [...new Set(paths)], step);
  // The names each asked path has now and had then: a renamed folder is looked at under both.
  const nowNames = await resolve(asked, (path) => currentName(path, histories));
  const thenLines = await resolve(nowNames.values(), (path) => lineAt(path, at, histories, when));
  const roots = new Set([...asked, ...nowNames.values()]);
  for (const line of thenLines.values()) if ('item' in line) roots.add(line.path);
  // What the name held then, moved away since though the name holds something new now.
  const away = await resolve(asked, (path) => movedAwaySince(path, at, histories) ?? '');
  for (const now of away.values()) if (now !== '') roots.add(now);
  const found = new Set<string>([...asked, ...(await readLiveUnder(remote, remoteId, [...roots]))]);
  for (const root of roots) for (const d of await readDeletedAndMoved(remote, remoteId, root)) found.add(d.path);
  const names = [...new Set((await resolve(found, (path) => currentName(path, histories))).values())];
  const lines = await resolve(names, (path) => lineAt(path, at, histories, when));
  const places = await resolve(names, (path) => placeOf(path, histories));
  await resolve(places.values(), readIn(histories));
  // R1: one restore per line. Two names reach one line when a renamed file was found under both
  // (an older server names no `movedTo`): the one that lives now keeps it.
  const isLive = (path: string) => histories.get(path)?.[0]?.deleted === false;
  const byLine = new Map<string, string>();
  for (const name of names) {
    const line = lines.get(name)!;
    if (!('item' in line)) continue;
    const key = `${line.path}\0${line.item.revision}`;
    const other = byLine.get(key);
    if (other === undefined || (!isLive(other) && isLive(name))) byLine.set(key, name);
  }
  const chosen = new Set(byLine.values());
  // A place that holds a restore of its line's version then is as it was already (a second run).
  const restoredHere = (path: string) => histories.get(path)?.[0]?.restoredFrom;
  const sources = new Set([...byLine.keys()].map((key) => key.slice(key.indexOf('\0') + 1)));
  const planned: Planned = { ops: [], skipped: [], folders: new Set() };
  const unchanged = (path: string, kind: 'file' | 'dir') => planned.skipped.push({ path, reason: `it has not changed since ${when}`, kind });
  for (const name of names) {
    const line = lines.get(name)!;
    const place = places.get(name)!;
    if ('reason' in line) {
      const restored = restoredHere(name);
      // Made after T by a restore of a line's version then: that line says so.
      if (restored !== undefined && sources.has(restored)) continue;
      const movedOn = away.get(name);
      if (movedOn) planned.skipped.push({ path: name, reason: `what it held at ${when} is ${movedOn} now (restored there); this one is new since` });
      // A folder named for "as it was at T" with no history of its own: its children speak for it.
      else if ((histories.get(name) ?? []).length === 0 && asked.includes(name)) {
        if (![...found].some((p) => p.startsWith(`${name}/`))) (planned.unknown ??= []).push(name);
      } else planned.skipped.push({ path: name, reason: line.reason });
    } else if (!chosen.has(name)) continue;
    // Its deletion's own time, not T (a new-user try read the moment asked as when it was deleted).
    else if (line.item.deleted) planned.skipped.push({ path: name, reason: line.item.movedTo !== undefined ? `it was already moved to ${line.item.movedTo} at ${when} (moved ${line.item.modificationDate})` : `it was already deleted at ${when} (deleted ${line.item.modificationDate})` });
    else if (restoredHere(place) === line.item.revision) unchanged(place, line.item.kind);
    else if (place !== name && isLive(place)) planned.skipped.push({ path: name, reason: `its folder is ${place.slice(0, place.lastIndexOf('/'))} now, where another file has its name` });
    else if (!line.changed && place === name) unchanged(name, line.item.kind);
    else addOp(planned, place, line.item.revision, histories.get(place) ?? [], histories.get(line.path) ?? [], line.path === place ? undefined : line.path);
  }
  return planned;
}

/**
 * A path asked for that the server never had (nor anything below it): a typo or another folder's
 * path, told as a failure so the command says so and exits 1 (found by a new-user try: it exited 0).
 */
const unknownPath = (path: string): RestoreOutcome['failed'][number] => ({
  path,
  code: 'not_found',
  message: 'the server has no history of this path: check its name, and that it is in this folder',
});

/**
 * The name the file `path` held has now, following its moves one history at a time (`history`:
 * the path's own, read already); the path itself when it was not moved away.
 */
export async function nameNow(server: HistoryRemote, remoteId: string, path: string, history: readonly HistoryItem[]): Promise<string> {
  const histories = new Map<string, HistoryItem[]>([[path, [...history]]]);
  return (await resolveAll(server, remoteId, histories, [path], (p) => currentName(p, histories))).get(path) ?? path;
}

/**
 * The name a revision of the file now at `path` was written under, back through its renames
 * (`nameOfRevision`), the histories read as the walk needs them; undefined when none of its names has it.
 */
export async function nameOfRevisionOnServer(server: HistoryRemote, remoteId: string, path: string, revision: string): Promise<string | undefined> {
  const histories = new Map<string, HistoryItem[]>();
  const found = (await resolveAll(server, remoteId, histories, [path], (p) => nameOfRevision(p, revision, histories) ?? '')).get(path);
  return found === '' ? undefined : found;
}

/** A step that only needs each path's history read. */
const readIn = (histories: ReadonlyMap<string, unknown>) => (path: string) => (histories.has(path) ? path : { need: path });

/** Deleted and moved-away paths under `prefix`; only the deleted ones from a server that lists no moves (400). */
async function readDeletedAndMoved(remote: RestoreRemote, remoteId: string, prefix: string): Promise<DeletedItem[]> {
  try {
    return await readDeleted(remote, remoteId, { prefix, moved: true });
  } catch (error) {
    if (!isFerryError(error) || error.code !== 'invalid_request') throw error;
    return readDeleted(remote, remoteId, { prefix });
  }
}

/**
 * Answers `step` for every path, reading the histories it names (a few at a time) until none
 * is missing: each line is followed one rename per round.
 */
async function resolveAll<T>(remote: HistoryRemote, remoteId: string, histories: Map<string, HistoryItem[]>, paths: readonly string[], step: (path: string) => T | Need): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  let open = [...paths];
  while (open.length > 0) {
    const needs = new Set<string>();
    const still: string[] = [];
    for (const path of open) {
      const answer = step(path);
      if (isNeed(answer)) {
        needs.add(answer.need);
        still.push(path);
      } else out.set(path, answer);
    }
    const read = [...needs].filter((p) => !histories.has(p));
    if (still.length > 0 && read.length === 0) throw new FerryError('internal', 'A restore plan asked again for a history it had read');
    const got = await readHistories(remote, remoteId, read);
    read.forEach((p, i) => histories.set(p, got[i] ?? []));
    open = still;
  }
  return out;
}

/** One restore of `path` to `revision` (of `from`, its name then, when renamed since). */
function addOp(planned: Planned, path: string, revision: string, history: readonly HistoryItem[], source: readonly HistoryItem[], from?: string): void {
  planned.ops.push(restoreOp(planned.ops.length, path, revision, history[0]?.revision ?? null, false, from));
  const version = source.find((h) => h.revision === revision);
  if (version) (planned.versions ??= new Map()).set(path, { version, current: history[0] });
  if (version?.kind === 'dir') planned.folders.add(path);
}

/**
 * A dry run's outcome, nothing sent: what the restore would do, as far as the histories the plan
 * read tell, refused and skipped as the server would (found by review: a revision of another path
 * and a version with the current bytes were listed as restores).
 */
function dryRun(plan: Planned, outcome: RestoreOutcome): RestoreOutcome {
  outcome.wouldRestore = [];
  for (const op of plan.ops) {
    const read = plan.versions?.get(op.path);
    // The folders above are restored only while deleted (onlyIfDeleted), from their deleted listing.
    if (!read && !op.onlyIfDeleted) {
      outcome.failed.push({ path: op.path, code: 'unknown_revision', message: `Revision ${op.revision} of ${op.from ?? op.path} does not exist on the server (never, or no longer retained)` });
      continue;
    }
    const { version, current } = read ?? {};
    if (version?.contentHash !== undefined && current !== undefined && !current.deleted && current.contentHash === version.contentHash) {
      outcome.skipped.push({ path: op.path, reason: 'it has those bytes already: no new version would be made' });
      continue;
    }
    outcome.wouldRestore.push({
      path: op.path,
      revision: op.revision,
      ...(op.from !== undefined ? { from: op.from } : {}),
      kind: plan.folders.has(op.path) ? 'dir' : 'file',
      ...(version ? { modifiedAt: version.modificationDate, size: version.size } : {}),
    });
  }
  return outcome;
}

/** A live file whose name holds no earlier live version, brought there by a move (R5). */
function isRenamedOnly(history: HistoryItem[]): boolean {
  const [current, next] = history;
  return current !== undefined && !current.deleted && current.movedFrom !== undefined && (next === undefined || next.deleted);
}

/** Which revision of a path a request means (history newest first). */
function choose(history: HistoryItem[], request: { revision?: string }): { revision: string } | { reason: string } {
  const current = history[0];
  if (!current) return { reason: 'the server has no history of this path' };
  if (request.revision !== undefined) return { revision: request.revision }; // the server checks it is this path's
  // Renamed, not deleted: bringing the old version back here made a second copy of the file.
  if (current.deleted && current.movedTo !== undefined) {
    return { reason: `it was moved to ${current.movedTo} (renamed, not deleted): restore that path, or give --revision to bring a copy back here` };
  }
  // No revision, no moment: undo the last change (the last live version before the current one).
  const previous = history.slice(1).find((h) => !h.deleted);
  const target = current.deleted ? history.find((h) => !h.deleted) : previous;
  return target ? { revision: target.revision } : { reason: current.deleted ? 'no earlier version is kept on the server' : 'it has no earlier version' };
}

function restoreOp(index: number, path: string, revision: string, baseRevision: string | null, onlyIfDeleted: boolean, from?: string): RestoreOp {
  return { key: `r${index}`, action: 'restore', path, revision, ...(from !== undefined ? { from } : {}), baseRevision, ...(onlyIfDeleted ? { onlyIfDeleted } : {}) };
}

/**
 * One batch: sync mode up to SYNC_RESTORE_LIMIT operations, else a task polled to its end. One
 * tracking id for every attempt, so a retry (path_locked, a sync batch over the budget) reaches
 * the same task and applies nothing twice.
 */
async function submit(remote: RestoreRemote, remoteId: string, ops: RestoreOp[], options: RestoreOptions): Promise<Record<string, { ok: true; revision: string } | { ok: false; code: string; message: string }>> {
  const delay = options.delay ?? sleep;
  const pollMs = options.pollMs ?? 250;
  const trackingId = randomUUID();
  const mode = ops.length > SYNC_RESTORE_LIMIT ? 'async' : 'sync';
  for (let attempt = 0; ; attempt++) {
    let taskId: string;
    try {
      const reply = await remote.submitBatch(remoteId, ops, { mode, trackingId });
      if ('results' in reply) return reply.results;
      taskId = reply.taskId;
    } catch (error) {
      if (!isFerryError(error)) throw error;
      const running = error.code === 'timeout' ? (error.details?.taskId as string | undefined) : undefined;
      if (running) taskId = running;
      else if (error.code === 'path_locked' && attempt < PATH_LOCKED_RETRIES) {
        await delay(1000);
        continue;
      } else throw error;
    }
    for (;;) {
      const task = await remote.getTask(taskId);
      if (task.status === 'Completed') return task.results ?? {};
      if (task.status === 'Failed') {
        if (task.error?.code === 'path_locked' && attempt < PATH_LOCKED_RETRIES) break;
        throw new FerryError(task.error?.code ?? 'internal', task.error?.message ?? 'The restore task failed on the server', { retryable: task.error?.code === 'path_locked' });
      }
      await delay(pollMs);
    }
    await delay(1000);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What `submit` answers itself (a task still running, a locked path) is not retried here. */
function isTransient(error: unknown): error is FerryError {
  if (!isFerryError(error) || !error.retryable || error.code === 'path_locked') return false;
  return !(error.code === 'timeout' && error.details?.taskId);
}

/** The remote, each call tried again after a transient failure (TRANSIENT_RETRIES). */
function retryingTransient(remote: RestoreRemote, delay: (ms: number) => Promise<void>): RestoreRemote {
  const patiently = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let retry = 1; ; retry++) {
      try {
        return await call();
      } catch (error) {
        if (!isTransient(error) || retry > TRANSIENT_RETRIES) throw error;
        const retryAfterMs = error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : undefined;
        await delay(backoffDelay(retry, TRANSIENT_BACKOFF, Math.random, retryAfterMs));
      }
    }
  };
  return {
    historyPage: (folderId, query) => patiently(() => remote.historyPage(folderId, query)),
    deletedPage: (folderId, query) => patiently(() => remote.deletedPage(folderId, query)),
    changesPage: (folderId, query) => patiently(() => remote.changesPage(folderId, query)),
    submitBatch: (folderId, operations, options) => patiently(() => remote.submitBatch(folderId, operations, options)),
    getTask: (taskId) => patiently(() => remote.getTask(taskId)),
  };
}
