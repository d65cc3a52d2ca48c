import type { Logger } from '../../logging';
import type { Store } from '../../store';
import type { QueueItem } from '../../store/queue';
import type { PusherEvents, PusherOptions } from './pusher';
import type { Connectivity } from './requests';
import type { PushRemote } from './remote-port';
import type { RequeueOutcome } from './requeue';
import type { Timers } from './timers';

/**
 * What the pusher reads and writes. A claimed item comes with its folder's root and server id;
 * a task resumed after a restart, or a lost create looked up, reads the folder's row here.
 */
export type PushStore = Pick<Store, 'queue' | 'paths' | 'tasks' | 'index' | 'tokens' | 'folders' | 'transaction'>;

export interface PushFolder {
  localRoot: string;
  remoteId: string;
}

export interface ConflictHandoff {
  folderId: string;
  path: string;
  currentRevision: string | null;
}

export interface PusherDeps {
  store: PushStore;
  remote: PushRemote;
  /**
   * The server has another version of the path (baseRevision is stale). The item is parked
   * as retry_wait with code 'conflict' (for conflictRecheckMs); the puller fetches the remote
   * version, keeps both (docs/conflict-rules.md), and re-enqueues the path's local state on the new base
   * revision, which replaces the parked generation.
   */
  onConflict?: (conflict: ConflictHandoff) => void;
  /** The server has not made this folder yet: an upload it answers `not_found` waits for it. */
  folderUnmade?: (folderId: string) => boolean;
  /** Hash a changed file again and queue it; defaults to rehashAndRequeue on the store. */
  requeue?: (absPath: string, item: QueueItem) => Promise<RequeueOutcome>;
  log: Logger;
  timers?: Timers;
  random?: () => number;
  options?: Partial<PusherOptions>;
}

export interface PusherStatus {
  running: boolean;
  paused: boolean;
  connectivity: Connectivity;
  inFlight: number;
  run: string | null;
  /** How long uploads have waited for the bandwidth limit since the pusher was made (ms). */
  throttledMs: number;
}

export interface Pusher {
  start(): Promise<void>;
  /** Stops taking work and abandons what is in flight (it runs again at the next start). */
  stop(): Promise<void>;
  pause(): void;
  resume(): void;
  /** New items may be due: look now (and probe at once if the link was down). */
  kick(): void;
  /** Items were just queued: claim what is due, no probe (a reconcile says this at every commit). */
  queued(): void;
  setOptions(options: Partial<PusherOptions>): void;
  /** The UI's Retry action: one item, or every failed item (of a folder). */
  retry(id: number): boolean;
  retryAll(folderId?: string): number;
  status(): PusherStatus;
  options(): PusherOptions;
  /** Resolves once nothing is in flight and nothing is due. */
  idle(): Promise<void>;
  on<K extends keyof PusherEvents>(name: K, listener: (event: PusherEvents[K]) => void): () => void;
}
