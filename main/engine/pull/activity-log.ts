import type { ActivityRepo } from '../../store/activity';
import type { PullerEmitter } from './events';

/**
 * What a pull did, written to the Activity log from the puller's own events: files downloaded,
 * files deleted here because they were deleted on the server, and pulls that failed. (Conflict
 * copies are written where they are made, in the applier.) Returns the unsubscribe.
 */
export function logPullActivity(events: PullerEmitter, activity: Pick<ActivityRepo, 'add'>): () => void {
  const onApplied = ({ folderId, path, action }: { folderId: string; path: string; action: string }) => {
    if (action === 'downloaded') activity.add({ folderId, kind: 'downloaded', path, message: 'Downloaded' });
    else if (action === 'deleted') activity.add({ folderId, kind: 'deleted_remote', path, message: 'Deleted here: it was deleted on the server' });
    else if (action === 'moved') activity.add({ folderId, kind: 'moved_remote', path, message: 'Moved here: it was moved on the server' });
  };
  const onError = ({ folderId, error }: { folderId: string; error: { code: string; message: string } }) => {
    activity.add({ folderId, kind: 'pull_failed', message: `Pull failed (${error.code}): ${error.message}` });
  };
  events.on('applied', onApplied);
  events.on('error', onError);
  return () => {
    events.off('applied', onApplied);
    events.off('error', onError);
  };
}
