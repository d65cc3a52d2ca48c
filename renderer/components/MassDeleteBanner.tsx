import type { FolderStatus } from '../../shared/ui-contract';
import { deleteOrigin } from '../../shared/pending-delete';
import { formatCount, formatCountOf } from '../format';

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
          {formatCount(pending.count)} of {formatCountOf(pending.total, 'file')} in {folder.localPath} were deleted {deleteOrigin(pending)}.
        </strong>{' '}
        {pending.side === 'scan'
          ? 'Ferry is holding these deletions back from the server so that nothing is lost by mistake. Cancel brings the files back here; Delete removes them on the server and every other device.'
          : 'Ferry paused this folder so that nothing is lost by mistake (an unmounted disk or a bulk change elsewhere). Cancel keeps the files here and restores them for everyone; Delete removes them here too.'}
        {pending.sample.length > 0 && (
          <ul className="banner-paths" data-testid="mass-delete-paths">
            {pending.sample.map((p) => (
              <li key={p}>{p}</li>
            ))}
            {pending.count > pending.sample.length && <li className="muted">and {formatCount(pending.count - pending.sample.length)} more</li>}
          </ul>
        )}
      </div>
      <div className="banner-actions">
        <button type="button" onClick={onCancel} disabled={busy} data-testid="mass-delete-cancel">
          Cancel and keep files
        </button>
        <button type="button" className="danger" onClick={onConfirm} disabled={busy} data-testid="mass-delete-confirm">
          Delete {formatCountOf(pending.count, 'file')}
        </button>
      </div>
    </section>
  );
}
