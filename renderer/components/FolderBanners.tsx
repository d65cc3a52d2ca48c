import { useState } from 'react';
import type { FolderStatus, RestoreResult } from '../../shared/ui-contract';
import { useApi } from '../api/context';
import type { useAction } from '../state/useAction';
import { MassDeleteBanner } from './MassDeleteBanner';
import { UndoDeleteBanner } from './UndoDeleteBanner';

/**
 * What a folder asks of the user, on every view that lists folders: a held mass delete to
 * answer, the Undo of the last confirmed one, and a folder that lost its marker to take up
 * afresh. `action` is the view's, which shows a failure.
 */
export function FolderBanners({ folders, action }: { folders: readonly FolderStatus[]; action: ReturnType<typeof useAction> }) {
  const { api } = useApi();
  const [undone, setUndone] = useState<Record<string, RestoreResult>>({});
  return (
    <>
      {folders.map((folder) => (
        <MassDeleteBanner
          key={folder.id}
          folder={folder}
          busy={action.busy}
          onConfirm={() => void action.run(() => api.call('confirmMassDelete', { folderId: folder.id }))}
          onCancel={() => void action.run(() => api.call('cancelMassDelete', { folderId: folder.id }))}
        />
      ))}
      {folders.map((folder) => (
        <UndoDeleteBanner
          key={`undo-${folder.id}`}
          folder={folder}
          busy={action.busy}
          result={undone[folder.id]}
          onUndo={() =>
            void action.run(async () => {
              const answer = await api.call('undoMassDelete', { folderId: folder.id });
              if (answer.ok) setUndone((all) => ({ ...all, [folder.id]: answer.value }));
              return answer;
            })
          }
          onDismiss={() =>
            undone[folder.id]
              ? setUndone(({ [folder.id]: _shown, ...rest }) => rest)
              : void action.run(() => api.call('dismissUndo', { folderId: folder.id }))
          }
        />
      ))}
      {folders
        .filter((folder) => folder.gone !== undefined)
        .map((folder) => (
          <FolderGoneBanner key={`afresh-${folder.id}`} folder={folder} busy={action.busy} onAfresh={() => void action.run(() => api.call('syncAfresh', { folderId: folder.id }))} />
        ))}
    </>
  );
}

/**
 * A synced folder that is gone (deleted, moved, its disk not mounted) or whose .ferry marker is
 * (deleted and made again). Nothing syncs (an empty or missing folder is never read as
 * "everything deleted") until it is back or the user takes it up afresh, which makes it again if
 * need be, downloads the server's files and deletes nothing.
 */
function FolderGoneBanner({ folder, busy, onAfresh }: { folder: FolderStatus; busy: boolean; onAfresh(): void }) {
  const marker = folder.gone === 'marker';
  return (
    <section className="banner banner-warn" role="status" aria-label={`${folder.localPath} is gone`} data-testid="folder-gone-banner" data-folder={folder.id}>
      <div>
        <strong>
          {folder.localPath} is not syncing: {marker ? 'its .ferry marker is gone.' : 'the folder is gone.'}
        </strong>{' '}
        {marker
          ? 'The folder was deleted and made again, or its disk is not mounted. If its disk is not mounted, mount it.'
          : 'It was deleted or moved, or its disk is not mounted. If its disk is not mounted, mount it; if it moved, give its new place in Settings.'}{' '}
        Nothing is deleted while it is so. Sync afresh {marker ? '' : 'makes the folder again and '}downloads the server&apos;s files into it
        {marker ? "; what is in it now stays (a file that differs from the server's is kept beside it as a conflict copy)" : ''}.
      </div>
      <div className="banner-actions">
        <button type="button" onClick={onAfresh} disabled={busy} data-testid="sync-afresh">
          Sync afresh
        </button>
      </div>
    </section>
  );
}

/** The last action's failure, until dismissed. */
export function ActionFailure({ action }: { action: ReturnType<typeof useAction> }) {
  if (!action.failure) return null;
  return (
    <div className="banner banner-error" role="alert" data-testid="action-error">
      {action.failure}
      <button type="button" className="link" onClick={action.dismiss}>
        Dismiss
      </button>
    </div>
  );
}
