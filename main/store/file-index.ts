import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Db } from './db';

import { underBounds, type EntryKind } from './keys';

export { underBounds, type EntryKind } from './keys';

/**
 * What the scanner saw on disk for one path, as the index records it (dirs carry size 0 and no
 * hashes). Not the pull's `LocalState` (pull/decide.ts), which is what the disk holds right now.
 */
export interface LocalRecord {
  folderId: string;
  /** Relative to the folder root, '/'-separated, NFC. */
  path: string;
  kind: EntryKind;
  size: number;
  mtimeMs: number;
  inode: number | null;
  contentHash: string | null;
  blocks: string[] | null;
  /** When the file was made, where the file system tells (statx); null or absent: not known. */
  birthtimeMs?: number | null;
}

export interface IndexEntry extends LocalRecord {
  /** The revision the server last accepted for this path; null when never synced. */
  syncedRevision: string | null;
  updatedAt: number;
  /**
   * Below a directory move not yet sent (P10): the entry's old path and the revision it had
   * there. Absent otherwise.
   */
  moveFrom?: string;
  moveBase?: string | null;
}

/** The few columns a reconcile compares, kept small because it holds one per file. */
export interface IndexStat {
  kind: EntryKind;
  size: number;
  mtimeMs: number;
  inode: number | null;
}

interface IndexRow {
  folder_id: string;
  path: string;
  kind: EntryKind;
  size: number;
  mtime_ms: number;
  inode: number | null;
  content_hash: string | null;
  blocks: string | null;
  synced_revision: string | null;
  updated_at: number;
  move_from: string | null;
  move_base: string | null;
  birthtime_ms: number | null;
}

const toEntry = (r: IndexRow): IndexEntry => ({
  folderId: r.folder_id,
  path: r.path,
  kind: r.kind,
  size: r.size,
  mtimeMs: r.mtime_ms,
  inode: r.inode,
  contentHash: r.content_hash,
  blocks: r.blocks === null ? null : (JSON.parse(r.blocks) as string[]),
  syncedRevision: r.synced_revision,
  updatedAt: r.updated_at,
  ...(r.move_from !== null ? { moveFrom: r.move_from, moveBase: r.move_base } : {}),
  ...(r.birthtime_ms !== null ? { birthtimeMs: r.birthtime_ms } : {}),
});


