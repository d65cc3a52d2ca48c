import type { HistoryItem } from '../../../protocol';

/**
 * A file's *line*: the file as renames carry it, followed through the histories' `movedFrom`
 * (back) and `movedTo` (forward). "P as it was at T" restores each line once, at its current
 * name (docs/conflict-rules.md, "A folder as it was at a moment, across renames", R1–R5).
 *
 * Pure over the histories read so far (newest first, by path): a step that needs a history not
 * read yet answers `{ need: path }`, and the caller reads it and asks again.
 */
export type Histories = ReadonlyMap<string, readonly HistoryItem[]>;
export type Need = { need: string };
export const isNeed = (answer: unknown): answer is Need => typeof answer === 'object' && answer !== null && 'need' in answer;

/** What a line had at the moment: the revision at `path` (its name then), or why there is none. */
export type LineAt = { path: string; item: HistoryItem; changed: boolean } | { reason: string };

/** More renames than this in one line is a loop of corrupt data, not a user's history. */
const MAX_STEPS = 64;
const rev = (h: HistoryItem) => Number(h.revision);

/**
 * R1: where the line found at `path` lives now. A path a move took away (its newest revision a
 * tombstone with `movedTo`) is followed to the move's target, and on through later moves; a
 * line deleted at a name another file has taken since stays where it was found.
 */
export function currentName(path: string, histories: Histories): string | Need {
  const own = histories.get(path);
  if (!own) return { need: path };
  return followMoves(path, own[0], histories);
}

/**
 * Where the thing `path` held at `at` (ms) lives now when a move took it away since, though the
 * name may hold another file or folder today (R1): undefined when it was not moved away.
 */
export function movedAwaySince(path: string, at: number, histories: Histories): string | undefined | Need {
  const own = histories.get(path);
  if (!own) return { need: path };
  const then = own.findIndex((h) => Date.parse(h.modificationDate) <= at);
  if (then < 0 || own[then]!.deleted) return undefined;
  // The first delete after then (newest first: the entries before it in the list).
  const end = own.slice(0, then).filter((h) => h.deleted).at(-1);
  if (end?.movedTo === undefined) return undefined;
  const now = followMoves(path, end, histories);
  return now === path ? undefined : now;
}

/** Where a line that left `path` by the move whose tombstone is `tombstone` lives now (`path` when it cannot be followed). */
function followMoves(path: string, first: HistoryItem | undefined, histories: Histories): string | Need {
  let at = path;
  let tombstone = first;
  for (let step = 0; step < MAX_STEPS; step++) {
    if (!tombstone?.deleted || tombstone.movedTo === undefined) return at;
    const left = tombstone;
    const to = left.movedTo!;
    const there = histories.get(to);
    if (!there) return { need: to };
    // The revision the move wrote there: it names this path, and comes just before the tombstone.
    const moveIn = there.find((h) => h.movedFrom === at && rev(h) < rev(left));
    if (!moveIn) return path; // pruned: the line cannot be followed
    const later = there.filter((h) => rev(h) > rev(moveIn));
    const end = later.filter((h) => h.deleted).at(-1);
    if (!end) return to; // it lives there
    // Deleted there: it comes back there, unless another file has that name now.
    if (end.movedTo === undefined) return later[0] === end ? to : path;
    at = to;
    tombstone = end;
  }
  return path;
}

/**
 * The name a revision of the line now at `path` was written under: the path itself, or an old
 * name a move since came from (`ferry restore NEW --revision R` with R from the old name's
 * history). undefined when the line holds no such revision.
 */
export function nameOfRevision(path: string, revision: string, histories: Histories): string | undefined | Need {
  let name = path;
  let below = Number.POSITIVE_INFINITY;
  for (let step = 0; step < MAX_STEPS; step++) {
    const history = histories.get(name);
    if (!history) return { need: name };
    const older = history.filter((h) => rev(h) < below);
    if (older.some((h) => h.revision === revision)) return name;
    const moveIn = older.find((h) => h.movedFrom !== undefined && rev(h) > Number(revision));
    if (!moveIn) return undefined;
    name = moveIn.movedFrom!;
    below = rev(moveIn);
  }
  return undefined;
}

