import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Db } from './db';

export interface Conflict {
  id: number;
  folderId: string;
  path: string;
  /** Where the losing side was kept, e.g. "a (conflict from laptop 2025-01-02 030405).txt". */
  copyPath: string;
  device: string;
  /** The version that took the path was a restore `device` asked for, of this revision (null: an upload). */
  restoredFrom: string | null;
  /**
   * Null: this device made the copy, which keeps its version. Else the copy came through the
   * pull, made by the device of this name (its version is in the copy; `device` is then '').
   */
  madeBy: string | null;
  detectedAt: number;
  resolvedAt: number | null;
}

export interface ConflictRepo {
  record(input: { folderId: string; path: string; copyPath: string; device: string; restoredFrom?: string | null; madeBy?: string | null }): Conflict;
  /** An open conflict whose copy is at `copyPath`, if any. */
  openAt(folderId: string, copyPath: string): Conflict | undefined;
  resolve(id: number): boolean;
  listOpen(folderId?: string): Conflict[];
  countOpen(folderId?: string): number;
}

interface ConflictRow {
  id: number;
  folder_id: string;
  path: string;
  copy_path: string;
  device: string;
  restored_from: string | null;
  made_by: string | null;
  detected_at: number;
  resolved_at: number | null;
}

const toConflict = (r: ConflictRow): Conflict => ({
  id: r.id,
  folderId: r.folder_id,
  path: r.path,
  copyPath: r.copy_path,
  device: r.device,
  restoredFrom: r.restored_from,
  madeBy: r.made_by,
  detectedAt: r.detected_at,
  resolvedAt: r.resolved_at,
});

export function conflictRepo(db: Db, clock: Clock = systemClock): ConflictRepo {
  const insert = db.prepare(
    `INSERT INTO conflicts (folder_id, path, copy_path, device, restored_from, made_by, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const openAt = db.prepare<[string, string], ConflictRow>(`SELECT * FROM conflicts WHERE folder_id = ? AND copy_path = ? AND resolved_at IS NULL LIMIT 1`);
  const byId = db.prepare<[number | bigint], ConflictRow>(`SELECT * FROM conflicts WHERE id = ?`);
  const resolve = db.prepare(`UPDATE conflicts SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL`);
  const open = db.prepare<{ folderId: string | null }, ConflictRow>(
    `SELECT * FROM conflicts WHERE resolved_at IS NULL AND (@folderId IS NULL OR folder_id = @folderId) ORDER BY id`,
  );
  const countOpen = db.prepare<{ folderId: string | null }, { n: number }>(
    `SELECT count(*) AS n FROM conflicts WHERE resolved_at IS NULL AND (@folderId IS NULL OR folder_id = @folderId)`,
  );
  return {
    record({ folderId, path, copyPath, device, restoredFrom = null, madeBy = null }) {
      const { lastInsertRowid } = insert.run(folderId, path, copyPath, device, restoredFrom, madeBy, clock());
      return toConflict(byId.get(lastInsertRowid)!);
    },
    openAt: (folderId, copyPath) => {
      const row = openAt.get(folderId, copyPath);
      return row ? toConflict(row) : undefined;
    },
    resolve: (id) => resolve.run(clock(), id).changes > 0,
    listOpen: (folderId) => open.all({ folderId: folderId ?? null }).map(toConflict),
    countOpen: (folderId) => countOpen.get({ folderId: folderId ?? null })?.n ?? 0,
  };
}
