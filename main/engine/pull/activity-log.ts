import type { ActivityRepo, NewActivity } from '../../store/activity';
import { createLogger } from '../../logging';
import type { PullerEmitter } from './events';

const log = createLogger('pull');

/**
 * What a pull did, written to the Activity log from the puller's own events: files downloaded,
 * files deleted here because they were deleted on the server, and pulls that failed. (Conflict
 * copies are written where they are made, in the applier.) Returns the unsubscribe.
 */
export function logPullActivity(events: PullerEmitter, activity: Pick<ActivityRepo, 'addMany'>): () => void {
  // Lines are written together once the event loop turns (and at the end of each pull): one
  // commit for a burst of downloads instead of one per file. A kill may lose the last turn's
  // lines; the files and their index rows do not depend on them.
  let pending: NewActivity[] = [];
  let scheduled: NodeJS.Immediate | null = null;
  const flush = () => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = null;
    const entries = pending;
    pending = [];
    // A line that cannot be written (a state database on a full disk) must not fail the pull
    // or keep its failure from being reported: the log is a record, not part of the work.
    try {
      activity.addMany(entries);
    } catch (error) {
      log.warn('could not write to the activity log', { lines: entries.length, error: error instanceof Error ? error.message : String(error) });
    }
  };
  const add = (entry: NewActivity) => {
    pending.push(entry);
    scheduled ??= setImmediate(flush);
  };
  const onApplied = ({ folderId, path, action }: { folderId: string; path: string; action: string }) => {
    if (action === 'downloaded') add({ folderId, kind: 'downloaded', path, message: 'Downloaded' });
    else if (action === 'deleted') add({ folderId, kind: 'deleted_remote', path, message: 'Deleted here: it was deleted on the server' });
    else if (action === 'moved') add({ folderId, kind: 'moved_remote', path, message: 'Moved here: it was moved on the server' });
  };
  const onError = ({ folderId, error }: { folderId: string; error: { code: string; message: string } }) => {
    add({ folderId, kind: 'pull_failed', message: `Pull failed (${error.code}): ${error.message}` });
    flush();
  };
  events.on('applied', onApplied);
  events.on('error', onError);
  // A finished pull's lines are in the log before anyone hears it finished.
  events.prependListener('pulled', flush);
  return () => {
    flush();
    events.off('applied', onApplied);
    events.off('error', onError);
    events.off('pulled', flush);
  };
}
