import { statSync } from 'node:fs';
import { deleteOrigin, sentBeforeHoldLine } from '../../../shared/pending-delete';
import { countOf } from '../../../shared/count-words';
import { notMadeYet } from '../folder-marker';
import type { AgentStateName, FolderStatus, Settings } from './api';
import type { SettingsRepo } from '../../store/settings';
import type { Link } from './connection';

/**
 * The agent's one-word state and the reason shown beside it. What needs the user comes first:
 * a pause they chose, a token the server refuses, a server out of reach, a folder in trouble.
 */
export function agentStateOf(input: {
  paused: boolean;
  link: Link;
  folders: readonly Pick<FolderStatus, 'id' | 'state' | 'error' | 'pendingDelete'>[];
  /** What keeps the agent busy, in words (null: nothing: idle). */
  busy: string | null;
}): { state: AgentStateName; reason: string | null } {
  if (input.paused) return { state: 'paused', reason: 'nothing is sent or received until you resume' };
  if (input.link.state !== 'online') return { state: input.link.state, reason: input.link.reason };
  // A folder not made yet is accepted with a warning (the README): it waits, nothing is wrong.
  const broken = input.folders.find((f) => f.state === 'error' && !notMadeYet(f.error));
  if (broken) return { state: 'error', reason: `Folder ${broken.id}: ${broken.error ?? 'in error'}` };
  const full = input.folders.find((f) => f.state === 'disk_full');
  if (full) return { state: 'error', reason: `Folder ${full.id}: ${full.error ?? 'the disk is full'}` };
  const held = input.folders.find((f) => f.state === 'paused_mass_delete');
  if (held) {
    const pending = held.pendingDelete;
    const before = pending ? sentBeforeHoldLine(pending) : '';
    const what = pending ? `${pending.count} of ${pending.total} files were deleted ${deleteOrigin(pending)}${before ? `; ${before}` : ''}` : 'many files were deleted';
    // Not an error: Ferry did what it should (held the delete); the folder needs the user's answer.
    return { state: 'waiting', reason: `Folder ${held.id}: ${what}; the deletion waits for your answer` };
  }
  if (input.busy !== null) return { state: 'syncing', reason: input.busy };
  const unmade = input.folders.find((f) => f.state === 'error');
  if (unmade) return { state: 'waiting', reason: `Folder ${unmade.id}: ${unmade.error}` };
  return { state: 'idle', reason: null };
}

/**
 * What keeps the agent syncing, named: the reason shown beside "syncing" (a state that does not
 * say why cannot be told from one that is stuck). null when nothing is.
 */
export function busyReason(input: {
  counts: { pending: number; in_flight: number };
  /** Items the pusher holds (claimed, or a persisted task's), whatever their queue rows say. */
  pusherHolds: number;
  pullsRunning: number;
  /** Changes the running pulls are applying now, all folders (0 while they only read the feed). */
  incoming?: number;
  scanning: readonly string[];
}): string | null {
  if (input.counts.in_flight > 0) return `Sending ${countOf(input.counts.in_flight, 'change')} to the server`;
  if (input.counts.pending > 0) return `${countOf(input.counts.pending, 'change waits', 'changes wait')} to be sent`;
  if (input.pusherHolds > 0) return `Finishing ${countOf(input.pusherHolds, 'change')} the server has not answered yet`;
  if (input.scanning.length > 0) return `Looking through folder ${input.scanning.join(', ')} for changes`;
  // Counted when known: the queue page lists what goes up, not what comes down (a new-user try).
  if (input.pullsRunning > 0) return input.incoming ? `Bringing in ${countOf(input.incoming, 'change')} from the server` : 'Bringing in changes from the server';
  return null;
}

/** When each folder last synced, kept in the store's settings so that a restart still knows. */
const LAST_SYNC_KEY = 'last_sync';

export function loadLastSync(settings: Pick<SettingsRepo, 'get'>): Map<string, number> {
  try {
    const raw = JSON.parse(settings.get(LAST_SYNC_KEY) ?? '{}') as Record<string, unknown>;
    return new Map(Object.entries(raw).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])));
  } catch {
    return new Map();
  }
}

export function saveLastSync(settings: Pick<SettingsRepo, 'set'>, lastSync: ReadonlyMap<string, number>): void {
  settings.set(LAST_SYNC_KEY, JSON.stringify(Object.fromEntries(lastSync)));
}

/** Settings that are valid but will not do what the user may expect yet, said at save. */
export function settingsWarnings(settings: Pick<Settings, 'folders'>, isDirectory: (p: string) => boolean = directoryExists): string[] {
  return settings.folders
    .filter((f) => !isDirectory(f.localPath))
    .map((f) => `${f.localPath} does not exist (yet): the folder ${f.remoteId} waits until it is created, then syncs on its own`);
}

function directoryExists(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
