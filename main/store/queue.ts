import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Db } from './db';
import type { Folder } from './folders';
import { underBounds as underBoundsOf, type EntryKind } from './keys';

export type QueueState = 'pending' | 'in_flight' | 'retry_wait' | 'failed' | 'done';
export const QUEUE_STATES: readonly QueueState[] = ['pending', 'in_flight', 'retry_wait', 'failed', 'done'];
export type QueueOp = 'upsert' | 'delete';

/** A change the scanner confirmed. The snapshot is what gets pushed. */
export interface Change {
  folderId: string;
  path: string;
  kind: EntryKind;
  op: QueueOp;
  size?: number;
  mtimeMs?: number;
  contentHash?: string | null;
  blocks?: string[] | null;
  /** The synced revision of the path when the change was seen (null: never synced). */
  baseRevision: string | null;
  /**
   * A move (an upsert only): the server can make `path` by moving this path, which has
   * `baseRevision` (docs/conflict-rules.md, "Pushing a move"). Not given: a plain change.
   */
  moveFrom?: string | null;
  /** The content hash `moveFrom` had synced (null: unknown, so an upload follows the move). */
  moveHash?: string | null;
  /**
   * A delete the user made (the file found gone), not the pull dropping a row it accounted for:
   * a create sent without an answer may be on the server, so it is deleted there rather than
   * dropped (docs/conflict-rules.md, "A create sent without an answer, then deleted").
   */
  byUser?: boolean;
  /**
   * An upload of what the server holds no version of (the pull kept a file another device
   * deleted, D3/D5): it goes on no base, never the base of a delete queued before it.
   */
  asNew?: boolean;
}

/**
 * queued: a new row; replaced: an earlier change to the path was superseded;
 * cancelled: a delete undid a never-pushed create, so nothing remains;
 * noop: a delete of something the server never had.
 */
export type EnqueueOutcome = 'queued' | 'replaced' | 'cancelled' | 'noop';

export interface QueueItem {
  id: number;
  folderId: string;
  path: string;
  kind: EntryKind;
  op: QueueOp;
  state: QueueState;
  priority: number;
  /** Bumped by every change to the path; a pusher completes "item X at generation G". */
  generation: number;
  /** The generation a pusher holds, or null; a pending row with one runs after it. */
  inFlightGeneration: number | null;
  attempts: number;
  nextAttemptAt: number;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  bytesDone: number;
  bytesTotal: number;
  size: number;
  mtimeMs: number;
  contentHash: string | null;
  blocks: string[] | null;
  baseRevision: string | null;
  /** A move: the path the server moves to this one (docs/conflict-rules.md, "Pushing a move"). */
  moveFrom: string | null;
  /** The content hash moveFrom had synced; when the snapshot differs (or this is null) an upload follows the move. */
  moveHash: string | null;
  /**
   * A change that makes this path (a create, or a move to it) was sent from this row without an
   * answer settling it yet: it may be on the server (docs/conflict-rules.md, "A move sent without an answer").
   */
  createSent: boolean;
  enqueuedAt: number;
  updatedAt: number;
}

/** A claimed item and its folder: where its bytes are read, where its change goes. */
export interface ClaimedItem extends QueueItem {
  folder: Pick<Folder, 'localRoot' | 'remoteId'>;
}

/** What a pusher holds after claim: enough to report back on exactly that generation. */
export type ClaimRef = Pick<QueueItem, 'id' | 'generation' | 'op'>;

export type CompleteOutcome = 'done' | 'superseded' | 'gone';
export type FailOutcome = 'retry_wait' | 'failed' | 'superseded' | 'gone';
export type WaitOutcome = 'retry_wait' | 'superseded' | 'gone';
export type RetryNowOutcome = 'in_flight' | 'superseded' | 'gone';

export interface ListQuery {
  state?: QueueState;
  folderId?: string;
  /** Keyset paging: items with id greater than this. */
  afterId?: number;
  limit?: number;
}

export interface ListPage {
  items: QueueItem[];
  /** Pass as afterId for the next page; null on the last page. */
  nextAfterId: number | null;
}

/**
 * The queue table alone. A change is queued, completed or refused through the path state
 * (`path-state.ts`), which owns each path's sync state.
 */
