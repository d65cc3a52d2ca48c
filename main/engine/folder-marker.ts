import { randomUUID } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Every folder root holds .ferry/folder-id. Its absence means the root is not what we
 * indexed (unmounted disk, moved folder): an error, never "everything was deleted".
 */
export const MARKER_DIR = '.ferry';
export const MARKER_FILE = 'folder-id';

/** A folder root's own problems: the folder's state says them (not each pull that meets them). */
export const ROOT_PROBLEMS = ['folder_root_missing', 'folder_marker_missing', 'folder_marker_mismatch'] as const;

export type RootCheck = { ok: true } | { ok: false; code: (typeof ROOT_PROBLEMS)[number]; message: string };

export const markerPath = (root: string): string => path.join(root, MARKER_DIR, MARKER_FILE);

export function readMarker(root: string): string | null {
  try {
    return readFileSync(markerPath(root), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** Writes the marker (atomically) and returns its id. */
export function writeMarker(root: string, id: string = randomUUID()): string {
  const dir = path.join(root, MARKER_DIR);
  mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `${MARKER_FILE}.${process.pid}.tmp`);
  writeFileSync(tmp, `${id}\n`);
  renameSync(tmp, markerPath(root));
  return id;
}

const NOT_MADE_YET = 'does not exist yet: it syncs on its own once it is created';
const AFRESH_HINT = "choose Sync afresh on the Folders page (or run ferry sync-now --afresh --folder ID) to download it again here";

/**
 * A synced folder that can be taken up afresh (SettingsKeeper.syncAfresh): its marker gone
 * (deleted and made again, or an empty mount point) or the folder itself gone (deleted, moved,
 * or its disk unmounted). Never one not made yet, nor one holding another folder's marker.
 */
export function goneOf(folder: { state: string; errorCode: string | null; errorMessage: string | null }): 'marker' | 'folder' | undefined {
  if (folder.state !== 'error') return undefined;
  if (folder.errorCode === 'folder_marker_missing') return 'marker';
  return folder.errorCode === 'folder_root_missing' && !notMadeYet(folder.errorMessage) ? 'folder' : undefined;
}

/** A folder's error that says only that its root was never made yet: nothing is wrong, it waits. */
export function notMadeYet(error: string | null): boolean {
  return error !== null && error.endsWith(NOT_MADE_YET);
}

/** Synchronous on purpose: two stats, run right before anything is read as deleted. */
export function checkRoot(root: string, expectedMarkerId: string | null): RootCheck {
  try {
    if (!lstatSync(root).isDirectory()) {
      return { ok: false, code: 'folder_root_missing', message: `${root} is not a directory` };
    }
  } catch {
    // Never seen (no marker recorded yet): nothing was lost, it has only not been made yet.
    const message =
      expectedMarkerId === null
        ? `The folder ${root} ${NOT_MADE_YET}`
        : `The folder ${root} is missing: it was deleted or moved, or its disk is not mounted. Nothing is deleted while it is so. Mount its disk, give its new place in Settings, or ${AFRESH_HINT}`;
    return { ok: false, code: 'folder_root_missing', message };
  }
  const found = readMarker(root);
  if (found === null) {
    // Says what to do: a new-user try deleted a synced folder, made it again, and read only this.
    return {
      ok: false,
      code: 'folder_marker_missing',
      message: `The folder ${root} has no ${MARKER_DIR}/${MARKER_FILE} marker: it was deleted and made again, or its disk is not mounted. Nothing is deleted while it is so. Mount its disk, or ${AFRESH_HINT}`,
    };
  }
  if (expectedMarkerId !== null && found !== expectedMarkerId) {
    return { ok: false, code: 'folder_marker_mismatch', message: `The folder ${root} holds a different folder's marker` };
  }
  return { ok: true };
}
