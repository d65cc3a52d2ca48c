import type { ActivityRepo } from '../../store/activity';
import { createLogger } from '../../logging';
import type { PullerEmitter } from './events';

const log = createLogger('pull');

/**
 * What a pull did, written to the Activity log from the puller's own events: files downloaded,
 * files deleted here because they were deleted on the server, and pulls that failed. (Conflict
 * copies are written where they are made, in the applier.) Returns the unsubscribe.
 */
export function logPullActivity(events: PullerEmitter, activity: Pick<ActivityRepo, 'add'>): () => void {
  // A line that cannot be written (a state database on a full disk) must not fail the pull
  // or keep its failure from being reported: the log is a record, not part of the work.
  const add = (entry: Parameters<ActivityRepo['add']>[0]) => {
    try {
      activity.add(entry);
    } catch (error) {
      log.warn('could not write to the activity log', { kind: entry.kind, error: error instanceof Error ? error.message : String(error) });
    }
  };
  const onApplied = ({ folderId, path, action }: { folderId: string; path: string; action: string }) => {
    if (action === 'downloaded') add({ folderId, kind: 'downloaded', path, message: 'Downloaded' });
    else if (action === 'deleted') add({ folderId, kind: 'deleted_remote', path, message: 'Deleted here: it was deleted on the server' });
    else if (action === 'moved') add({ folderId, kind: 'moved_remote', path, message: 'Moved here: it was moved on the server' });
  };
  const onError = ({ folderId, error }: { folderId: string; error: { code: string; message: string } }) => {
    add({ folderId, kind: 'pull_failed', message: `Pull failed (${error.code}): ${error.message}` });
  };
  events.on('applied', onApplied);
  events.on('error', onError);
  return () => {
    events.off('applied', onApplied);
    events.off('error', onError);
  };
}
