import { FerryError } from '../../protocol/errors';
import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Db } from './db';

export type FolderState = 'ok' | 'error' | 'paused_mass_delete';

/** Whose deletes a mass-delete pause holds: this disk's (a scan) or the server's (a pull). */
export type MassDeleteSide = 'scan' | 'pull';

/** What a mass-delete pause held, as judged when it tripped. */
export interface MassDeleteHold {
  side: MassDeleteSide;
  deletes: number;
  files: number;
  /** A few of the paths it deletes (sorted), for the question to the user. */
  sample?: string[];
  /** The devices whose deletes it holds, as the server names them (pull side only). */
  devices?: string[];
  /**
   * Pull side: files of the window the pulls just before it deleted here (docs/conflict-rules.md,
   * "The server's deletes are weighed over a window too"): counted in `deletes`; Cancel brings them back.
   */
  removedHere?: string[];
}

export interface Folder {
  id: string;
  localRoot: string;
  remoteId: string;
  /** The id written to <root>/.ferry/folder-id; null until the marker was first created. */
  markerId: string | null;
  state: FolderState;
  errorCode: string | null;
  errorMessage: string | null;
  pausedReason: string | null;
  /** Set while state is paused_mass_delete (null for a pause stored without one). */
  pausedHold: MassDeleteHold | null;
  createdAt: number;
  updatedAt: number;
}

interface FolderRow {
  id: string;
  local_root: string;
  remote_id: string;
  marker_id: string | null;
  state: FolderState;
  error_code: string | null;
  error_message: string | null;
  paused_reason: string | null;
  paused_side: MassDeleteSide | null;
  paused_deletes: number | null;
  paused_files: number | null;
  paused_detail: string | null;
  created_at: number;
  updated_at: number;
}

const toFolder = (r: FolderRow): Folder => ({
  id: r.id,
  localRoot: r.local_root,
  remoteId: r.remote_id,
  markerId: r.marker_id,
  state: r.state,
  errorCode: r.error_code,
  errorMessage: r.error_message,
  pausedReason: r.paused_reason,
  pausedHold: r.paused_side
    ? { side: r.paused_side, deletes: r.paused_deletes ?? 0, files: r.paused_files ?? 0, ...holdDetail(r.paused_detail) }
    : null,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

function holdDetail(raw: string | null): Pick<MassDeleteHold, 'sample' | 'devices' | 'removedHere'> {
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as { sample?: unknown; devices?: unknown; removedHere?: unknown };
    const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
    const sample = strings(parsed.sample);
    const devices = strings(parsed.devices);
    const removedHere = strings(parsed.removedHere);
    return { ...(sample ? { sample } : {}), ...(devices ? { devices } : {}), ...(removedHere?.length ? { removedHere } : {}) };
  } catch {
    return {};
  }
}

export interface FolderRepo {
  add(input: { id: string; localRoot: string; remoteId: string }): Folder;
  get(id: string): Folder | undefined;
  /** Like get, but a missing folder is an error. */
  require(id: string): Folder;
  list(): Folder[];
  remove(id: string): void;
  setMarkerId(id: string, markerId: string): void;
  setOk(id: string): void;
  setError(id: string, code: string, message: string): void;
  /** Only main/engine/folder/ changes a folder's state (setOk, setError, pause). */
  pause(id: string, reason: string, hold?: MassDeleteHold): void;
}

export function folderRepo(db: Db, clock: Clock = systemClock): FolderRepo {
  const insert = db.prepare(
    `INSERT INTO folders (id, local_root, remote_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
  );
  const byId = db.prepare<[string], FolderRow>(`SELECT * FROM folders WHERE id = ?`);
  const all = db.prepare<[], FolderRow>(`SELECT * FROM folders ORDER BY created_at, id`);
  const del = db.prepare(`DELETE FROM folders WHERE id = ?`);
  const marker = db.prepare(`UPDATE folders SET marker_id = ?, updated_at = ? WHERE id = ?`);
  const ok = db.prepare(
    `UPDATE folders SET state = 'ok', error_code = NULL, error_message = NULL, paused_reason = NULL,
       paused_side = NULL, paused_deletes = NULL, paused_files = NULL, paused_detail = NULL, updated_at = ? WHERE id = ?`,
  );
  // An error keeps a mass-delete pause's reason and counts: when the root comes back the pause
  // is restored, never dropped with the deletes it held.
  const error = db.prepare(`UPDATE folders SET state = 'error', error_code = ?, error_message = ?, updated_at = ? WHERE id = ?`);
  const pause = db.prepare(
    `UPDATE folders SET state = 'paused_mass_delete', error_code = NULL, error_message = NULL, paused_reason = ?,
       paused_side = ?, paused_deletes = ?, paused_files = ?, paused_detail = ?, updated_at = ? WHERE id = ?`,
  );

  const get = (id: string): Folder | undefined => {
    const row = byId.get(id);
    return row ? toFolder(row) : undefined;
  };

  return {
    add({ id, localRoot, remoteId }) {
      const now = clock();
      insert.run(id, localRoot, remoteId, now, now);
      return get(id)!;
    },
    get,
    require(id) {
      const folder = get(id);
      if (!folder) throw new FerryError('folder_unknown', `No folder with id ${id}`);
      return folder;
    },
    list: () => all.all().map(toFolder),
    remove: (id) => void del.run(id),
    setMarkerId: (id, markerId) => void marker.run(markerId, clock(), id),
    setOk: (id) => void ok.run(clock(), id),
    setError: (id, code, message) => void error.run(code, message, clock(), id),
    pause: (id, reason, held) => {
      const detail = held?.sample || held?.devices || held?.removedHere ? JSON.stringify({ sample: held.sample, devices: held.devices, removedHere: held.removedHere }) : null;
      pause.run(reason, held?.side ?? null, held?.deletes ?? null, held?.files ?? null, detail, clock(), id);
    },
  };
}
