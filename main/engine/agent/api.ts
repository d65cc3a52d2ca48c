import type { Settings, SettingsUpdate, SettingsView } from '../../../shared/settings';
import type { Conflict } from '../../store';
import type { PairedAs } from './pairing';
import type { ActivityEntry } from '../../store/activity';
import type { DeviceState } from '../../../protocol';
import type { QueueItem, QueueState } from '../../store/queue';
import type { PendingDelete } from '../folder/coordinator';
import type { UndoOffer } from '../folder/undo';
import type { PathExplanation } from './why';
import type { NamedDeletedItem, NamedHistoryItem } from './device-names';
import type { RestoreOutcome, RestoreRequest } from '../history/restore-batch';
import type { VersionPreview } from '../history/preview';

/**
 * The engine's own API, in the engine's own terms (store rows, its status). The UI contract is
 * not the engine's: main/ui-adapter turns this into the contract's handlers and events, so a
 * change to what the UI shows stops at the adapter.
 */

export type { PathExplanation, PendingDelete, Settings, SettingsUpdate, SettingsView };

/** auth_failed: the server answers but refuses the token (offline: it cannot be reached). */
/** waiting: a folder holds a bulk delete until the user answers (nothing is wrong, it needs them). */
export type AgentStateName = 'idle' | 'syncing' | 'paused' | 'offline' | 'auth_failed' | 'waiting' | 'error';
/** disk_full: a write failed for want of space; the folder resumes by itself once space frees. */
export type FolderStateName = 'ok' | 'scanning' | 'error' | 'paused_mass_delete' | 'disk_full';

export interface FolderStatus {
  id: string;
  localPath: string;
  remoteId: string;
  state: FolderStateName;
  error: string | null;
  /** In error only because the folder does not exist yet: it waits to be created (not a fault). */
  notMadeYet?: true;
  /** In error because the folder ('folder') or its marker ('marker') is gone: syncAfresh takes it up (folder-marker.ts, goneOf). */
  gone?: 'marker' | 'folder';
  /** While the folder's pulls fail: the last failure's code and message, when, and the next try. */
  pullError?: string | null;
  /** Changes from the server that wait for the user here (a folder renamed to a name that cannot be synced), in a line: no failure. */
  pullWait?: string;
  /** Changes from the server its pull is applying now (absent when none is). */
  incoming?: number;
  /** ISO time of the folder's last completed push or pull. */
  lastSyncAt: string | null;
  /** Set while a mass delete waits for the user: how many files it would delete, and what. */
  pendingDelete: PendingDelete | null;
  /** The last confirmed mass delete while Undo is offered (main/engine/folder/undo.ts). */
  undoDelete?: UndoDelete | null;
  /** This folder's queue counts, so a folder filter can show its own. */
  counts?: Record<QueueState, number>;
  /** The files recorded in the folder and their bytes (at most a few seconds old). */
  files?: number;
  bytes?: number;
  /** Conflict copies this device made that are still on disk (same age). */
  conflicts?: number;
  /** Names here that cannot be synced: how many, and the first UNSYNCABLE_SHOWN with why (absent: none). */
  unsyncable?: { count: number; shown: Array<{ path: string; reason: string }> };
  /** Paths the server has that an ignore rule keeps from here (same age as `files`; absent: none). */
  ignoredOnServer?: number;
}

/** How many names that cannot be synced a folder's status names. */
export const UNSYNCABLE_SHOWN = 20;

/** A confirmed mass delete that can still be undone; `sending`: its deletes this disk has still to send. */
export type UndoDelete = UndoOffer;

export interface AgentStatus {
  state: AgentStateName;
  counts: Record<QueueState, number>;
  folders: FolderStatus[];
  lastSyncAt: string | null;
  rates: { uploadBytesPerSec: number; downloadBytesPerSec: number; itemsPerSec: number };
  /** The run in progress, if any: items and bytes left. */
  run: { name: string; itemsLeft: number; bytesLeft: number } | null;
  deviceId: string;
  deviceName: string;
  /** Whom a pairing signed this device in as, while its stored token is that pairing's (null: typed in). */
  pairedAs?: PairedAs | null;
  /** Why the agent is in this state (offline, auth_failed, error, paused), in words for the user. */
  reason?: string | null;
}

