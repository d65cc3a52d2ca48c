import { countOf } from './count-words';
import type { FolderStatus } from './ui-contract';

/**
 * What a folder's badge leads with, in order: "ok" only when nothing holds the folder back. One
 * rule for the web UI's card and `ferry status` (a new-user try read "ok" in the terminal beside
 * "1 failing" on the card: a failed upload, the folder at last shared with this user).
 */
export type FolderHeadline =
  | { kind: 'pending_delete' }
  | { kind: 'error' }
  | { kind: 'waiting_for_folder' }
  | { kind: 'disk_full' }
  | { kind: 'failing'; count: number }
  | { kind: 'unsyncable'; count: number }
  | { kind: 'waiting_for_server' }
  | { kind: 'paused' }
  | { kind: 'state' };

/** Nothing moves: the server cannot be reached, or it refuses this device (the agent's state). */
export const waitsForServer = (agentState: string | undefined): boolean => agentState === 'offline' || agentState === 'auth_failed';

export function folderHeadline(folder: Pick<FolderStatus, 'pendingDelete' | 'state' | 'counts' | 'unsyncable' | 'notMadeYet'>, agentState: string | undefined): FolderHeadline {
  if (folder.pendingDelete) return { kind: 'pending_delete' };
  // Not a fault: the folder is not made yet, and syncs once it is (a new-user try read "error").
  if (folder.state === 'error' && folder.notMadeYet) return { kind: 'waiting_for_folder' };
  if (folder.state === 'error') return { kind: 'error' };
  if (folder.state === 'disk_full') return { kind: 'disk_full' };
  const failed = folder.counts?.failed ?? 0;
  if (failed > 0) return { kind: 'failing', count: failed };
  const unsyncable = folder.unsyncable?.count ?? 0;
  if (unsyncable > 0) return { kind: 'unsyncable', count: unsyncable };
  if (waitsForServer(agentState)) return { kind: 'waiting_for_server' };
  if (agentState === 'paused') return { kind: 'paused' };
  return { kind: 'state' };
}

/**
 * The paths the server has that an ignore rule keeps from here, in the words the card's summary
 * and `ferry status` both say (docs/conflict-rules.md, "Ignored paths"); null when there are none.
 */
export function ignoredOnServerWords(folder: Pick<FolderStatus, 'ignoredOnServer'>): string | null {
  const n = folder.ignoredOnServer ?? 0;
  return n > 0 ? `${countOf(n, 'path')} on the server ignored here` : null;
}
