import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Db } from './db';
import type { MassDeleteSide } from './folders';

/**
 * A confirmed mass delete, kept so that the user can undo it (docs/conflict-rules.md, "Undo of
 * a confirmed mass delete"): the paths it deleted, whose side it was and until when Undo is
 * offered. One per folder, the latest; stored so that a restart still offers it.
 */
export interface UndoBatch {
  folderId: string;
  side: MassDeleteSide;
  paths: string[];
  /** The devices whose deletes a confirmed pull applied (none for this disk's own). */
  devices: string[];
  confirmedAt: number;
  expiresAt: number;
}

interface UndoBatchRow {
  folder_id: string;
  side: MassDeleteSide;
  paths: string;
  devices: string;
  confirmed_at: number;
  expires_at: number;
}

export interface UndoBatchRepo {
  /** Replaces the folder's earlier batch: Undo is offered for the latest confirmed delete. */
  record(batch: { folderId: string; side: MassDeleteSide; paths: readonly string[]; devices?: readonly string[]; keepMs: number }): void;
  /** The folder's batch while it has not expired. */
  get(folderId: string): UndoBatch | null;
  /** Undone or dismissed. */
  remove(folderId: string): void;
}

export function undoBatchRepo(db: Db, clock: Clock = systemClock): UndoBatchRepo {
  const upsert = db.prepare(`
    INSERT INTO undo_batches (folder_id, side, paths, devices, confirmed_at, expires_at) VALUES (@folderId, @side, @paths, @devices, @now, @expiresAt)
    ON CONFLICT (folder_id) DO UPDATE SET side = excluded.side, paths = excluded.paths, devices = excluded.devices, confirmed_at = excluded.confirmed_at, expires_at = excluded.expires_at`);
  const read = db.prepare<[string, number], UndoBatchRow>(`SELECT * FROM undo_batches WHERE folder_id = ? AND expires_at > ?`);
  const remove = db.prepare(`DELETE FROM undo_batches WHERE folder_id = ?`);
  return {
    record: ({ folderId, side, paths, devices = [], keepMs }) => {
      const now = clock();
      upsert.run({ folderId, side, paths: JSON.stringify([...paths].sort()), devices: JSON.stringify(devices), now, expiresAt: now + keepMs });
    },
    get: (folderId) => {
      const row = read.get(folderId, clock());
      if (!row) return null;
      return { folderId: row.folder_id, side: row.side, paths: JSON.parse(row.paths) as string[], devices: JSON.parse(row.devices) as string[], confirmedAt: row.confirmed_at, expiresAt: row.expires_at };
    },
    remove: (folderId) => void remove.run(folderId),
  };
}
