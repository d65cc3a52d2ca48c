import type { Settings, SettingsUpdate, SettingsView } from '../../../shared/settings';
import type { ActivityEntry } from '../../store/activity';
import type { QueueItem, QueueState } from '../../store/queue';

/**
 * The engine's own API, in the engine's own terms (store rows, its status). The UI contract is
 * not the engine's: main/ui-adapter turns this into the contract's handlers and events, so a
 * change to what the UI shows stops at the adapter.
 */

export type { Settings, SettingsUpdate, SettingsView };

/** auth_failed: the server answers but refuses the token (offline: it cannot be reached). */
export type AgentStateName = 'idle' | 'syncing' | 'paused' | 'offline' | 'auth_failed' | 'error';
/** disk_full: a write failed for want of space; the folder resumes by itself once space frees. */
export type FolderStateName = 'ok' | 'scanning' | 'error' | 'paused_mass_delete' | 'disk_full';

export interface FolderStatus {
  id: string;
  localPath: string;
  remoteId: string;
  state: FolderStateName;
  error: string | null;
  /** ISO time of the folder's last completed push or pull. */
  lastSyncAt: string | null;
  /** Set while a mass delete waits for the user: how many files it would delete. */
  pendingDelete: { count: number; total: number } | null;
  /** This folder's queue counts, so a folder filter can show its own. */
  counts?: Record<QueueState, number>;
}

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
  /** Why the agent is in this state (offline, auth_failed, error, paused), in words for the user. */
  reason?: string | null;
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
  getSettings(input?: object): Promise<SettingsView>;
  /** An empty or absent token keeps the stored one; refused with `invalid_settings` and fields. */
  updateSettings(update: SettingsUpdate): Promise<SettingsView>;
}

export interface AgentApi {
  handlers: AgentHandlers;
  subscribe(listener: (event: AgentEvent) => void): () => void;
}
