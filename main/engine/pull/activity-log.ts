import { SETTLE_CONFLICT } from '../../../shared/conflict-words';
import type { ActivityRepo, NewActivity } from '../../store/activity';
import { createLogger } from '../../logging';
import { ActivityBatch } from '../activity-batch';
import { parseConflictName } from '../conflict-name';
import { ROOT_PROBLEMS } from '../folder-marker';
import { deviceLabel } from '../../../shared/device-words';
import type { PullerEmitter, PullerEvents } from './events';
import { onlyWaitedOnThisDevice, WAITS_FOR_RENAME } from './health';

const log = createLogger('pull');

const ROOT_PROBLEM_CODES: ReadonlySet<string> = new Set(ROOT_PROBLEMS);

/** Whom Activity names for a change: this device, and how the others are called. */
export interface DeviceNaming {
  self?: { id: string; name: string };
  deviceLabel?: (id: string) => string;
}

/**
 * Who did it, where the feed says (a new-user try read a delete here that named nobody): none
 * for a full sync's delete (no device) or this device's own change coming back.
 */
export function otherDevice(names: DeviceNaming): (device: string | undefined) => string | null {
  return (device) => (device === undefined || device === '' || device === names.self?.id ? null : (names.deviceLabel ?? deviceLabel)(device));
}

/**
 * What a pull did, written to the Activity log from the puller's own events: files downloaded,
 * files deleted here because they were deleted on the server, and pulls that failed. (Conflict
 * copies are written where they are made, in the applier.) Returns the unsubscribe.
 */
export function logPullActivity(events: PullerEmitter, activity: Pick<ActivityRepo, 'addMany'> & Partial<Pick<ActivityRepo, 'lastIs'>>, names: DeviceNaming = {}): () => void {
  // A new file of a path this device deleted (U2): another device kept it (its edit won, D5, or
  // its user cancelled a bulk delete) or made it again. Said so, not as a plain download (a
  // new-user try read "Downloaded" of a file deleted here a minute before, and no reason).
  const newAtDeleted = new Map<NewActivity, string>();
  const backAfterDelete = (entries: NewActivity[]) => {
    if (newAtDeleted.size === 0 || !activity.lastIs) return newAtDeleted.clear();
    try {
      const byFolder = new Map<string, NewActivity[]>();
      for (const entry of entries.filter((e) => newAtDeleted.has(e))) {
        const list = byFolder.get(entry.folderId!);
        if (list) list.push(entry);
        else byFolder.set(entry.folderId!, [entry]);
      }
      for (const [folderId, candidates] of byFolder) {
        const deletedHere = activity.lastIs(folderId, candidates.map((e) => e.path!), 'deleted_local');
        for (const entry of candidates) {
          if (deletedHere.has(entry.path!)) entry.message = `Downloaded: deleted here earlier, but ${newAtDeleted.get(entry)!} kept it or made it again, so it is back`;
        }
      }
    } finally {
      newAtDeleted.clear();
    }
  };
  const lines = new ActivityBatch(activity, log, backAfterDelete);
  const add = (entry: NewActivity) => lines.add(entry);
  const flush = () => lines.flush();
  const who = otherDevice(names);
  const onApplied = ({ folderId, path, action, rule, restoredFrom, from, to, device }: PullerEvents['applied'][0]) => {
    const by = who(device);
    const movedBy = by !== null ? `${by} moved it` : 'it was moved on the server';
    // Another device's conflict copy: said as one here too (found by a new-user try: the device
    // whose version won read only "Downloaded", and never learned that the other was kept).
    const copy = action === 'downloaded' ? parseConflictName(path) : null;
    // One named after this device was made here once, and is back (a restore, Sync afresh).
    if (copy && copy.device === names.self?.name) add({ folderId, kind: 'downloaded', path, message: `Downloaded: a conflict copy of ${copy.original} made here before, back from the server` });
    else if (copy) add({ folderId, kind: 'conflict', path, message: `${copy.device} changed ${copy.original} too: its version is kept in this copy beside yours; ${SETTLE_CONFLICT}` });
    // A restore says so, on every device (found by a new-user try: "Downloaded" of a version restored here).
    // Who restored it, as a delete names who deleted (a new-user try read no name).
    else if (action === 'downloaded' && restoredFrom !== undefined) add({ folderId, kind: 'downloaded', path, message: `Restored: version #${restoredFrom} came back${by !== null ? ` (${by} restored it)` : ''}` });
    // Deleted here, changed there (U3): the change wins, and says so (it read only "Downloaded").
    else if (action === 'downloaded' && rule === 'U3') add({ folderId, kind: 'downloaded', path, message: `Downloaded: deleted here, but ${by ?? 'another device'} changed it: the change wins, so that version is back` });
    else if (action === 'downloaded' && rule === 'U2') {
      const line = { folderId, kind: 'downloaded', path, message: 'Downloaded' };
      // This device's own upload coming back (its Cancel sent again what it had deleted) is no other device's doing.
      if (by !== null) newAtDeleted.set(line, by);
      add(line);
    } else if (action === 'downloaded') add({ folderId, kind: 'downloaded', path, message: 'Downloaded' });
    else if (action === 'deleted' && to !== undefined) add({ folderId, kind: 'moved_remote', path, message: `Moved to ${to}: ${movedBy}` });
    else if (action === 'deleted') add({ folderId, kind: 'deleted_remote', path, message: by !== null ? `Deleted here: ${by} deleted it` : 'Deleted here: it was deleted on the server' });
    // From where: a new-user try could not tell a rename from a new file.
    else if (action === 'moved') add({ folderId, kind: 'moved_remote', path, message: from !== undefined ? `Moved here from ${from}: ${movedBy}` : `Moved here: ${movedBy}` });
  };
  // The code each folder's last failed pull was said with: a retry failing alike is not said again
  // until a pull gets through (a new-user try found a red line every 30 s for a folder not made yet).
  const said = new Map<string, string>();
  const onError = ({ folderId, error }: { folderId: string; error: { code: string; message: string } }) => {
    // A wait of a second on this device's own upload or scan is no failed pull (onlyWaitedOnThisDevice);
    // the folder's own problem (its root missing) is its state's, said once by its folder_error line.
    // The server out of reach is the link's to say, once each way (the agent's own Activity lines).
    if (onlyWaitedOnThisDevice(error) || ROOT_PROBLEM_CODES.has(error.code) || error.code === 'offline' || said.get(folderId) === error.code) return;
    said.set(folderId, error.code);
    if (error.code === WAITS_FOR_RENAME) add({ folderId, kind: 'info', message: `Waiting for a rename here: ${error.message}` });
    else add({ folderId, kind: 'pull_failed', message: `Pull failed (${error.code}): ${error.message}` });
    flush();
  };
  const onPulled = ({ folderId }: { folderId: string }) => said.delete(folderId);
  events.on('applied', onApplied);
  events.on('error', onError);
  events.on('pulled', onPulled);
  // A finished pull's lines are in the log before anyone hears it finished.
  events.prependListener('pulled', flush);
  return () => {
    flush();
    events.off('applied', onApplied);
    events.off('error', onError);
    events.off('pulled', flush);
    events.off('pulled', onPulled);
  };
}
