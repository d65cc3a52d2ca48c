import path from 'node:path';
import type { ControlClient } from '../control-client';
import { FerryError } from '../../../protocol/errors';

/**
 * What `ferry history` and `ferry restore` share: which folder is meant (--folder, or the only
 * one), and paths as the server names them (folder-relative, '/'-separated). An absolute
 * path is taken as a place on this disk inside the folder.
 */
export async function resolveFolder(client: ControlClient, flag: string | undefined): Promise<{ id: string; localPath: string }> {
  return pickFolder((await client.call('getStatus', {})).folders, flag);
}

/** Of the agent's folders, the one `--folder` names, or the only one. */
export function pickFolder<F extends { id: string }>(folders: readonly F[], flag: string | undefined): F {
  if (flag !== undefined) {
    const folder = folders.find((f) => f.id === flag);
    if (!folder) throw new FerryError('not_found', `No folder '${flag}' (ferry status lists them)`);
    return folder;
  }
  if (folders.length === 1) return folders[0]!;
  throw new FerryError('invalid_request', folders.length === 0 ? 'The agent has no folders' : `Say which folder with --folder (one of ${folders.map((f) => f.id).join(', ')})`);
}

/**
 * The folder-relative path a user means. Typed inside the folder (the shell's directory is in
 * it), a relative path is relative to where they are, as `ferry why` takes it: `history x.txt`
 * in `Docs/renamed` is `renamed/x.txt`. Typed elsewhere, a path that leads into the folder from
 * there is that place (`history Docs/a.txt` in the folder's parent, as a shell completes it);
 * any other is folder-relative, as the server names paths (`ferry history notes/report.txt`).
 */
export function folderRelative(localPath: string, given: string, cwd: string = process.cwd()): string {
  const relative = path.relative(localPath, path.resolve(cwd, given));
  const typedInside = isBelow(path.relative(localPath, cwd));
  if (!path.isAbsolute(given) && !typedInside && !isBelow(relative)) {
    // A path inside the folder, as typed: `a/../b` is `b` there (the server takes no `..`), and
    // one that climbs out of the folder names nothing in it (a new-user try: "Invalid query").
    const inside = path.posix.normalize(given.replace(/\\/g, '/')).replace(/\/+$/, '');
    if (inside === '.' || inside === '..' || inside.startsWith('../')) throw new FerryError('invalid_request', `${given} is not inside the folder ${localPath}`);
    return inside;
  }
  if (!isBelow(relative)) {
    throw new FerryError('invalid_request', `${given} is not inside the folder ${localPath}`);
  }
  return relative.split(path.sep).join('/');
}

/** A path.relative() answer that names something strictly below its base. */
export function isBelow(relative: string): boolean {
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

const AGO_UNITS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
const AGO = /^(\d{1,6})(m|h|d|w)$/;

/**
 * An ISO moment from what a user types (2030-01-02, 2030-01-02T10:00, …), or a time ago counted
 * back from `now` (30m, 2h, 3d, 1w: minutes, hours, days, weeks), or a problem. A date must start
 * with its year-month-day: a bare "12" read as December 2001 (Date.parse takes it).
 */
export function isoMoment(flag: string, raw: string | undefined, now: () => number = Date.now): { value?: string; problem?: string } {
  if (raw === undefined) return {};
  const ago = AGO.exec(raw.trim());
  if (ago) return { value: new Date(now() - Number(ago[1]) * AGO_UNITS[ago[2] as keyof typeof AGO_UNITS]).toISOString() };
  const ms = /^\d{4}-\d{2}-\d{2}/.test(raw.trim()) ? Date.parse(raw) : Number.NaN;
  return Number.isNaN(ms)
    ? { problem: `--${flag} must be a date and time, e.g. 2030-01-02T10:00:00Z, or a time ago, e.g. 30m, 2h, 3d or 1w, not ${JSON.stringify(raw)}` }
    : { value: new Date(ms).toISOString() };
}