export interface FileIndexRepo {
  get(folderId: string, path: string): IndexEntry | undefined;
  /** Which of `paths` the folder holds here (one statement, however many). */
  present(folderId: string, paths: readonly string[]): string[];
  /** Records the local state, keeping the synced revision. */
  putLocal(state: LocalRecord): void;
  /** Records a full entry, revision included (the puller, after it wrote a file). */
  put(entry: Omit<IndexEntry, 'updatedAt'>): void;
  setSyncedRevision(folderId: string, path: string, revision: string | null): void;
  /** The same, only where the row holds `from` (a directory move's answer, P9: what it replaced). */
  replaceSyncedRevision(folderId: string, path: string, from: string, revision: string): void;
  /** The same for many paths in one statement (a directory move's entries: docs/conflict-rules.md, MD1). */
  setSyncedRevisions(folderId: string, revisions: ReadonlyArray<readonly [path: string, revision: string]>): void;
  remove(folderId: string, path: string): void;
  /** Entries with this inode (a path that appeared may be one of them renamed: docs/conflict-rules.md, "Detecting a move locally"). */
  byInode(folderId: string, inode: number): IndexEntry[];
  /** True when the index holds the path or anything below it. */
  holds(folderId: string, path: string): boolean;
  /** True when an entry strictly below dir has no synced revision and no pending move's (the server does not hold it). */
  holdsUnsyncedUnder(folderId: string, dir: string): boolean;
  /** A rename: the row of `from`, and every row below it, take the path `to` (revisions kept). */
  movePath(folderId: string, from: string, to: string): void;
  /**
   * A directory rename queued as a move (P1, P3): like movePath, and each entry below it keeps
   * its old path and revision (P10) until settleMoveSources.
   */
  movePathPending(folderId: string, from: string, to: string): void;
  /**
   * The move of `dir` is settled: landed or undone (false), or moved back before it went (true:
   * each entry takes its old revision again).
   */
  settleMoveSources(folderId: string, dir: string, movedBack: boolean): void;
  /**
   * The rows a rename of `from` to `to` carried that have left `to` since (moved on elsewhere),
   * with the old path and revision they kept (P10); their memory of it is cleared.
   */
  settleCarriedOut(folderId: string, from: string, to: string): IndexEntry[];
  /** Every entry strictly below dir ('' means the whole folder), deepest first. */
  listUnder(folderId: string, dir: string): IndexEntry[];
  /** Every entry strictly below dir, in path order (a folder before what it holds). */
  entriesUnder(folderId: string, dir: string): IndexEntry[];
  /** path → compact stat for the whole folder, for a reconcile. */
  snapshot(folderId: string): Map<string, IndexStat>;
  /** The same, one page at a time (paths after afterPath, in order), so callers can yield between pages. */
  snapshotPage(folderId: string, afterPath: string, limit: number): Array<[string, IndexStat]>;
  count(folderId: string): number;
  /** Files only (directories carry no bytes): what the mass-delete guard weighs deletes against. */
  countFiles(folderId: string): number;
  /** The folder's recorded files and their bytes (the folders view). */
  totals(folderId: string): { files: number; bytes: number };
  /**
   * Download intents (docs/conflict-rules.md, "Atomic writes"): written before a pulled file's
   * rename, removed with its index row; one left by a kill tells the scanner what that file is.
   */
  putIntent(intent: DownloadIntent): void;
  getIntent(folderId: string, path: string): DownloadIntent | undefined;
  /** The paths of a folder that hold an intent. */
  intentPaths(folderId: string): string[];
  removeIntent(folderId: string, path: string): void;
  /** The same for many paths in one statement. */
  removeIntents(folderId: string, paths: readonly string[]): void;
  /**
   * Files recorded as holding any of these blocks: path, size and the block's place in the file.
   * Reads every file row of the folder; for the rare lost block (docs/sync-api.md, "Lost blocks").
   */
  blockSources(folderId: string, hashes: readonly string[]): BlockSource[];
}

/** Where a block's bytes were when the file was last hashed: block `index` of the file at `path`. */
export interface BlockSource {
  hash: string;
  path: string;
  size: number;
  index: number;
}

/** A download about to be renamed into place (migration 5): what the file there will hold. */
export interface DownloadIntent {
  folderId: string;
  path: string;
  revision: string;
  size: number;
  contentHash: string;
  blocks: string[];
  /** The inode of the file the download was written to (renamed, the file keeps it); null: not known. */
  inode: number | null;
}

/**
 * What a file found at a left-over intent's path is (docs/conflict-rules.md, "Download
 * intents"): the download as placed (its bytes), the download changed in place since (its
 * inode, other bytes), or something else (null). The scan and the pull both ask this.
 */
export function intentMatch(intent: DownloadIntent, file: { size: number; inode: number | null; blocks: readonly string[] | null }): 'as placed' | 'changed since' | null {
  const { blocks } = file;
  if (file.size === intent.size && blocks !== null && blocks.length === intent.blocks.length && blocks.every((b, i) => b === intent.blocks[i])) return 'as placed';
  return intent.inode !== null && file.inode === intent.inode ? 'changed since' : null;
}

