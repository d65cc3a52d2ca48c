import { countOf } from './count-words';

/**
 * What a restore brought back, in the words every surface uses (Deleted files, `ferry restore`):
 * files and folders counted apart, and the pronoun that agrees with them. Nothing back is null:
 * the surface says "nothing restored", never "Restored 0 files; they come back" (found by a
 * new-user try, as was "Restored 1 file; they come back").
 */
export function restoredWords(result: { restored: number; folders: number }): { what: string; one: boolean } | null {
  const { restored, folders } = result;
  if (restored + folders === 0) return null;
  const parts = [restored > 0 ? countOf(restored, 'file') : '', folders > 0 ? countOf(folders, 'folder') : ''].filter(Boolean);
  return { what: parts.join(' and '), one: restored + folders === 1 };
}

/** When restored versions reach this device: with its next pull, which waits while Ferry is paused. */
export function comesBack(one: boolean, paused: boolean): string {
  return `${one ? 'it comes' : 'they come'} back here ${paused ? 'once you resume' : 'with the next pull'}`;
}

/** The server's version now, of a history newest first: none when its newest row is a delete (CLI and web UI mark it alike). */
export function currentRevision(items: ReadonlyArray<{ revision: string; deleted: boolean }>): string | undefined {
  const newest = items[0];
  return newest !== undefined && !newest.deleted ? newest.revision : undefined;
}
