import { activityRepo, type ActivityEntry, type ActivityRepo } from './activity';
import { systemClock, type Clock } from './clock';
import { conflictRepo, type ConflictRepo } from './conflicts';
import { openDb, type Db } from './db';
import { fileIndexRepo, type FileIndexRepo } from './file-index';
import { ignoredRemoteRepo, type IgnoredRemoteRepo } from './ignored-remote';
import { folderRepo, type FolderRepo } from './folders';
import { pathStateRepo, type PathStateRepo } from './path-state';
import { queueStore, type DoneHistory, type QueueRepo } from './queue';
import { recentDeleteRepo, type RecentDeleteRepo } from './recent-deletes';
import { settingsRepo, type SettingsRepo } from './settings';
import { taskRepo, type TaskRepo } from './tasks';
import { tokenRepo, type TokenRepo } from './tokens';
import { undoBatchRepo, type UndoBatchRepo } from './undo-batches';

/** One agent's state database and its repositories. */
export interface Store {
  db: Db;
  folders: FolderRepo;
  index: FileIndexRepo;
  queue: QueueRepo;
  /** A path's changes that write the queue and the index together: queued, pushed, a move refused. */
  paths: PathStateRepo;
  /** This disk's recent deletes: the mass-delete guard's window. */
  recentDeletes: RecentDeleteRepo;
  /** The last confirmed mass delete of each folder, while Undo is offered. */
  undoBatches: UndoBatchRepo;
  tasks: TaskRepo;
  tokens: TokenRepo;
  /** The paths the server has that an ignore rule keeps from here (the pulls record them). */
  ignoredRemote: IgnoredRemoteRepo;
  conflicts: ConflictRepo;
  activity: ActivityRepo;
  settings: SettingsRepo;
  /** Runs fn in one transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export interface StoreOptions {
  clock?: Clock;
  activityLimit?: number;
  /** How many done queue rows stay as history (see DoneHistory). */
  doneHistory?: DoneHistory;
  nativeBinding?: string;
  onActivity?: (entry: ActivityEntry) => void;
}

export function openStore(file: string, options: StoreOptions = {}): Store {
  return createStore(openDb(file, options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}), options);
}

export function createStore(db: Db, options: StoreOptions = {}): Store {
  const clock = options.clock ?? systemClock;
  const index = fileIndexRepo(db, clock);
  const queue = queueStore(db, clock, options.doneHistory);
  // One transaction function for every call: better-sqlite3 builds four wrappers per
  // db.transaction(), which a pull that commits in groups paid once per group.
  const inTransaction = db.transaction((fn: () => unknown) => fn());
  return {
    db,
    folders: folderRepo(db, clock),
    index,
    queue: queue.repo,
    paths: pathStateRepo(db, queue.rows, index, clock),
    recentDeletes: recentDeleteRepo(db, clock),
    undoBatches: undoBatchRepo(db, clock),
    tasks: taskRepo(db, clock),
    tokens: tokenRepo(db, clock),
    ignoredRemote: ignoredRemoteRepo(db),
    conflicts: conflictRepo(db, clock),
    activity: activityRepo(db, {
      clock,
      ...(options.activityLimit ? { maxEntries: options.activityLimit } : {}),
      ...(options.onActivity ? { onAdded: options.onActivity } : {}),
    }),
    settings: settingsRepo(db),
    transaction: <T>(fn: () => T): T => inTransaction(fn) as T,
    close: () => db.close(),
  };
}

export type { Clock } from './clock';
export type { Conflict } from './conflicts';
export type { Folder, FolderState, MassDeleteHold, MassDeleteSide } from './folders';
export type { RecentDelete } from './recent-deletes';
export type { UndoBatch } from './undo-batches';
export type { EntryKind, IndexEntry, IndexStat, LocalRecord } from './file-index';
export type { Change, ClaimRef, QueueItem, QueueOp, QueueState } from './queue';