export interface QueueRepo {
  /**
   * Due items (pending, or retry_wait whose time came) of folders in state ok, now in flight,
   * each with its folder's row as the claim read it.
   */
  claim(options: { limit: number; folderId?: string }): ClaimedItem[];
  /** retryAt: when to try again; null fails the item for good (until retry()). */
  fail(ref: ClaimRef, error: { code: string; message: string }, retryAt: number | null): FailOutcome;
  /**
   * A held item's request failed and will be tried again in place at `retryAt`: it shows
   * as retry_wait with that time and the error, and the pusher keeps its hold, so claim()
   * never hands it (or a newer generation of its path) to anyone else meanwhile. A stale
   * generation is left alone ('superseded'): the newer one still waits behind the hold.
   */
  waitRetry(ref: ClaimRef, error: { code: string; message: string }, retryAt: number): WaitOutcome;
  /** The wait of a held item is over: in_flight again, one more attempt. */
  retryNow(ref: ClaimRef): RetryNowOutcome;
  progress(ref: ClaimRef, bytesDone: number): void;
  /** Back to pending now, attempts reset: the UI's Retry action (not for an item a pusher holds). */
  retry(id: number): boolean;
  /** Every failed item (of a folder) back to pending now, and those waiting for their folder to be made (`folder_not_made`). */
  retryAllFailed(folderId?: string): number;
  /** The folders holding items failed for good with this error code. */
  foldersFailedWith(code: string): string[];
  /**
   * Conflicts of a folder recorded before `recordedBefore` that wait for their recheck: due
   * now. A pull of the folder that applied what the server had since has settled them or
   * made their answer different (docs/conflict-rules.md, "Conflicts that wait").
   */
  recheckConflicts(folderId: string, recordedBefore: number): number;
  /** At start-up: in-flight items not held by a persisted async task run again. */
  recoverInFlight(): number;
  get(id: number): QueueItem | undefined;
  /** True when a change of something below dir is queued and not done. */
  hasLiveUnder(folderId: string, dir: string): boolean;
  /** Drops the path's queued change if it is not done and not in flight (its content moved into a move). */
  discard(folderId: string, path: string): boolean;
  getByPath(folderId: string, path: string): QueueItem | undefined;
  /** The live move that takes `path`, or a folder above it, elsewhere (not landed yet). */
  movingAway(folderId: string, path: string): QueueItem | undefined;
  /**
   * The change the path's queued change waits for by the claim's order rules (S23, S24, P7):
   * one that failed for good first, as that one waits for the user. For `why`, not the claim.
   */
  heldBehind(folderId: string, path: string): QueueItem | undefined;
  list(query?: ListQuery): ListPage;
  /**
   * Offset paging with the total, for a UI that scrolls to any row of a long list. What needs
   * looking at comes first: in flight, failed, waiting to retry, pending (oldest first), then
   * done (newest first).
   */
  page(query: { state?: QueueState; folderId?: string; offset: number; limit: number }): { items: QueueItem[]; total: number };
  countsByState(folderId?: string): Record<QueueState, number>;
  /** Pending deletes of a folder, for the mass-delete guard. */
  countPendingDeletes(folderId: string): number;
  /** How many of `paths` have a delete queued and not sent yet (pending, in flight, waiting to retry). */
  countDeletesOnTheirWay(folderId: string, paths: readonly string[]): number;
  /** Bytes still to upload: pending and in-flight upserts, less what is already sent. */
  pendingBytes(folderId?: string): number;
  /** A held mass delete the user cancelled: drops the deletes not yet sent, returning their paths and kinds. */
  dropPendingDeletes(folderId: string): { path: string; kind: 'file' | 'dir' }[];
  /**
   * The pull settled this path (recorded it as synced or queued a change of it) while a
   * generation of it is in flight: that commit's answer, when it comes, is older than what
   * the pull saw, so complete() neither records its revision nor rebases the pull's change.
   */
  markPulled(folderId: string, path: string): void;
  /** The pull saw this device's in-flight commit land after it settled the path: undoes markPulled. */
  clearPulled(folderId: string, path: string): void;
  /** Deletes done rows updated before `updatedBefore`, keeping the newest `keepNewest` of them. */
  pruneDone(updatedBefore: number, keepNewest?: number): number;
}

/**
 * Done rows are the queue window's history; they are pruned as items complete, so the table
 * stays bounded: at most `keep` of them (plus a tenth, between prunes), and none younger
 * than `minAgeMs` is removed (a late answer for a just-finished item still finds its row).
 * Beyond the bound: the done deletes a held bulk delete's window holds (recent_deletes).
 */
export interface DoneHistory {
  keep: number;
  minAgeMs: number;
}

export const DEFAULT_DONE_HISTORY: DoneHistory = { keep: 10_000, minAgeMs: 60 * 60_000 };

export interface QueueRow {
  id: number;
  folder_id: string;
  path: string;
  kind: EntryKind;
  op: QueueOp;
  state: QueueState;
  priority: number;
  generation: number;
  in_flight_generation: number | null;
  /** The generation that was in flight when the pull last settled the path (markPulled). */
  pulled_during: number | null;
  attempts: number;
  next_attempt_at: number;
  last_error_code: string | null;
  last_error_message: string | null;
  bytes_done: number;
  bytes_total: number;
  size: number;
  mtime_ms: number;
  content_hash: string | null;
  blocks: string | null;
  base_revision: string | null;
  move_from: string | null;
  move_hash: string | null;
  /** 1 once a create (an upsert on no base; migration 10) or a move (migration 12) was claimed from this row while it stayed live. */
  create_sent: number;
  enqueued_at: number;
  updated_at: number;
}

