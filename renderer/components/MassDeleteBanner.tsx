import type { FolderStatus } from '../../shared/ui-contract';
import { formatCount } from '../format';

/** A folder paused because a pull or scan would delete many files: the user decides. */
export function MassDeleteBanner({
  folder,
  busy,
  onConfirm,
  onCancel,
}: {
  folder: FolderStatus;
  busy: boolean;
  onConfirm(): void;
  onCancel(): void;
}) {
  const pending = folder.pendingDelete;
  if (!pending) return null;
  return (
    <section className="banner banner-warn" role="alert" aria-label={`Mass delete waiting in ${folder.localPath}`} data-testid="mass-delete-banner" data-folder={folder.id}>
      <div>
        <strong>
          Syncing {folder.localPath} would delete {formatCount(pending.count)} of {formatCount(pending.total)} files.
        </strong>{' '}
        Ferry paused this folder so that nothing is lost by mistake (an unmounted disk or a bulk change elsewhere). Cancel restores
        the files; Delete applies the deletions.
      </div>
      <div className="banner-actions">
        <button type="button" onClick={onCancel} disabled={busy} data-testid="mass-delete-cancel">
          Cancel and keep files
        </button>
        <button type="button" className="danger" onClick={onConfirm} disabled={busy} data-testid="mass-delete-confirm">
          Delete {formatCount(pending.count)} files
        </button>
      </div>
    </section>
  );
}