export function fileIndexRepo(db: Db, clock: Clock = systemClock): FileIndexRepo {
  const intentPut = db.prepare(`
    INSERT INTO download_intents (folder_id, path, revision, size, content_hash, blocks, inode, created_at)
    VALUES (@folderId, @path, @revision, @size, @contentHash, @blocks, @inode, @now)
    ON CONFLICT (folder_id, path) DO UPDATE SET revision = excluded.revision, size = excluded.size,
      content_hash = excluded.content_hash, blocks = excluded.blocks, inode = excluded.inode, created_at = excluded.created_at`);
  const intentGet = db.prepare<[string, string], { revision: string; size: number; content_hash: string; blocks: string; inode: number | null }>(
    `SELECT revision, size, content_hash, blocks, inode FROM download_intents WHERE folder_id = ? AND path = ?`,
  );
  const intentDel = db.prepare(`DELETE FROM download_intents WHERE folder_id = ? AND path = ?`);
  const intentList = db.prepare<[string], string>(`SELECT path FROM download_intents WHERE folder_id = ?`).pluck();
  const byPath = db.prepare<[string, string], IndexRow>(`SELECT * FROM file_index WHERE folder_id = ? AND path = ?`);
  const presentOf = db
    .prepare<[string, string], string>(`SELECT j.value FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM file_index WHERE folder_id = ? AND path = j.value)`)
    .pluck();
  const upsertLocal = db.prepare(`
    INSERT INTO file_index (folder_id, path, kind, size, mtime_ms, inode, content_hash, blocks, synced_revision, updated_at, birthtime_ms)
    VALUES (@folderId, @path, @kind, @size, @mtimeMs, @inode, @contentHash, @blocks, NULL, @now, @birthtimeMs)
    ON CONFLICT (folder_id, path) DO UPDATE SET
      kind = excluded.kind, size = excluded.size, mtime_ms = excluded.mtime_ms, inode = excluded.inode,
      content_hash = excluded.content_hash, blocks = excluded.blocks, updated_at = excluded.updated_at, birthtime_ms = excluded.birthtime_ms`);
  const upsertFull = db.prepare(`
    INSERT INTO file_index (folder_id, path, kind, size, mtime_ms, inode, content_hash, blocks, synced_revision, updated_at, birthtime_ms)
    VALUES (@folderId, @path, @kind, @size, @mtimeMs, @inode, @contentHash, @blocks, @syncedRevision, @now, @birthtimeMs)
    ON CONFLICT (folder_id, path) DO UPDATE SET
      kind = excluded.kind, size = excluded.size, mtime_ms = excluded.mtime_ms, inode = excluded.inode,
      content_hash = excluded.content_hash, blocks = excluded.blocks, birthtime_ms = excluded.birthtime_ms,
      synced_revision = excluded.synced_revision, updated_at = excluded.updated_at`);
  const setRev = db.prepare(`UPDATE file_index SET synced_revision = ?, updated_at = ? WHERE folder_id = ? AND path = ?`);
  // One statement for a list given as JSON ([[path, revision], …]). Materialized first: each pair
  // then finds its row by the primary key (joined directly, the list was scanned once per row).
  const setRevs = db.prepare(`
    WITH m(path, revision) AS MATERIALIZED (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))
    UPDATE file_index SET synced_revision = m.revision, updated_at = ? FROM m
    WHERE file_index.folder_id = ? AND file_index.path = m.path`);
  const sources = db.prepare<[string, string], BlockSource>(`
    SELECT b.value AS hash, f.path AS path, f.size AS size, CAST(b.key AS INTEGER) AS "index"
    FROM file_index f, json_each(f.blocks) b
    WHERE f.folder_id = ? AND f.kind = 'file' AND f.blocks IS NOT NULL AND b.value IN (SELECT value FROM json_each(?))
    ORDER BY f.path, b.key`);
  const intentsDel = db.prepare(`DELETE FROM download_intents WHERE folder_id = ? AND path IN (SELECT value FROM json_each(?))`);
  const del = db.prepare(`DELETE FROM file_index WHERE folder_id = ? AND path = ?`);
  const inodeRows = db.prepare<[string, number], IndexRow>(`SELECT * FROM file_index WHERE folder_id = ? AND inode = ?`);
  const holdsRow = db.prepare<[string, string, string, string], { n: number }>(
    `SELECT 1 AS n FROM file_index WHERE folder_id = ? AND (path = ? OR (path > ? AND path < ?)) LIMIT 1`,
  );
  const unsyncedUnder = db.prepare<[string, string, string], { n: number }>(
    `SELECT 1 AS n FROM file_index WHERE folder_id = ? AND path > ? AND path < ? AND synced_revision IS NULL AND move_base IS NULL LIMIT 1`,
  );
  const rekey = db.prepare(`
    UPDATE file_index SET path = @to || substr(path, length(@from) + 1), updated_at = @now
    WHERE folder_id = @folderId AND (path = @from OR (path > @from || '/' AND path < @from || '0'))`);
  // Column references on the right are the row's values before the update (SQLite).
  const rekeyPending = db.prepare(`
    UPDATE file_index SET path = @to || substr(path, length(@from) + 1), updated_at = @now,
      move_from = CASE WHEN path = @from THEN move_from ELSE coalesce(move_from, path) END,
      move_base = CASE WHEN path = @from OR move_from IS NOT NULL THEN move_base ELSE synced_revision END
    WHERE folder_id = @folderId AND (path = @from OR (path > @from || '/' AND path < @from || '0'))`);
  // One statement: path-state settles a move's sources when the move lands or is undone, the
  // scanner when it is moved back (P4, P10).
  const settleSources = db.prepare(`
    UPDATE file_index SET move_from = NULL, move_base = NULL,
      synced_revision = CASE WHEN @movedBack = 1 THEN move_base ELSE synced_revision END
    WHERE folder_id = @folderId AND path > @dir || '/' AND path < @dir || '0' AND move_from IS NOT NULL`);
  const carriedOut = db.prepare<{ folderId: string; from: string; to: string }, IndexRow>(`
    SELECT * FROM file_index WHERE folder_id = @folderId
      AND (move_from = @from OR (move_from > @from || '/' AND move_from < @from || '0'))
      AND path <> @to AND NOT (path > @to || '/' AND path < @to || '0')`);
  const forgetSource = db.prepare(`UPDATE file_index SET move_from = NULL, move_base = NULL WHERE folder_id = ? AND path = ?`);
  const under = db.prepare<[string, string, string], IndexRow>(
    `SELECT * FROM file_index WHERE folder_id = ? AND path > ? AND path < ? ORDER BY length(path) DESC, path`,
  );
  const underInOrder = db.prepare<[string, string, string], IndexRow>(`SELECT * FROM file_index WHERE folder_id = ? AND path > ? AND path < ? ORDER BY path`);
  const setRevFrom = db.prepare(`UPDATE file_index SET synced_revision = @revision, updated_at = @now WHERE folder_id = @folderId AND path = @path AND synced_revision = @from`);
  const all = db.prepare<[string], IndexRow>(`SELECT * FROM file_index WHERE folder_id = ? ORDER BY length(path) DESC, path`);
  const stats = db
    .prepare<[string], [string, EntryKind, number, number, number | null]>(
      `SELECT path, kind, size, mtime_ms, inode FROM file_index WHERE folder_id = ?`,
    )
    .raw();
  const statsPage = db
    .prepare<[string, string, number], [string, EntryKind, number, number, number | null]>(
      `SELECT path, kind, size, mtime_ms, inode FROM file_index WHERE folder_id = ? AND path > ? ORDER BY path LIMIT ?`,
    )
    .raw();
  const totalsOf = db.prepare<[string], { files: number; bytes: number | null }>(
    `SELECT count(*) AS files, sum(size) AS bytes FROM file_index WHERE folder_id = ? AND kind = 'file'`,
  );
  const countRows = db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM file_index WHERE folder_id = ?`);
  const countFileRows = db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM file_index WHERE folder_id = ? AND kind = 'file'`);

  const params = (s: LocalRecord) => ({
    folderId: s.folderId,
    path: s.path,
    kind: s.kind,
    size: s.size,
    mtimeMs: s.mtimeMs,
    inode: s.inode,
    contentHash: s.contentHash,
    blocks: s.blocks === null ? null : JSON.stringify(s.blocks),
    birthtimeMs: s.birthtimeMs ?? null,
    now: clock(),
  });

  return {
    putIntent: (i) => void intentPut.run({ ...i, blocks: JSON.stringify(i.blocks), now: clock() }),
    getIntent(folderId, path) {
      const row = intentGet.get(folderId, path);
      return row ? { folderId, path, revision: row.revision, size: row.size, contentHash: row.content_hash, blocks: JSON.parse(row.blocks) as string[], inode: row.inode } : undefined;
    },
    intentPaths: (folderId) => intentList.all(folderId),
    removeIntent: (folderId, path) => void intentDel.run(folderId, path),
    removeIntents: (folderId, paths) => void (paths.length > 0 && intentsDel.run(folderId, JSON.stringify(paths))),
    present: (folderId, paths) => (paths.length === 0 ? [] : presentOf.all(JSON.stringify(paths), folderId)),
    get(folderId, path) {
      const row = byPath.get(folderId, path);
      return row ? toEntry(row) : undefined;
    },
    putLocal: (state) => void upsertLocal.run(params(state)),
    put: (entry) => void upsertFull.run({ ...params(entry), syncedRevision: entry.syncedRevision }),
    setSyncedRevision: (folderId, path, revision) => void setRev.run(revision, clock(), folderId, path),
    setSyncedRevisions: (folderId, revisions) => void (revisions.length > 0 && setRevs.run(JSON.stringify(revisions), clock(), folderId)),
    replaceSyncedRevision: (folderId, path, from, revision) => void setRevFrom.run({ folderId, path, from, revision, now: clock() }),
    remove: (folderId, path) => void del.run(folderId, path),
    byInode: (folderId, inode) => inodeRows.all(folderId, inode).map(toEntry),
    holds: (folderId, path) => holdsRow.get(folderId, path, ...underBounds(path)) !== undefined,
    holdsUnsyncedUnder: (folderId, dir) => unsyncedUnder.get(folderId, ...underBounds(dir)) !== undefined,
    movePath: (folderId, from, to) => void rekey.run({ folderId, from, to, now: clock() }),
    movePathPending: (folderId, from, to) => void rekeyPending.run({ folderId, from, to, now: clock() }),
    settleMoveSources: (folderId, dir, movedBack) => void settleSources.run({ folderId, dir, movedBack: movedBack ? 1 : 0 }),
    settleCarriedOut(folderId, from, to) {
      const rows = carriedOut.all({ folderId, from, to });
      for (const r of rows) forgetSource.run(folderId, r.path);
      return rows.map(toEntry);
    },
    listUnder(folderId, dir) {
      if (dir === '') return all.all(folderId).map(toEntry);
      const [lo, hi] = underBounds(dir);
      return under.all(folderId, lo, hi).map(toEntry);
    },
    blockSources: (folderId, hashes) => (hashes.length === 0 ? [] : sources.all(folderId, JSON.stringify(hashes))),
    entriesUnder: (folderId, dir) => underInOrder.all(folderId, ...underBounds(dir)).map(toEntry),
    snapshot(folderId) {
      const map = new Map<string, IndexStat>();
      for (const [path, kind, size, mtimeMs, inode] of stats.iterate(folderId)) {
        map.set(path, { kind, size, mtimeMs, inode });
      }
      return map;
    },
    snapshotPage: (folderId, afterPath, limit) =>
      statsPage.all(folderId, afterPath, limit).map(([path, kind, size, mtimeMs, inode]) => [path, { kind, size, mtimeMs, inode }]),
    count: (folderId) => countRows.get(folderId)?.n ?? 0,
    countFiles: (folderId) => countFileRows.get(folderId)?.n ?? 0,
    totals: (folderId) => {
      const row = totalsOf.get(folderId);
      return { files: row?.files ?? 0, bytes: row?.bytes ?? 0 };
    },
  };
}
