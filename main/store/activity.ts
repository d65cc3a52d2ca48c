import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Db } from './db';

export interface ActivityEntry {
  id: number;
  ts: number;
  folderId: string | null;
  /** A short stable word: 'skipped_symlink', 'folder_error', 'uploaded', 'conflict', ... */
  kind: string;
  path: string | null;
  message: string;
}

export interface NewActivity {
  folderId?: string | null;
  kind: string;
  path?: string | null;
  message: string;
}

export interface ActivityRepo {
  add(entry: NewActivity): void;
  /** Several entries in one transaction (a pull's downloads: one commit, not one per file). */
  addMany(entries: readonly NewActivity[]): void;
  /** The newest entry about this path of the folder, or null. */
  lastFor(folderId: string, path: string): ActivityEntry | null;
  /** Of these paths of the folder, those whose newest entry is of this kind (one query for a batch). */
  lastIs(folderId: string, paths: readonly string[], kind: string): Set<string>;
  /** Newest first. */
  recent(options?: { limit?: number; folderId?: string; kind?: string; beforeId?: number }): ActivityEntry[];
  count(): number;
}

export interface ActivityOptions {
  clock?: Clock;
  /** The log keeps at most this many entries (trimmed in steps, so it may briefly hold more). */
  maxEntries?: number;
  /** Told of every entry as it is written (the agent streams them to the UI). */
  onAdded?: (entry: ActivityEntry) => void;
}

export const DEFAULT_ACTIVITY_LIMIT = 10_000;

interface ActivityRow {
  id: number;
  ts: number;
  folder_id: string | null;
  kind: string;
  path: string | null;
  message: string;
}

export function activityRepo(db: Db, options: ActivityOptions = {}): ActivityRepo {
  const clock = options.clock ?? systemClock;
  const max = options.maxEntries ?? DEFAULT_ACTIVITY_LIMIT;
  // Trim once per tenth of the bound, not on every insert.
  const trimEvery = Math.max(1, Math.floor(max / 10));
  let sinceTrim = 0;
  const insert = db.prepare(`INSERT INTO activity (ts, folder_id, kind, path, message) VALUES (?, ?, ?, ?, ?)`);
  const trim = db.prepare(`DELETE FROM activity WHERE id <= (SELECT max(id) FROM activity) - ?`);
  const recent = db.prepare<
    { folderId: string | null; kind: string | null; beforeId: number | null; limit: number },
    ActivityRow
  >(`
    SELECT * FROM activity
    WHERE (@folderId IS NULL OR folder_id = @folderId) AND (@kind IS NULL OR kind = @kind)
      AND (@beforeId IS NULL OR id < @beforeId)
    ORDER BY id DESC LIMIT @limit`);
  const count = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM activity`);
  const lastFor = db.prepare<[string, string], ActivityRow>(`SELECT * FROM activity WHERE folder_id = ? AND path = ? ORDER BY id DESC LIMIT 1`);
  // The newest line of each path asked, by the (folder_id, path) index.
  const lastKinds = db.prepare<[string, string], { path: string; kind: string }>(
    `SELECT j.value AS path, (SELECT kind FROM activity WHERE folder_id = ? AND path = j.value ORDER BY id DESC LIMIT 1) AS kind FROM json_each(?) j`,
  );
  const entry = (r: ActivityRow): ActivityEntry => ({ id: r.id, ts: r.ts, folderId: r.folder_id, kind: r.kind, path: r.path, message: r.message });

  const add = ({ folderId = null, kind, path = null, message }: NewActivity): void => {
    const ts = clock();
    const { lastInsertRowid } = insert.run(ts, folderId, kind, path, message);
    options.onAdded?.({ id: Number(lastInsertRowid), ts, folderId, kind, path, message });
    if (++sinceTrim >= trimEvery) {
      sinceTrim = 0;
      trim.run(max);
    }
  };
  const addMany = db.transaction((entries: readonly NewActivity[]) => {
    for (const entry of entries) add(entry);
  });

  return {
    add,
    addMany: (entries) => {
      if (entries.length) addMany(entries);
    },
    lastFor(folderId, path) {
      const row = lastFor.get(folderId, path);
      return row ? entry(row) : null;
    },
    lastIs(folderId, paths, kind) {
      if (paths.length === 0) return new Set();
      return new Set(lastKinds.all(folderId, JSON.stringify(paths)).flatMap((r) => (r.kind === kind ? [r.path] : [])));
    },
    recent({ limit = 100, folderId, kind, beforeId } = {}) {
      return recent.all({ folderId: folderId ?? null, kind: kind ?? null, beforeId: beforeId ?? null, limit }).map(entry);
    },
    count: () => count.get()?.n ?? 0,
  };
}
