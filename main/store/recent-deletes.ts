import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Db } from './db';
import type { EntryKind } from './file-index';

/** A path this disk deleted lately, with the synced version the delete removed. */
export interface RecentDelete {
  folderId: string;
  path: string;
  kind: EntryKind;
  /** The revision the server held when the delete was seen (null: never synced). */
  revision: string | null;
  size: number;
  mtimeMs: number;
  blocks: string[] | null;
  deletedAt: number;
}

interface RecentDeleteRow {
  folder_id: string;
  path: string;
  kind: EntryKind;
  revision: string | null;
  size: number;
  mtime_ms: number;
  blocks: string | null;
  deleted_at: number;
}

const toRecent = (r: RecentDeleteRow): RecentDelete => ({
  folderId: r.folder_id,
  path: r.path,
  kind: r.kind,
  revision: r.revision,
  size: r.size,
  mtimeMs: r.mtime_ms,
  blocks: r.blocks === null ? null : (JSON.parse(r.blocks) as string[]),
  deletedAt: r.deleted_at,
});

/**
 * The local deletes of the mass-delete window (docs/conflict-rules.md, local deletes). A
 * path counts only while it is still deleted: one the index holds again is back.
 */
export interface RecentDeleteRepo {
  /** In the transaction that drops the index row and queues the delete. */
  record(entry: Omit<RecentDelete, 'deletedAt'>): void;
  /** Files deleted since `since` (ms) and still deleted. */
  countFiles(folderId: string, since: number): number;
  /** Everything deleted since `since` and still deleted, parents before children. */
  list(folderId: string, since: number): RecentDelete[];
  /** The first `limit` file paths deleted since `since`, still deleted and held (their delete not sent), sorted. */
  samplePaths(folderId: string, since: number, limit: number): string[];
  /**
   * Of the files deleted since `since` and still deleted, those whose delete reached the server
   * (their queue row is a done delete): how many, and the first `limit`, sorted.
   */
  sentFiles(folderId: string, since: number, limit: number): { count: number; sample: string[] };
  /** Whether the window holds this path's delete (still deleted). */
  has(folderId: string, path: string): boolean;
  /** The window starts again (the user answered); older rows are dropped too. */
  clear(folderId: string): void;
  /** Rows older than `before`, for every folder in state ok (a held folder keeps its window). */
  prune(before: number): number;
}

export function recentDeleteRepo(db: Db, clock: Clock = systemClock): RecentDeleteRepo {
  const upsert = db.prepare(`
    INSERT INTO recent_deletes (folder_id, path, kind, revision, size, mtime_ms, blocks, deleted_at)
    VALUES (@folderId, @path, @kind, @revision, @size, @mtimeMs, @blocks, @now)
    ON CONFLICT (folder_id, path) DO UPDATE SET kind = excluded.kind, revision = excluded.revision, size = excluded.size,
      mtime_ms = excluded.mtime_ms, blocks = excluded.blocks, deleted_at = excluded.deleted_at`);
  const stillDeleted = `NOT EXISTS (SELECT 1 FROM file_index i WHERE i.folder_id = r.folder_id AND i.path = r.path)`;
  const countFiles = db.prepare<[string, number], { n: number }>(
    `SELECT count(*) AS n FROM recent_deletes r WHERE r.folder_id = ? AND r.deleted_at >= ? AND r.kind = 'file' AND ${stillDeleted}`,
  );
  const list = db.prepare<[string, number], RecentDeleteRow>(
    `SELECT * FROM recent_deletes r WHERE r.folder_id = ? AND r.deleted_at >= ? AND ${stillDeleted} ORDER BY r.path`,
  );
  const sent = `EXISTS (SELECT 1 FROM queue q WHERE q.folder_id = r.folder_id AND q.path = r.path AND q.op = 'delete' AND q.state = 'done')`;
  const sample = db.prepare<[string, number, number], { path: string }>(
    `SELECT r.path FROM recent_deletes r WHERE r.folder_id = ? AND r.deleted_at >= ? AND r.kind = 'file' AND ${stillDeleted} AND NOT ${sent} ORDER BY r.path LIMIT ?`,
  );
  const sentWhere = `r.folder_id = ? AND r.deleted_at >= ? AND r.kind = 'file' AND ${stillDeleted} AND ${sent}`;
  const sentCount = db.prepare<[string, number], { n: number }>(`SELECT count(*) AS n FROM recent_deletes r WHERE ${sentWhere}`);
  const sentSample = db.prepare<[string, number, number], { path: string }>(`SELECT r.path FROM recent_deletes r WHERE ${sentWhere} ORDER BY r.path LIMIT ?`);
  const has = db.prepare<[string, string], number>(`SELECT 1 FROM recent_deletes r WHERE r.folder_id = ? AND r.path = ? AND ${stillDeleted}`).pluck();
  const clear = db.prepare(`DELETE FROM recent_deletes WHERE folder_id = ?`);
  const prune = db.prepare(
    `DELETE FROM recent_deletes WHERE deleted_at < ? AND folder_id IN (SELECT id FROM folders WHERE state = 'ok')`,
  );

  return {
    record: (entry) =>
      void upsert.run({ ...entry, blocks: entry.blocks ? JSON.stringify(entry.blocks) : null, now: clock() }),
    countFiles: (folderId, since) => countFiles.get(folderId, since)?.n ?? 0,
    list: (folderId, since) => list.all(folderId, since).map(toRecent),
    samplePaths: (folderId, since, limit) => sample.all(folderId, since, limit).map((r) => r.path),
    has: (folderId, path) => has.get(folderId, path) !== undefined,
    sentFiles: (folderId, since, limit) => {
      const count = sentCount.get(folderId, since)?.n ?? 0;
      return { count, sample: count === 0 ? [] : sentSample.all(folderId, since, limit).map((r) => r.path) };
    },
    clear: (folderId) => void clear.run(folderId),
    prune: (before) => prune.run(before).changes,
  };
}
