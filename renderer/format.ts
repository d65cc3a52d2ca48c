/** Display formatting shared by the views (pure, unit-tested). */

import { comesBack, restoredWords } from '../shared/restore-words';
import { countOf } from '../shared/count-words';
import { ignoredOnServerWords, waitsForServer } from '../shared/folder-headline';
import { heldCount } from '../shared/pending-delete';
import type { FolderStatus } from '../shared/ui-contract';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/** SI sizes, like the OS file managers: 1 KB = 1000 B. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

const counter = new Intl.NumberFormat('en');
export function formatCount(n: number): string {
  return counter.format(n);
}

/** "1 file", "2 files", "1,000 files": a count with its noun, singular for one. */
export const formatCountOf = countOf;

/** A restore's answer, first line: what came back and when it reaches this device, or that nothing did. */
export function restoreOutcomeLine(result: { restored: number; folders: number }, paused: boolean): string {
  const back = restoredWords(result);
  return back ? `Restored ${back.what}; ${comesBack(back.one, paused)}.` : 'Nothing restored.';
}

/**
 * The answer of an Undo of a mass delete, as its banner says it: what came back, and what was left
 * and why. Nothing back says so (found by a new-user try: files restored already read "0 files
 * restored… They come back here").
 */
export function undoOutcome(result: { restored: number; failed: readonly unknown[]; skipped: readonly unknown[] }, where: string): { headline: string; detail: string } {
  const left = result.failed.length + result.skipped.length;
  const why = 'written again or restored since, or no longer kept';
  if (result.restored === 0) {
    return { headline: `Undo: nothing to bring back in ${where}.`, detail: left > 0 ? `${formatCountOf(left, 'file')} left as ${left === 1 ? 'it is' : 'they are'} (${why}).` : '' };
  }
  return {
    headline: `Undo: ${formatCountOf(result.restored, 'file')} restored in ${where}.`,
    detail: `They come back here and on every other device with the next pull${left > 0 ? `; ${formatCount(left)} left as they are (${why})` : ''}.`,
  };
}

/** "in 5 s", "3 min ago", "2 h ago"; dates further than a day away as a date. */
export function formatRelative(iso: string | null, now: number = Date.now()): string {
  if (!iso) return 'never';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const seconds = Math.round((at - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 5) return 'just now';
  const amount =
    size < 60 ? `${size} s` : size < 3600 ? `${Math.round(size / 60)} min` : size < 86_400 ? `${Math.round(size / 3600)} h` : undefined;
  if (!amount) return new Date(at).toLocaleString();
  return seconds > 0 ? `in ${amount}` : `${amount} ago`;
}

/** A moment as a question names it: its time of day today ("14:02"), else its date and time. */
export function formatWhen(iso: string, now: number = Date.now()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const today = new Date(now).toDateString() === at.toDateString();
  return today ? at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : at.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * The agent state's words on screen; the others read as they are named. It waits for the user's
 * answer to a held delete, or for a folder not made yet (a new-user try read "waiting for you"
 * for that one, the words of a held delete).
 */
export function agentStateLabel(state: string, folders: ReadonlyArray<{ state: string }> = []): string {
  if (state === 'waiting') return folders.some((f) => f.state === 'paused_mass_delete') ? 'waiting for you' : 'waiting for a folder';
  return state === 'auth_failed' ? 'sign-in refused' : state;
}

/**
 * What an item in flight is doing while the server cannot be reached or refuses this device: it
 * waits for the link (the pusher holds it until a probe gets through), not uploading. Null when
 * "in flight" is the truth.
 */
export function waitingForServer(itemState: string, agentState: string | undefined): string | null {
  if (itemState !== 'in_flight' || !waitsForServer(agentState)) return null;
  return `waiting for the server (${agentStateLabel(agentState!)})`;
}

/** 0–100, for progress bars; an unknown total shows as 0. */
export function percentDone(done: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, Math.round((done / total) * 100)));
}

/**
 * The folder's sync in a few words: never "everything in sync" while something holds it back,
 * nor while the server has paths an ignore rule keeps from here (said after the rest).
 */
export function syncSummary(folder: FolderStatus, notInSync: number, behind: number | null, agentState: string | undefined): string {
  // The question waits, not each delete: some of a burst may have reached the server before the guard tripped (new-user try).
  if (folder.pendingDelete) return `a delete of ${formatCountOf(heldCount(folder.pendingDelete), 'file')} waits for your answer`;
  if (folder.state === 'error') return folder.notMadeYet ? 'syncs once the folder is created' : 'not syncing';
  if (folder.state === 'disk_full') return 'waiting for disk space';
  // What the server has that is not here yet (a new-user try read "everything in sync" through a
  // 300 MB download, and while paused in the middle of one): coming now, or waiting. Said beside
  // what is not in sync here too (another read "1 not in sync" while 2 changes were behind).
  const fromServer = folder.incoming
    ? `bringing in ${formatCountOf(folder.incoming, 'change')} from the server`
    : folder.pullError
      ? 'changes from the server not coming'
      : folder.pullWait
        ? 'changes from the server wait for a rename here'
      : behind !== null && behind > 0
        ? `${formatCountOf(behind, 'change')} from the server not here yet`
        : null;
  // Kept from here by a rule, not in sync either (by review: "everything in sync" while `ferry why` said "not in sync: ignored").
  const ignored = ignoredOnServerWords(folder);
  const also = (said: string) => (ignored ? `${said}; ${ignored}` : said);
  if (notInSync > 0) return also(`${formatCount(notInSync)} not in sync${fromServer ? `; ${fromServer}` : ''}`);
  // Out of touch with the server, nothing is known of its side: not "everything in sync" (a new-user
  // try read that beside "sign-in refused" on a revoked device).
  if (!fromServer && (agentState === 'auth_failed' || agentState === 'offline')) return also(agentState === 'auth_failed' ? "nothing to send; the server's changes are not known while signed out" : "nothing to send; the server's changes are not known while it cannot be reached");
  if (fromServer) return also(fromServer);
  return ignored ? `in sync except ${ignored}` : 'everything in sync';
}
