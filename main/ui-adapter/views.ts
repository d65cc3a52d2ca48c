import type { ActivityEntry as ContractActivity, QueueItem as ContractQueueItem } from '../../shared/ui-contract';
import type { ActivityEntry as StoredActivity } from '../store/activity';
import type { QueueItem as StoredQueueItem } from '../store/queue';

/** Store rows → the UI contract's shapes (times as ISO strings, directory ops named). */
const iso = (ms: number) => new Date(ms).toISOString();

export function queueItemView(item: StoredQueueItem): ContractQueueItem {
  const op = item.kind === 'dir' ? (item.op === 'upsert' ? 'mkdir' : 'rmdir') : item.op;
  return {
    id: item.id,
    folderId: item.folderId,
    path: item.path,
    op,
    state: item.state,
    attempts: item.attempts,
    nextAttemptAt: item.state === 'retry_wait' ? iso(item.nextAttemptAt) : null,
    bytesDone: item.bytesDone,
    bytesTotal: item.bytesTotal,
    error: item.lastErrorCode ? { code: item.lastErrorCode, message: item.lastErrorMessage ?? item.lastErrorCode } : null,
    updatedAt: iso(item.updatedAt),
  };
}

/** The engine's activity kinds are fine-grained words; the UI groups them. */
const ACTIVITY_KINDS: Record<string, ContractActivity['kind']> = {
  uploaded: 'uploaded',
  downloaded: 'downloaded',
  deleted: 'deleted',
  deleted_remote: 'deleted',
  deleted_local: 'deleted',
  conflict: 'conflict',
  failed: 'failed',
  folder_error: 'failed',
  pull_failed: 'failed',
  pull_skipped: 'skipped',
  skipped_symlink: 'skipped',
  skipped: 'skipped',
  sync: 'sync',
  pulled: 'sync',
  mass_delete_paused: 'info',
};

export function activityView(entry: StoredActivity): ContractActivity {
  const kind = ACTIVITY_KINDS[entry.kind] ?? (entry.kind.startsWith('skipped') ? 'skipped' : 'info');
  return { id: entry.id, at: iso(entry.ts), folderId: entry.folderId, kind, path: entry.path, message: entry.message };
}
