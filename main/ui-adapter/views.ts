import { RESTORED_PATHS_SHOWN } from '../../shared/ui-contract';
import type { ActivityEntry as ContractActivity, ConflictCopy, DeletedFile, FileVersion, QueueItem as ContractQueueItem, RestoreInput, RestoreResult } from '../../shared/ui-contract';
import type { NamedConflict, NamedDeletedItem, NamedHistoryItem, RestoreOutcome, RestoreRequest } from '../engine/agent/api';
import type { ActivityEntry as StoredActivity } from '../store/activity';
import type { QueueItem as StoredQueueItem } from '../store/queue';

/** Store rows → the UI contract's shapes (times as ISO strings, directory ops named). */
const iso = (ms: number) => new Date(ms).toISOString();

export function queueItemView(item: StoredQueueItem): ContractQueueItem {
  // A rename shows as one, from where (a new-user try read a folder's rename as "mkdir").
  const moved = item.op === 'upsert' && item.moveFrom !== null;
  const op = moved ? 'move' : item.kind === 'dir' ? (item.op === 'upsert' ? 'mkdir' : 'rmdir') : item.op;
  return {
    id: item.id,
    folderId: item.folderId,
    path: item.path,
    op,
    ...(moved ? { movedFrom: item.moveFrom! } : {}),
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
  // A rename is neither an upload nor a download (a new-user try read it as "info").
  moved_remote: 'moved',
  moved_local: 'moved',
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
  signed_out: 'failed',
};

export function activityView(entry: StoredActivity): ContractActivity {
  const kind = ACTIVITY_KINDS[entry.kind] ?? (entry.kind.startsWith('skipped') ? 'skipped' : 'info');
  return { id: entry.id, at: iso(entry.ts), folderId: entry.folderId, kind, path: entry.path, message: entry.message };
}

// ── history and restore ──

export function fileVersionView(item: NamedHistoryItem): FileVersion {
  return {
    revision: item.revision,
    kind: item.kind,
    deleted: item.deleted,
    size: item.size,
    mtime: item.mtime,
    modifiedAt: item.modificationDate,
    device: item.device,
    deviceName: item.deviceName,
    ...(item.movedFrom !== undefined ? { movedFrom: item.movedFrom } : {}),
    ...(item.movedTo !== undefined ? { movedTo: item.movedTo } : {}),
    ...(item.restoredFrom !== undefined ? { restoredFrom: item.restoredFrom } : {}),
    ...(item.contentHash !== undefined ? { contentHash: item.contentHash } : {}),
  };
}

export function conflictCopyView(c: NamedConflict): ConflictCopy {
  return { folderId: c.folderId, path: c.path, copyPath: c.copyPath, device: c.device, deviceName: c.deviceName, restoredFrom: c.restoredFrom, madeBy: c.madeBy, detectedAt: new Date(c.detectedAt).toISOString() };
}

export function deletedFileView(item: NamedDeletedItem): DeletedFile {
  return { path: item.path, kind: item.kind, revision: item.revision, deletedAt: item.deletedAt, device: item.device, deviceName: item.deviceName, lastLive: item.lastLive ? fileVersionView(item.lastLive) : null };
}

/** The contract's restore input as the engine's request (the folder travels beside it). */
export function restoreRequest(input: RestoreInput): RestoreRequest {
  if ('deleted' in input) {
    return { kind: 'deleted', ...(input.paths ? { paths: input.paths } : {}), ...(input.prefix ? { prefix: input.prefix } : {}), ...(input.since ? { since: input.since } : {}) };
  }
  return { kind: 'paths', paths: input.paths, ...(input.revision ? { revision: input.revision } : {}), ...(input.at ? { at: input.at } : {}), ...(input.dryRun ? { dryRun: true } : {}) };
}

/** The engine's restore outcome as the UI shows it: how many came back, and each that did not. */
export function restoreResult(outcome: RestoreOutcome): RestoreResult {
  const shown = outcome.restored.slice(0, RESTORED_PATHS_SHOWN);
  const paths = shown.map((r) => r.path);
  const versions = shown.map((r) => ({ path: r.path, revision: r.revision, ...(r.restoredFrom !== undefined ? { restoredFrom: r.restoredFrom } : {}) }));
  const would = outcome.wouldRestore ? { wouldRestore: outcome.wouldRestore.slice(0, RESTORED_PATHS_SHOWN), wouldCount: outcome.wouldRestore.length } : {};
  return { restored: outcome.restored.length, folders: outcome.folders, failed: outcome.failed, skipped: outcome.skipped, paths, versions, ...would };
}
