import type { MassDeleteSide } from '../../store';
import { heldCount, sentBeforeHoldLine, type SentBeforeHold } from '../../../shared/pending-delete';

/**
 * The mass-delete rule, one module for both sides (docs/conflict-rules.md, "Deletes and the
 * mass-delete guard"). Both count files only: a directory carries no bytes.
 */
export interface MassDeleteOptions {
  /** Trips when more than this share of the folder's files would go (0-100). Default 50. */
  massDeletePercent: number;
  /** Trips when more than this many files would go. Default 1000. */
  massDeleteCount: number;
  /** The percentage rule only counts from this many deletes (a 2-file folder losing one does not ask). Default 3. */
  massDeleteMinCount: number;
}

/** How many of a held delete's paths the user is shown: enough to recognise it, not the whole list. */
export const HOLD_SAMPLE_SIZE = 10;

export const DEFAULT_MASS_DELETE: MassDeleteOptions = { massDeletePercent: 50, massDeleteCount: 1000, massDeleteMinCount: 3 };

export interface MassDeleteVerdict {
  tripped: boolean;
  deletes: number;
  files: number;
  /** For the folder's paused reason and the question to the user. */
  reason: string;
}

/** Too few deletes to trip either rule, whatever the folder holds: callers skip counting it. */
export function belowAnyThreshold(deletes: number, options: MassDeleteOptions): boolean {
  return deletes < options.massDeleteMinCount && deletes <= options.massDeleteCount;
}

/**
 * PURE: would `deletes` deletions out of `files` files need the user's yes? `side` says whose
 * deletes they are: the server's (a pull) or this disk's (a scan, to be pushed).
 */
export function checkMassDelete(
  deletes: number,
  files: number,
  options: MassDeleteOptions = DEFAULT_MASS_DELETE,
  side: MassDeleteSide = 'pull',
  removedHere = 0,
): MassDeleteVerdict {
  const share = files > 0 ? (deletes / files) * 100 : deletes > 0 ? 100 : 0;
  const byCount = deletes > options.massDeleteCount;
  const byShare = deletes >= options.massDeleteMinCount && share > options.massDeletePercent;
  const tripped = byCount || byShare;
  return { tripped, deletes, files, reason: tripped ? massDeleteReason(side, deletes, files, undefined, removedHere) : '' };
}

/**
 * The question to the user, for either side. `sent`: of this disk's deletes, those that reached
 * the server before the hold (docs/conflict-rules.md, local deletes): Confirm sends the others.
 */
export function massDeleteReason(side: MassDeleteSide, deletes: number, files: number, sent?: SentBeforeHold, removedHere = 0): string {
  const percent = Math.round(files > 0 ? (deletes / files) * 100 : 100);
  if (side === 'pull' && removedHere > 0) {
    // The window's deletes (docs/conflict-rules.md, "The server's deletes are weighed over a window too").
    const n = (x: number) => x.toLocaleString('en');
    return (
      `The server's changes delete ${n(deletes)} of ${n(files)} local files (${percent}%); ${n(removedHere)} of them were deleted here already by the pulls just before. ` +
      `Confirm to delete the other ${n(deletes - removedHere)} here too, or cancel to keep them and bring the ${n(removedHere)} back.`
    );
  }
  if (side === 'pull') {
    return `The server's changes would delete ${deletes} of ${files} local files (${percent}%). ` + 'Confirm to delete them here too, or cancel to keep them and upload them again.';
  }
  const before = sentBeforeHoldLine({ sent });
  return before === ''
    ? `${deletes} of ${files} files (${percent}%) disappeared from this folder. Confirm to delete them on the server too, or cancel to restore them from the server.`
    : `${deletes} of ${files} files (${percent}%) disappeared from this folder; ${before}. ` +
        `Confirm to delete the other ${heldCount({ count: deletes, sent })} on the server too, or cancel to restore all ${deletes} from the server.`;
}