/**
 * The claim's order rules, as SQL on a live row `q` and another live row `b` of its folder: true
 * when q waits for b. The claim sends no q for which such a b exists; `heldBehind` names the b.
 */
// S23: a file that replaced a folder goes once the deletes below it have, and so does that
// file's delete (the server replaces or deletes only an empty folder).
const waitsForDeleteBelow = (q: string, b: string) =>
  `${q}.kind = 'file' AND ${b}.op = 'delete' AND ${b}.path > ${q}.path || '/' AND ${b}.path < ${q}.path || '0'`;
// S24: what is below a folder that replaced a file (its upsert builds on a revision) waits for
// that upsert (the server refuses anything below a live file); one that failed for good holds
// nothing back, so what is below shows its own reason. The terms of queue_live_dir_replacements.
const waitsForFolderAbove = (q: string, b: string) =>
  `${b}.kind = 'dir' AND ${b}.op = 'upsert' AND ${b}.base_revision IS NOT NULL AND ${b}.state <> 'failed' AND ${q}.path > ${b}.path || '/' AND ${q}.path < ${b}.path || '0'`;
// P7: what touches either path of a move that has not landed waits for it (b's own path, the
// same as q's, is another row's only in the claim's reading: the path is unique per folder).
const waitsForMove = (q: string, b: string) =>
  `${b}.move_from IS NOT NULL AND (${q}.path = ${b}.path OR (${q}.path > ${b}.path || '/' AND ${q}.path < ${b}.path || '0')
    OR ${q}.path = ${b}.move_from OR (${q}.path > ${b}.move_from || '/' AND ${q}.path < ${b}.move_from || '0'))`;

/** A due row as the claim reads it: with its folder's root and server id. */
type DueRow = QueueRow & { folder_root: string; folder_remote_id: string };

const toItem = (r: QueueRow): QueueItem => ({
  id: r.id,
  folderId: r.folder_id,
  path: r.path,
  kind: r.kind,
  op: r.op,
  state: r.state,
  priority: r.priority,
  generation: r.generation,
  inFlightGeneration: r.in_flight_generation,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastErrorCode: r.last_error_code,
  lastErrorMessage: r.last_error_message,
  bytesDone: r.bytes_done,
  bytesTotal: r.bytes_total,
  size: r.size,
  mtimeMs: r.mtime_ms,
  contentHash: r.content_hash,
  blocks: r.blocks === null ? null : (JSON.parse(r.blocks) as string[]),
  baseRevision: r.base_revision,
  moveFrom: r.move_from,
  moveHash: r.move_hash,
  createSent: r.create_sent === 1,
  enqueuedAt: r.enqueued_at,
  updatedAt: r.updated_at,
});

/**
 * Lower runs first. Directories are created parents first and removed children first,
 * and file deletes run after uploads (a moved file's new copy lands before the old goes).
 */
export function priorityOf(kind: EntryKind, op: QueueOp, path: string, move = false): number {
  const depth = Math.min(path.split('/').length, 999);
  // A move goes with the directory creations (after its new parent, before what is put in it).
  if (op === 'upsert') return kind === 'dir' || move ? depth : 1000;
  return kind === 'file' ? 2000 : 3000 + (999 - depth);
}

/** The change a row holds (its move left out): what goes up when the move will not. */
export const changeOf = (row: QueueRow): Change => ({
  folderId: row.folder_id,
  path: row.path,
  kind: row.kind,
  op: row.op,
  size: row.size,
  mtimeMs: row.mtime_ms,
  contentHash: row.content_hash,
  blocks: row.blocks === null ? null : (JSON.parse(row.blocks) as string[]),
  baseRevision: row.base_revision,
});

/** A change not done and not held by a pusher. */
export const liveIdle = (row: QueueRow | undefined): row is QueueRow => row !== undefined && row.state !== 'done' && row.in_flight_generation === null;

/** What a replace keeps from the row instead of taking it from the change (a move carried on, P2/P5). */
export interface ChangeKeep {
  baseRevision: string | null;
  moveFrom: string | null;
  moveHash: string | null;
}

/**
 * Row-level access for `path-state.ts`, which owns each path's sync state; nothing else uses it.
 */