/**
 * R2: the line now at `path` as it was at `at` (ms): its first revision at or before `at`,
 * newest first, continuing at the old name of each move since. `changed`: a write (not a move)
 * came after it. A delete met on the way back (not the line's newest revision) means the file
 * now at that name was made after `at`, unless a restore brought it back just after the delete.
 */
export function lineAt(path: string, at: number, histories: Histories, when: string): LineAt | Need {
  let name = path;
  let below = Number.POSITIVE_INFINITY;
  let changed = false;
  for (let step = 0; step < MAX_STEPS; step++) {
    const history = histories.get(name);
    if (!history) return { need: name };
    let newest = true;
    let moved: HistoryItem | undefined;
    // The revision just after the one looked at (newest first): a restore after a delete goes on.
    let after: HistoryItem | undefined;
    for (const h of history) {
      if (rev(h) >= below) continue;
      if (Date.parse(h.modificationDate) <= at) return { path: name, item: h, changed };
      if (h.movedFrom !== undefined) {
        moved = h;
        break;
      }
      // What had the name at T was deleted or moved away since (a new-user try read "it did not
      // exist at T" of a folder that did, renamed since and made again under its old name).
      // Only when something had it then: the first revision at or before T, further back, is live.
      // A deleted file brought back (its next revision a restore) is the same file: the line goes on.
      if (h.deleted && !newest && after?.restoredFrom === undefined) {
        const then = history.find((older) => rev(older) < rev(h) && Date.parse(older.modificationDate) <= at);
        return { reason: then && !then.deleted ? `this one was made after ${when}; what had its name then was ${h.movedTo !== undefined ? `moved to ${h.movedTo}` : 'deleted'} since` : `it did not exist at ${when}` };
      }
      changed = true;
      newest = false;
      after = h;
    }
    if (!moved) return { reason: history.length === 0 ? 'the server has no history of this path' : `it did not exist at ${when}` };
    name = moved.movedFrom!;
    below = rev(moved);
  }
  return { reason: 'its renames could not be followed' };
}

/**
 * R1: where a line deleted at `name` comes back: there, or, when a folder above it was renamed
 * since (its own line lives on elsewhere), at the same place in that folder's current name.
 */
export function placeOf(name: string, histories: Histories): string | Need {
  const own = histories.get(name);
  if (!own) return { need: name };
  const newest = own[0];
  if (!newest?.deleted || newest.movedTo !== undefined) return name;
  const parts = name.split('/');
  for (let depth = parts.length - 1; depth > 0; depth--) {
    const folder = parts.slice(0, depth).join('/');
    const now = currentName(folder, histories);
    if (typeof now !== 'string') return now;
    if (now !== folder) return now + name.slice(folder.length);
  }
  return name;
}

/**
 * R5, a file renamed since its last edit: the version "undo the last change" brings back, found
 * back through its renames: the newest whose content is not the current one (by content hash;
 * without one, the newest before the current), and the name it was written under. undefined
 * when the line holds none (a delete, or a name made there, ends it).
 */
export function previousOnLine(path: string, histories: Histories): { name: string; revision: string } | undefined | Need {
  const own = histories.get(path);
  if (!own) return { need: path };
  const current = own[0];
  if (!current || current.deleted) return undefined;
  const sameContent = (h: HistoryItem) => current.contentHash !== undefined && h.contentHash === current.contentHash;
  let name = path;
  let below = rev(current);
  for (let step = 0; step < MAX_STEPS; step++) {
    const history = histories.get(name);
    if (!history) return { need: name };
    let moveIn: HistoryItem | undefined;
    // The revision just after the one looked at: a delete a restore undid does not end the line (R2).
    let after: HistoryItem | undefined;
    for (const h of history) {
      if (rev(h) >= below) continue;
      // The line's own move away and back (A → B → A), or a delete a restore undid: it goes on.
      if (h.deleted && h.movedTo === undefined && after?.restoredFrom === undefined) return undefined;
      after = h;
      if (h.deleted) continue;
      if (!sameContent(h)) return { name, revision: h.revision };
      if (h.movedFrom !== undefined) {
        moveIn = h;
        break;
      }
    }
    // The current revision itself may be the move that brought the line here.
    if (!moveIn && name === path && current.movedFrom !== undefined && step === 0) moveIn = current;
    if (!moveIn) return undefined;
    name = moveIn.movedFrom!;
    below = rev(moveIn);
  }
  return undefined;
}
