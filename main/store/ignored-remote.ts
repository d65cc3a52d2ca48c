import type { Db } from './db';

/**
 * The paths the server has (live there) that an ignore rule keeps from here, per folder: the
 * pulls record them as they leave them (docs/conflict-rules.md, "Ignored paths"), and the
 * folder's summary counts them, so it never says "everything in sync" beside them.
 */
export interface IgnoredRemoteRepo {
  /** A full listing: exactly `paths` now. */
  replace(folderId: string, paths: Iterable<string>): void;
  /** An incremental pull's entries, in feed order: recorded when `ignored` (and live), else forgotten. */
  update(folderId: string, entries: Iterable<{ path: string; ignored: boolean }>): void;
  count(folderId: string): number;
  /** Sorted; for tests and the log. */
  list(folderId: string): string[];
}

export function ignoredRemoteRepo(db: Db): IgnoredRemoteRepo {
  const insert = db.prepare(`INSERT OR IGNORE INTO ignored_remote (folder_id, path) VALUES (?, ?)`);
  const del = db.prepare(`DELETE FROM ignored_remote WHERE folder_id = ? AND path = ?`);
  const delAll = db.prepare(`DELETE FROM ignored_remote WHERE folder_id = ?`);
  const count = db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM ignored_remote WHERE folder_id = ?`);
  const list = db.prepare<[string], { path: string }>(`SELECT path FROM ignored_remote WHERE folder_id = ? ORDER BY path`);
  const any = db.prepare<[string], { one: number }>(`SELECT 1 AS one FROM ignored_remote WHERE folder_id = ? LIMIT 1`);
  return {
    replace: db.transaction((folderId: string, paths: Iterable<string>) => {
      delAll.run(folderId);
      for (const p of paths) insert.run(folderId, p);
    }),
    update: db.transaction((folderId: string, entries: Iterable<{ path: string; ignored: boolean }>) => {
      // Nothing recorded (the usual case): a pull of many changes writes nothing for them.
      const recorded = any.get(folderId) !== undefined;
      for (const e of entries) {
        if (e.ignored) insert.run(folderId, e.path);
        else if (recorded) del.run(folderId, e.path);
      }
    }),
    count: (folderId) => count.get(folderId)?.n ?? 0,
    list: (folderId) => list.all(folderId).map((r) => r.path),
  };
}