/** The devices syncing one folder, as the server's digests say; `error` when it could not be asked. */
export interface FolderDevices {
  folderId: string;
  devices: Array<DeviceState & { self: boolean }>;
  error: string | null;
}

export interface QueueQuery {
  state?: QueueState;
  folderId?: string;
  offset: number;
  limit: number;
}

/** What the engine tells its hosts; queue items and activity are the store's rows. */
export type AgentEvent =
  | { type: 'status'; status: AgentStatus }
  | { type: 'queue'; items: QueueItem[] }
  | { type: 'activity'; entry: ActivityEntry }
  | { type: 'settings'; settings: SettingsView };

type Ok = { ok: true };

/** History and restore, in the wire's terms (docs/sync-api.md, "History and restore"). */
export type { DeletedItem, HistoryItem } from '../../../protocol';
export type { NamedDeletedItem, NamedHistoryItem } from './device-names';
export type { RestoreOutcome, RestoreRequest } from '../history/restore-batch';
export type { VersionPreview } from '../history/preview';

/** The actions a host may ask of a running agent. */
export interface AgentHandlers {
  getStatus(input?: object): Promise<AgentStatus>;
  listQueue(query: QueueQuery): Promise<{ items: QueueItem[]; total: number }>;
  listActivity(input: { limit: number }): Promise<ActivityEntry[]>;
  syncNow(input: { folderId?: string }): Promise<Ok>;
  pause(input?: object): Promise<Ok>;
  resume(input?: object): Promise<Ok>;
  retry(input: { id: number } | { all: true }): Promise<{ retried: number }>;
  confirmMassDelete(input: { folderId: string }): Promise<Ok>;
  cancelMassDelete(input: { folderId: string }): Promise<Ok>;
  /** Restores exactly what the folder's last confirmed mass delete removed (refused while its deletes are still being sent). */
  undoMassDelete(input: { folderId: string }): Promise<RestoreOutcome>;
  /** Withdraws the Undo offer. */
  dismissUndo(input: { folderId: string }): Promise<Ok>;
  /** A folder whose marker is gone taken up as new (refused, not_detached, in any other state). */
  syncAfresh(input: { folderId: string }): Promise<Ok>;
  /** What the agent knows of one path and why it is not in sync: a folder-relative path with folderId, else an absolute one. */
  explainPath(input: { path: string; folderId?: string }): Promise<PathExplanation>;
  /** Every device's state of each folder (or one), from the server's device digests. */
  listDevices(input: { folderId?: string }): Promise<FolderDevices[]>;
  /** The path's versions, newest first, each with its writer's name (from the device digests) beside the id; `nameNow`: where its moves took the file since, when they did. */
  getHistory(input: { folderId: string; path: string }): Promise<{ items: NamedHistoryItem[]; nameNow?: string }>;
  /** What a live file version holds: its first 64 KiB, as text or said to be binary (refused for a deletion or a folder). */
  previewVersion(input: { folderId: string; path: string; revision: string }): Promise<VersionPreview>;
  listDeleted(input: { folderId: string; prefix?: string; since?: string; limit: number }): Promise<NamedDeletedItem[]>;
  /** Restores on the server, then pulls: the files come back through the normal pull. */
  restore(input: { folderId: string; request: RestoreRequest }): Promise<RestoreOutcome>;
  /** Conflict copies this device made that are still on disk, newest first, with the other device's name. */
  listConflicts(input: { folderId?: string }): Promise<NamedConflict[]>;
  getSettings(input?: object): Promise<SettingsView>;
  /** An empty or absent token keeps the stored one; refused with `invalid_settings` and fields. */
  updateSettings(update: SettingsUpdate): Promise<SettingsView>;
  /**
   * The settings with a pairing code in place of a token: the code is traded for this device's
   * own token, which is saved. Paired again with the same server, the token it had is revoked.
   */
  pairDevice(input: PairInput): Promise<SettingsView>;
}

export type NamedConflict = Conflict & { deviceName: string };

export type PairInput = Omit<SettingsUpdate, 'token'> & { pairingCode: string; deviceName?: string };

export interface AgentApi {
  handlers: AgentHandlers;
  /** `types`: the events the listener gets (all of them when left out). */
  subscribe(listener: (event: AgentEvent) => void, types?: ReadonlyArray<AgentEvent['type']>): () => void;
}
