import { createLogger } from '../../logging';
import type { MassDeleteHold, Store } from '../../store';
import { notMadeYet } from '../folder-marker';

/** The repositories a folder's state lives in. */
export type FolderStateStore = Pick<Store, 'folders' | 'activity' | 'transaction'>;

/**
 * The one writer of a folder's stored state (ok, error, paused for a mass delete). The
 * scanner and the puller report what they found through it; nothing else sets the state.
 */
export interface FolderStates {
  /** The root or its marker is missing. A mass-delete pause it interrupts is kept for later. */
  error(folderId: string, code: string, message: string): void;
  /** The root is back: ok again, or back to the mass-delete pause the error interrupted. */
  recovered(folderId: string): void;
  /**
   * A mass delete waits for the user; `reason` is the question. Already waiting on the same
   * side, the question is brought up to date quietly (the held pull weighed the server's
   * deletes again): no new Activity entry, no new warning.
   */
  pause(folderId: string, hold: MassDeleteHold, reason: string): void;
  /**
   * The user answered a mass delete: the folder syncs again. `withdrawn`: nobody answered, the
   * question went away by itself (the server's deletes were undone); Activity says so.
   */
  resume(folderId: string, withdrawn?: string): void;
}

const log = createLogger('engine:folder');

/**
 * `onRecovered`: the folder syncs again (its root is back, or a held bulk delete of this disk was
 * answered). Its pulls may be waiting out a backoff or a fallback pull minutes away by then; the
 * owner pulls at once (a folder made after it was added; the device stayed behind for 5 minutes
 * after a held delete was answered, found by a new-user try).
 */
export function folderStates(store: FolderStateStore, onChange: (folderId: string) => void = () => undefined, onRecovered: (folderId: string) => void = () => undefined): FolderStates {
  return {
    error(folderId, code, message) {
      const folder = store.folders.require(folderId);
      if (folder.state === 'error' && folder.errorCode === code) return;
      store.transaction(() => {
        store.folders.setError(folderId, code, message);
        // A folder not made yet waits: no failure in Activity (a new-user try read a red "failed").
        store.activity.add({ folderId, kind: notMadeYet(message) ? 'folder_waiting' : 'folder_error', message });
      });
      // A folder not made yet waits (the agent is `waiting`): no fault to warn of.
      if (code === 'folder_root_missing') log.info('folder not there (yet): waiting for it', { folder: folderId, code });
      else log.warn('folder in error', { folder: folderId, code });
      onChange(folderId);
    },
    recovered(folderId) {
      const folder = store.folders.require(folderId);
      if (folder.state !== 'error') return;
      store.transaction(() => {
        if (folder.pausedHold) store.folders.pause(folderId, folder.pausedReason ?? '', folder.pausedHold);
        else store.folders.setOk(folderId);
        store.activity.add({ folderId, kind: 'folder_ok', message: 'The folder is there now: it syncs' });
      });
      onChange(folderId);
      if (!folder.pausedHold) onRecovered(folderId);
    },
    pause(folderId, hold, reason) {
      const before = store.folders.require(folderId);
      if (before.state === 'paused_mass_delete' && before.pausedHold?.side === hold.side) {
        if (before.pausedReason === reason && sameHold(before.pausedHold, hold)) return;
        store.folders.pause(folderId, reason, hold);
        log.debug('mass delete still held, weighed again', { folder: folderId, side: hold.side, deletes: hold.deletes, files: hold.files });
        onChange(folderId);
        return;
      }
      store.transaction(() => {
        store.folders.pause(folderId, reason, hold);
        store.activity.add({ folderId, kind: 'mass_delete_paused', message: reason });
      });
      log.warn('mass delete held for confirmation', { folder: folderId, side: hold.side, deletes: hold.deletes, files: hold.files });
      onChange(folderId);
    },
    resume(folderId, withdrawn) {
      if (store.folders.get(folderId)?.state === 'ok') return;
      store.transaction(() => {
        store.folders.setOk(folderId);
        if (withdrawn !== undefined) store.activity.add({ folderId, kind: 'info', message: withdrawn });
      });
      if (withdrawn !== undefined) log.info('mass delete question withdrawn', { folder: folderId, reason: withdrawn });
      onChange(folderId);
      // The folder's pulls waited while it was held: they go again now, not at the fallback pull.
      onRecovered(folderId);
    },
  };
}

function sameHold(a: MassDeleteHold, b: MassDeleteHold): boolean {
  const list = (l: string[] | undefined) => (l ?? []).join('\n');
  return a.side === b.side && a.deletes === b.deletes && a.files === b.files && list(a.sample) === list(b.sample) && list(a.devices) === list(b.devices);
}