export interface QueueRows {
  byId(id: number): QueueRow | undefined;
  byPath(folderId: string, path: string): QueueRow | undefined;
  insert(change: Change, now: number): void;
  /** The path's newer change: a new generation, pending, attempts and progress reset. */
  replace(id: number, change: Change, now: number, keep?: ChangeKeep): void;
  remove(id: number): void;
  rebase(id: number, baseRevision: string | null): void;
  releaseHold(id: number, now: number): void;
  /** Done; done rows are pruned to the bounded history now and then. */
  markDone(id: number, now: number): void;
  /** The move the row carried landed: the change after it waits, on the move's revision (P2, P5). */
  afterMove(id: number, revision: string | null, now: number): void;
  /** The move the row carried landed and a newer generation waits: it no longer carries it. */
  moveDone(id: number): void;
  /** Live rows strictly below dir, in path order. */
  liveUnder(folderId: string, dir: string): QueueRow[];
  /** Live moves whose source is strictly below dir. */
  movesFromUnder(folderId: string, dir: string): QueueRow[];
  rewriteMoveFrom(id: number, from: string): void;
  /** P9: changes queued at a moved entry's new path, or moving it on, on the revision the move replaced. */
  rebaseMoved(folderId: string, path: string, from: string, revision: string): void;
}

const MAX_PAGE = 1000;

