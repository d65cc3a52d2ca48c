import type { FolderStatus, RestoreResult } from '../../shared/ui-contract';
import { filesToUndo, undoOrigin } from '../../shared/pending-delete';
import { formatCount, formatCountOf, formatRelative, undoOutcome } from '../format';

/**
 * After a confirmed mass delete: Undo brings exactly that batch back on every device
 * (docs/conflict-rules.md, "Undo of a confirmed mass delete"), until it expires or is dismissed.
 */
export function UndoDeleteBanner({
  folder,
  busy,
  result,
  onUndo,
  onDismiss,
}: {
  folder: FolderStatus;
  busy: boolean;
  /** The answer of an Undo of this folder, once it came. */
  result: RestoreResult | undefined;
  onUndo(): void;
  onDismiss(): void;
}) {
  if (result) {
    const { headline, detail } = undoOutcome(result, folder.localPath);
    return (
      <section className="banner banner-ok" role="status" data-testid="undo-delete-done" data-folder={folder.id}>
        <div>
          <strong>{headline}</strong> {detail}
        </div>
        <div className="banner-actions">
          <button type="button" onClick={onDismiss} data-testid="undo-delete-dismiss">
            Dismiss
          </button>
        </div>
      </section>
    );
  }
  const undo = folder.undoDelete;
  if (!undo || folder.pendingDelete) return null;
  const where = undoOrigin(undo);
  const toUndo = filesToUndo(undo);
  return (
    <section className="banner banner-info" role="status" aria-label={`Undo the mass delete in ${folder.localPath}`} data-testid="undo-delete-banner" data-folder={folder.id}>
      <div>
        <strong>
          {formatCountOf(undo.count, 'file')} in {folder.localPath} {undo.count === 1 ? 'was' : 'were'} {where} ({formatRelative(undo.confirmedAt)}).
        </strong>{' '}
        {undo.sending > 0
          ? `Ferry is still sending ${formatCount(undo.sending)} of the deletes; Undo is possible once they are sent.`
          : undoDetail(undo.count, undo.back)}
      </div>
      <div className="banner-actions">
        <button type="button" onClick={onDismiss} disabled={busy} data-testid="undo-delete-dismiss">
          Dismiss
        </button>
        {toUndo > 0 ? (
          <button type="button" className="primary" onClick={onUndo} disabled={busy || undo.sending > 0} data-testid="undo-delete">
            Undo delete of {formatCountOf(toUndo, 'file')}
          </button>
        ) : null}
      </div>
    </section>
  );
}

/** What Undo would do: files made again or restored since stay as they are (noticed on a new-user try: counted all the same). */
function undoDetail(count: number, back: number): string {
  const everywhere = 'here and on every device, from the versions the server keeps.';
  if (back === 0) return `Undo brings exactly these files back, ${everywhere}`;
  if (back >= count) return `All of them are here again (made again or restored since): there is nothing to undo.`;
  return `${formatCount(back)} of them ${back === 1 ? 'is' : 'are'} here again and stay${back === 1 ? 's' : ''} as ${back === 1 ? 'it is' : 'they are'}; Undo brings the other ${formatCount(count - back)} back, ${everywhere}`;
}
