import type { HistoryItem } from '../../../protocol';

/**
 * A file's *line*: the file as renames carry it, followed through the histories' `movedFrom`
 * (back) and `movedTo` (forward). "P as it was at T" restores each line once, at its current
 * name (docs/conflict-rules.md, "A folder as it was at a moment, across renames", R1–R3).
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
  let at = path;
  let tombstone = own[0];
  for (let step = 0; step < MAX_STEPS; step++) {
    if (!tombstone?.deleted || tombstone.movedTo === undefined) return at;
    const to = tombstone.movedTo;
    const there = histories.get(to);
    if (!there) return { need: to };
    // The revision the move wrote there: it names this path, and comes just before the tombstone.
    const moveIn = there.find((h) => h.movedFrom === at && rev(h) < rev(tombstone!));
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
 * R2: the line now at `path` as it was at `at` (ms): its first revision at or before `at`,
 * newest first, continuing at the old name of each move since. `changed`: a write (not a move)
 * came after it. A delete met on the way back (not the line's newest revision) means the file
 * now at that name was made after `at`.
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
    for (const h of history) {
      if (rev(h) >= below) continue;
      if (Date.parse(h.modificationDate) <= at) return { path: name, item: h, changed };
      if (h.movedFrom !== undefined) {
        moved = h;
        break;
      }
      if (h.deleted && !newest) return { reason: `it did not exist at ${when}` };
      changed = true;
      newest = false;
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
