import { useState } from 'react';
import type { FolderStatus, RestoreResult } from '../../shared/ui-contract';
import { useApi } from '../api/context';
import type { useAction } from '../state/useAction';
import { MassDeleteBanner } from './MassDeleteBanner';
import { UndoDeleteBanner } from './UndoDeleteBanner';

/**
 * What a folder asks of the user, on every view that lists folders: a held mass delete to
 * answer, and the Undo of the last confirmed one. `action` is the view's, which shows a failure.
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
    </>
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
