import { countOf } from './count-words';
import { deviceLabel } from './device-words';

/**
 * Where a held bulk delete came from, in the words every surface uses (the banner, the tray,
 * notifications, `ferry status`): the user decides knowing whose delete it is.
 */
export function deleteOrigin(pending: { side: 'scan' | 'pull'; devices: readonly string[] }): string {
  if (pending.side === 'scan') return 'on this computer';
  return pending.devices.length === 0 ? 'on another device' : `by ${devicesLine(pending.devices)}`;
}

function devicesLine(devices: readonly string[]): string {
  const names = devices.map(deviceLabel);
  return names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more devices` : names.join(', ');
}

/** Of a scan-side hold's deletes, the files whose delete reached the server before it (docs/conflict-rules.md, local deletes). */
export interface SentBeforeHold {
  count: number;
  /** The first few, sorted. */
  sample: string[];
}

/** The deletes a held bulk delete still holds back: all of them, less those that reached the server before it. */
export function heldCount(pending: { count: number; sent?: SentBeforeHold | undefined }): number {
  return Math.max(0, pending.count - (pending.sent?.count ?? 0));
}

/**
 * Those of a hold that went before it, in words. Scan side: "1 of them (f1.txt) had gone to the
 * server before the rest were held"; pull side, deleted here by the pulls of its window
 * (docs/conflict-rules.md): "12 of them (…) were deleted here by the pulls just before the rest
 * were held". Empty when none did.
 */
export function sentBeforeHoldLine(pending: { sent?: SentBeforeHold | undefined; side?: 'scan' | 'pull' }): string {
  const sent = pending.sent;
  if (!sent || sent.count === 0) return '';
  const names = sent.sample.length === 0 ? '' : ` (${samplePathsLine(sent)})`;
  const count = sent.count.toLocaleString('en');
  return pending.side === 'pull' ? `${count} of them${names} were deleted here by the pulls just before the rest were held` : `${count} of them${names} had gone to the server before the rest were held`;
}

/** The sample's paths as one line, with how many more there are: "a.txt, b.txt and 45 more". */
export function samplePathsLine(pending: { count: number; sample: readonly string[] }): string {
  if (pending.sample.length === 0) return '';
  const more = pending.count - pending.sample.length;
  return more > 0 ? `${pending.sample.join(', ')} and ${more} more` : pending.sample.join(', ');
}

/** Where a confirmed mass delete the Undo offer names happened, as the banner and `ferry status` say it. */
export function undoOrigin(offer: { side: 'scan' | 'pull'; devices: readonly string[] }): string {
  if (offer.side === 'scan') return 'deleted on this computer';
  return `deleted here by ${offer.devices.length === 0 ? 'another device' : devicesLine(offer.devices)}`;
}

/** An Undo offer's batch in words: "13 files deleted on this computer". */
export function undoBatchFiles(offer: { count: number; side: 'scan' | 'pull'; devices: readonly string[] }): string {
  return `${countOf(offer.count, 'file')} ${undoOrigin(offer)}`;
}

/** How long the banner offers Undo after a confirmed mass delete (the server keeps the versions longer). */
export const UNDO_KEEP_MS = 24 * 60 * 60_000;

/** Why no Undo is on offer, as the agent's Undo and `ferry mass-delete dismiss` say it. */
export function noUndoOffered(keepMs = UNDO_KEEP_MS): string {
  const kept = keepMs >= 3_600_000 ? `${Math.round(keepMs / 3_600_000)} hours` : `${Math.round(keepMs / 60_000)} minutes`;
  return `no confirmed mass delete waits for Undo (it was undone or dismissed already, or its ${kept} passed)`;
}

/** The files an Undo would bring back: the batch's, less those here again. */
export function filesToUndo(offer: { count: number; back: number }): number {
  return Math.max(0, offer.count - offer.back);
}