export function queueStore(db: Db, clock: Clock = systemClock, history: DoneHistory = DEFAULT_DONE_HISTORY): { repo: QueueRepo; rows: QueueRows } {
  const byId = db.prepare<[number], QueueRow>(`SELECT * FROM queue WHERE id = ?`);
  const byPath = db.prepare<[string, string], QueueRow>(`SELECT * FROM queue WHERE folder_id = ? AND path = ?`);
  // On the partial index of live moves (few rows): a move of the path itself, or of a folder above it.
  const movingAwayRow = db.prepare<{ folderId: string; path: string }, QueueRow>(`
    SELECT * FROM queue WHERE folder_id = @folderId AND move_from IS NOT NULL AND state <> 'done'
      AND (move_from = @path OR (@path > move_from || '/' AND @path < move_from || '0'))
    ORDER BY length(move_from) DESC LIMIT 1`);
  // The claim's order rules from the held row's side: the first live row q waits for.
  const heldBehindRow = db.prepare<{ folderId: string; path: string }, QueueRow>(`
    SELECT b.* FROM queue q JOIN queue b ON b.folder_id = q.folder_id AND b.id <> q.id AND b.state <> 'done'
    WHERE q.folder_id = @folderId AND q.path = @path AND q.state <> 'done'
      AND ((${waitsForDeleteBelow('q', 'b')}) OR (${waitsForFolderAbove('q', 'b')}) OR (${waitsForMove('q', 'b')}))
    ORDER BY b.state = 'failed' DESC, b.id LIMIT 1`);
  const insert = db.prepare(`
    INSERT INTO queue (folder_id, path, kind, op, state, priority, generation, attempts, next_attempt_at,
                       bytes_total, size, mtime_ms, content_hash, blocks, base_revision, move_from, move_hash, enqueued_at, updated_at)
    VALUES (@folderId, @path, @kind, @op, 'pending', @priority, 1, 0, @now,
            @bytesTotal, @size, @mtimeMs, @contentHash, @blocks, @baseRevision, @moveFrom, @moveHash, @now, @now)`);
  // A replaced change starts over: fresh attempts, no error, no progress.
  // create_sent survives a replace of a live row (a create sent, then edited); a done row starts afresh.
  const replace = db.prepare(`
    UPDATE queue SET kind = @kind, op = @op, state = 'pending', priority = @priority, generation = generation + 1,
      create_sent = CASE WHEN state = 'done' THEN 0 ELSE create_sent END,
      attempts = 0, next_attempt_at = @now, last_error_code = NULL, last_error_message = NULL,
      bytes_done = 0, bytes_total = @bytesTotal, size = @size, mtime_ms = @mtimeMs, content_hash = @contentHash,
      blocks = @blocks, base_revision = @baseRevision, move_from = @moveFrom, move_hash = @moveHash, enqueued_at = @now, updated_at = @now
    WHERE id = @id`);
  const deleteRow = db.prepare(`DELETE FROM queue WHERE id = ?`);
  // Due rows of one state, in claim order. One state at a time, so that the order is read off
  // queue_due and the scan stops at the limit: with both states in one query SQLite sorted
  // every pending row at each claim (10,000 queued: a few ms a claim, hundreds of claims).
  const deletesOnTheirWay = db
    .prepare<[string, string], number>(
      `SELECT count(*) FROM json_each(?) j JOIN queue q ON q.folder_id = ? AND q.path = j.value WHERE q.op = 'delete' AND q.state IN ('pending', 'in_flight', 'retry_wait')`,
    )
    .pluck();
  const dueIn = (state: 'pending' | 'retry_wait') =>
    db.prepare<{ now: number; limit: number; folderId: string | null }, DueRow>(`
    SELECT q.*, f.local_root AS folder_root, f.remote_id AS folder_remote_id FROM queue q JOIN folders f ON f.id = q.folder_id AND f.state = 'ok'
    WHERE q.in_flight_generation IS NULL AND q.state = '${state}'${state === 'retry_wait' ? ' AND q.next_attempt_at <= @now' : ''}
      AND (@folderId IS NULL OR q.folder_id = @folderId)
      -- One subquery per rule, each on its own index (the path's range, queue_live_dir_replacements, queue_live_moves).
      AND NOT EXISTS (SELECT 1 FROM queue c WHERE c.folder_id = q.folder_id AND c.state <> 'done' AND ${waitsForDeleteBelow('q', 'c')})
      AND NOT EXISTS (SELECT 1 FROM queue r WHERE r.folder_id = q.folder_id AND r.state <> 'done' AND ${waitsForFolderAbove('q', 'r')})
      AND NOT EXISTS (SELECT 1 FROM queue m WHERE m.folder_id = q.folder_id AND m.state <> 'done' AND m.id <> q.id AND ${waitsForMove('q', 'm')})
    ORDER BY q.priority, q.next_attempt_at, q.id
    LIMIT @limit`);
  const duePending = dueIn('pending');
  const dueRetry = dueIn('retry_wait');
  const claimOrder = (a: DueRow, b: DueRow) => a.priority - b.priority || a.next_attempt_at - b.next_attempt_at || a.id - b.id;
  /** The first `limit` due rows of both states, in claim order (priority, next attempt, id). */
  const due = (params: { now: number; limit: number; folderId: string | null }): DueRow[] => {
    const retry = dueRetry.all(params);
    const pending = duePending.all(params);
    return retry.length === 0 ? pending : [...pending, ...retry].sort(claimOrder).slice(0, params.limit);
  };
  // The rows of one claim in one statement (ids as a JSON array): a statement each cost more.
  const markInFlight = db.prepare(`
    UPDATE queue SET state = 'in_flight', in_flight_generation = generation, attempts = attempts + 1,
      create_sent = CASE WHEN (op = 'upsert' AND base_revision IS NULL) OR move_from IS NOT NULL THEN 1 ELSE create_sent END, updated_at = ?
    WHERE id IN (SELECT value FROM json_each(?))`);
  const releaseHold = db.prepare(`UPDATE queue SET in_flight_generation = NULL, updated_at = ? WHERE id = ?`);
  // On queue_by_state: only the failed rows are read.
  const foldersFailedWith = db.prepare<[string], { folder_id: string }>(`SELECT DISTINCT folder_id FROM queue WHERE state = 'failed' AND last_error_code = ?`);
  const markDone = db.prepare(`
    UPDATE queue SET state = 'done', in_flight_generation = NULL, bytes_done = bytes_total,
      last_error_code = NULL, last_error_message = NULL, updated_at = ? WHERE id = ?`);
  const rebase = db.prepare(`UPDATE queue SET base_revision = ? WHERE id = ?`);
  const moveDone = db.prepare(`UPDATE queue SET move_from = NULL, move_hash = NULL WHERE id = ?`);
  const liveUnderOne = db.prepare<[string, string, string], { id: number }>(`SELECT id FROM queue WHERE folder_id = ? AND path > ? AND path < ? AND state <> 'done' LIMIT 1`);
  const liveUnder = db.prepare<[string, string, string], QueueRow>(`SELECT * FROM queue WHERE folder_id = ? AND path > ? AND path < ? AND state <> 'done' ORDER BY path`);
  // Two statements, each on its index: one `path = ? OR move_from = ?` read every row of the
  // folder, once per moved entry (a 10,000-file folder move held the agent 25 s).
  const movedQueueBase = db.prepare(`UPDATE queue SET base_revision = @revision WHERE folder_id = @folderId AND path = @path AND state <> 'done' AND base_revision = @from`);
  const movesFromUnder = db.prepare<[string, string, string], QueueRow>(`SELECT * FROM queue WHERE folder_id = ? AND move_from > ? AND move_from < ? AND state <> 'done'`);
  const rewriteMoveFrom = db.prepare(`UPDATE queue SET move_from = ? WHERE id = ?`);
  const movedMoveBase = db.prepare(`UPDATE queue SET base_revision = @revision WHERE folder_id = @folderId AND move_from = @path AND state <> 'done' AND base_revision = @from`);
  // P2: the move landed, the bytes at its path are not the ones moved: they go up on the move's revision.
  // The move a row carried landed: what waits is the change after it, on the move's revision (an
  // upload, first in line with its bytes to send again; or a delete, P5).
  const afterMove = db.prepare(`
    UPDATE queue SET state = 'pending', in_flight_generation = NULL, generation = generation + 1, move_from = NULL, move_hash = NULL,
      base_revision = @revision, attempts = 0, next_attempt_at = @now, last_error_code = NULL, last_error_message = NULL, updated_at = @now,
      priority = CASE WHEN op = 'upsert' THEN 1000 ELSE priority END,
      bytes_done = CASE WHEN op = 'upsert' THEN 0 ELSE bytes_done END,
      bytes_total = CASE WHEN op = 'upsert' THEN size ELSE bytes_total END
    WHERE id = @id`);
  const clearPulled = db.prepare(`UPDATE queue SET pulled_during = NULL WHERE folder_id = ? AND path = ?`);
  const markPulled = db.prepare(
    `UPDATE queue SET pulled_during = in_flight_generation WHERE folder_id = ? AND path = ? AND in_flight_generation IS NOT NULL`,
  );
  const markFailed = db.prepare(`
    UPDATE queue SET state = @state, in_flight_generation = NULL, next_attempt_at = @nextAttemptAt,
      last_error_code = @code, last_error_message = @message, updated_at = @now WHERE id = @id`);
  const markWaiting = db.prepare(`
    UPDATE queue SET state = 'retry_wait', next_attempt_at = @nextAttemptAt, last_error_code = @code,
      last_error_message = @message, updated_at = @now WHERE id = @id`);
  const markRetrying = db.prepare(`
    UPDATE queue SET state = 'in_flight', attempts = attempts + 1, updated_at = ? WHERE id = ?`);
  const setProgress = db.prepare(
    `UPDATE queue SET bytes_done = ?, updated_at = ? WHERE id = ? AND in_flight_generation = ?`,
  );
  const retryOne = db.prepare(`
    UPDATE queue SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?
    WHERE id = ? AND state IN ('failed', 'retry_wait') AND in_flight_generation IS NULL`);
  const retryFailed = db.prepare(`
    UPDATE queue SET state = 'pending', attempts = 0, next_attempt_at = @now, updated_at = @now
    WHERE (state = 'failed' OR (state = 'retry_wait' AND last_error_code = 'folder_not_made')) AND (@folderId IS NULL OR folder_id = @folderId)`);
  const recheck = db.prepare(`
    UPDATE queue SET next_attempt_at = @now
    WHERE folder_id = @folderId AND state = 'retry_wait' AND last_error_code = 'conflict' AND in_flight_generation IS NULL
      AND next_attempt_at > @now AND updated_at <= @recordedBefore`);
  const recover = db.prepare(`
    UPDATE queue SET in_flight_generation = NULL,
      state = CASE WHEN state = 'in_flight' THEN 'pending' ELSE state END, updated_at = ?
    WHERE in_flight_generation IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM async_task_items t
                      WHERE t.queue_id = queue.id AND t.generation = queue.in_flight_generation)`);
  const page = db.prepare<{ state: string | null; folderId: string | null; afterId: number; limit: number }, QueueRow>(`
    SELECT * FROM queue
    WHERE id > @afterId AND (@state IS NULL OR state = @state) AND (@folderId IS NULL OR folder_id = @folderId)
    ORDER BY id LIMIT @limit`);
  const offsetPage = db.prepare<{ state: string | null; folderId: string | null; offset: number; limit: number }, QueueRow>(`
    SELECT * FROM queue
    WHERE (@state IS NULL OR state = @state) AND (@folderId IS NULL OR folder_id = @folderId)
    ORDER BY CASE state WHEN 'in_flight' THEN 0 WHEN 'failed' THEN 1 WHEN 'retry_wait' THEN 2 WHEN 'pending' THEN 3 ELSE 4 END,
      CASE WHEN state = 'done' THEN -updated_at ELSE id END, id
    LIMIT @limit OFFSET @offset`);
  const filteredCount = db.prepare<{ state: string | null; folderId: string | null }, { n: number }>(`
    SELECT count(*) AS n FROM queue WHERE (@state IS NULL OR state = @state) AND (@folderId IS NULL OR folder_id = @folderId)`);
  const counts = db.prepare<{ folderId: string | null }, { state: QueueState; n: number }>(`
    SELECT state, count(*) AS n FROM queue WHERE (@folderId IS NULL OR folder_id = @folderId) GROUP BY state`);
  const pendingDeletes = db.prepare<[string], { n: number }>(
    `SELECT count(*) AS n FROM queue WHERE folder_id = ? AND op = 'delete' AND state <> 'done'`,
  );
  const bytesLeft = db.prepare<{ folderId: string | null }, { n: number | null }>(`
    SELECT sum(bytes_total - bytes_done) AS n FROM queue
    WHERE op = 'upsert' AND state IN ('pending', 'in_flight', 'retry_wait') AND (@folderId IS NULL OR folder_id = @folderId)`);
  // A delete waiting behind an upload of its path still in flight goes too: that upload's answer
  // then finds the row gone, and nothing is left to release (docs/conflict-rules.md, local deletes: cancel).
  const dropDeletes = db.prepare<[string], { path: string; kind: 'file' | 'dir' }>(
    `DELETE FROM queue WHERE folder_id = ? AND op = 'delete' AND state IN ('pending', 'retry_wait', 'failed') RETURNING path, kind`,
  );
  // A done delete a held bulk delete's window holds stays: it tells a delete that had gone to the
  // server from a held one, and Cancel restores what it finds (docs/conflict-rules.md, local
  // deletes). Only while held: a folder syncing as usual drops its window's rows lazily.
  const prune = db.prepare<{ before: number; keep: number }>(`
    DELETE FROM queue WHERE state = 'done' AND updated_at < @before AND id NOT IN (
      SELECT id FROM queue WHERE state = 'done' ORDER BY updated_at DESC, id DESC LIMIT @keep)
      AND NOT (op = 'delete'
        AND EXISTS (SELECT 1 FROM folders f WHERE f.id = queue.folder_id AND f.state = 'paused_mass_delete')
        AND EXISTS (SELECT 1 FROM recent_deletes r WHERE r.folder_id = queue.folder_id AND r.path = queue.path))`);
  const pruneDone = (before: number, keep = 0) => prune.run({ before, keep }).changes;
  // Counted on queue_by_state alone: the prune sorts every done row, and has nothing to take
  // while they are within the bound (a 10,000-file push paid 3 ms ten times for nothing).
  const doneCount = db.prepare<[], number>(`SELECT count(*) FROM queue WHERE state = 'done'`).pluck();
  // Prune once per tenth of the bound of completions, not on every one.
  const pruneEvery = Math.max(1, Math.floor(history.keep / 10));
  let doneSincePrune = 0;

  const snapshot = (change: Change, now: number, id?: number) => ({
    id,
    folderId: change.folderId,
    path: change.path,
    kind: change.kind,
    op: change.op,
    priority: priorityOf(change.kind, change.op, change.path, Boolean(change.moveFrom)),
    // A move uploads nothing (what follows it is counted when it becomes an upload).
    bytesTotal: change.op === 'upsert' && !change.moveFrom ? (change.size ?? 0) : 0,
    size: change.size ?? 0,
    mtimeMs: change.mtimeMs ?? 0,
    contentHash: change.contentHash ?? null,
    blocks: change.blocks ? JSON.stringify(change.blocks) : null,
    baseRevision: change.baseRevision,
    moveFrom: change.op === 'upsert' ? (change.moveFrom ?? null) : null,
    moveHash: change.op === 'upsert' ? (change.moveHash ?? null) : null,
    now,
  });

  const claim = db.transaction((options: { limit: number; folderId?: string }): ClaimedItem[] => {
    const now = clock();
    const rows = due({ now, limit: options.limit, folderId: options.folderId ?? null });
    if (rows.length > 0) markInFlight.run(now, JSON.stringify(rows.map((row) => row.id)));
    return rows.map((row) => ({
      ...toItem({ ...row, state: 'in_flight', in_flight_generation: row.generation, attempts: row.attempts + 1, updated_at: now }),
      folder: { localRoot: row.folder_root, remoteId: row.folder_remote_id },
    }));
  });

  const fail = db.transaction(
    (ref: ClaimRef, error: { code: string; message: string }, retryAt: number | null): FailOutcome => {
      const row = byId.get(ref.id);
      if (!row) return 'gone';
      const now = clock();
      if (row.generation !== ref.generation) {
        if (row.in_flight_generation === ref.generation) releaseHold.run(now, row.id);
        return 'superseded';
      }
      // The pull saw this very commit land (O1) and completed it: whatever went wrong with the
      // answer, the change is on the server.
      if (row.state === 'done') return 'superseded';
      const state = retryAt === null ? 'failed' : 'retry_wait';
      markFailed.run({ id: row.id, state, nextAttemptAt: retryAt ?? now, code: error.code, message: error.message, now });
      return state;
    },
  );

  const held = (ref: ClaimRef): QueueRow | 'superseded' | 'gone' => {
    const row = byId.get(ref.id);
    if (!row) return 'gone';
    return row.generation === ref.generation && row.in_flight_generation === ref.generation ? row : 'superseded';
  };

  const waitRetry = db.transaction((ref: ClaimRef, error: { code: string; message: string }, retryAt: number): WaitOutcome => {
    const row = held(ref);
    if (typeof row === 'string') return row;
    markWaiting.run({ id: row.id, nextAttemptAt: retryAt, code: error.code, message: error.message, now: clock() });
    return 'retry_wait';
  });

  const retryNow = db.transaction((ref: ClaimRef): RetryNowOutcome => {
    const row = held(ref);
    if (typeof row === 'string') return row;
    markRetrying.run(clock(), row.id);
    return 'in_flight';
  });

  const rows: QueueRows = {
    byId: (id) => byId.get(id),
    byPath: (folderId, path) => byPath.get(folderId, path),
    insert: (change, now) => void insert.run(snapshot(change, now)),
    replace: (id, change, now, keep) => void replace.run({ ...snapshot(change, now, id), ...(keep ?? {}) }),
    remove: (id) => void deleteRow.run(id),
    rebase: (id, baseRevision) => void rebase.run(baseRevision, id),
    releaseHold: (id, now) => void releaseHold.run(now, id),
    markDone(id, now) {
      markDone.run(now, id);
      if (++doneSincePrune >= pruneEvery) {
        doneSincePrune = 0;
        if (doneCount.get()! > history.keep) pruneDone(now - history.minAgeMs, history.keep);
      }
    },
    afterMove: (id, revision, now) => void afterMove.run({ id, revision, now }),
    moveDone: (id) => void moveDone.run(id),
    liveUnder: (folderId, dir) => liveUnder.all(folderId, ...underBoundsOf(dir)),
    movesFromUnder: (folderId, dir) => movesFromUnder.all(folderId, ...underBoundsOf(dir)),
    rewriteMoveFrom: (id, from) => void rewriteMoveFrom.run(from, id),
    rebaseMoved(folderId, path, from, revision) {
      const at = { folderId, path, from, revision };
      movedQueueBase.run(at);
      movedMoveBase.run(at);
    },
  };

  const repo: QueueRepo = {
    claim: (options) => claim(options),
    fail: (ref, error, retryAt) => fail(ref, error, retryAt),
    waitRetry: (ref, error, retryAt) => waitRetry(ref, error, retryAt),
    retryNow: (ref) => retryNow(ref),
    progress: (ref, bytesDone) => void setProgress.run(bytesDone, clock(), ref.id, ref.generation),
    retry(id) {
      const now = clock();
      return retryOne.run(now, now, id).changes > 0;
    },
    retryAllFailed: (folderId) => retryFailed.run({ now: clock(), folderId: folderId ?? null }).changes,
    foldersFailedWith: (code) => foldersFailedWith.all(code).map((r) => r.folder_id),
    recheckConflicts: (folderId, recordedBefore) => recheck.run({ now: clock(), folderId, recordedBefore }).changes,
    recoverInFlight: () => recover.run(clock()).changes,
    markPulled: (folderId, path) => void markPulled.run(folderId, path),
    clearPulled: (folderId, path) => void clearPulled.run(folderId, path),
    hasLiveUnder: (folderId, dir) => liveUnderOne.get(folderId, ...underBoundsOf(dir)) !== undefined,
    discard(folderId, path) {
      const row = byPath.get(folderId, path);
      if (!liveIdle(row)) return false;
      deleteRow.run(row.id);
      return true;
    },
    get(id) {
      const row = byId.get(id);
      return row ? toItem(row) : undefined;
    },
    getByPath(folderId, path) {
      const row = byPath.get(folderId, path);
      return row ? toItem(row) : undefined;
    },
    movingAway(folderId, path) {
      const row = movingAwayRow.get({ folderId, path });
      return row ? toItem(row) : undefined;
    },
    heldBehind(folderId, path) {
      const row = heldBehindRow.get({ folderId, path });
      return row ? toItem(row) : undefined;
    },
    list(query = {}) {
      const limit = Math.max(1, Math.min(query.limit ?? 100, MAX_PAGE));
      const rows = page.all({
        state: query.state ?? null,
        folderId: query.folderId ?? null,
        afterId: query.afterId ?? 0,
        limit: limit + 1,
      });
      const more = rows.length > limit;
      const items = rows.slice(0, limit).map(toItem);
      return { items, nextAfterId: more ? (items.at(-1)?.id ?? null) : null };
    },
    page({ state, folderId, offset, limit }) {
      const filter = { state: state ?? null, folderId: folderId ?? null };
      const rows = offsetPage.all({ ...filter, offset: Math.max(0, offset), limit: Math.max(1, Math.min(limit, MAX_PAGE)) });
      return { items: rows.map(toItem), total: filteredCount.get(filter)?.n ?? 0 };
    },
    countsByState(folderId) {
      const result: Record<QueueState, number> = { pending: 0, in_flight: 0, retry_wait: 0, failed: 0, done: 0 };
      for (const { state, n } of counts.all({ folderId: folderId ?? null })) result[state] = n;
      return result;
    },
    countPendingDeletes: (folderId) => pendingDeletes.get(folderId)?.n ?? 0,
    countDeletesOnTheirWay: (folderId, paths) => (paths.length === 0 ? 0 : deletesOnTheirWay.get(JSON.stringify(paths), folderId)!),
    pendingBytes: (folderId) => bytesLeft.get({ folderId: folderId ?? null })?.n ?? 0,
    dropPendingDeletes: (folderId) => dropDeletes.all(folderId),
    pruneDone,
  };
  return { repo, rows };
}
