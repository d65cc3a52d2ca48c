import type { FolderStatus } from '../../shared/ui-contract';
import { deleteOrigin, heldCount, sentBeforeHoldLine } from '../../shared/pending-delete';
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
  // Those that reached the server before the hold are not held back: named apart, and not in Delete's count.
  const held = heldCount(pending);
  const before = sentBeforeHoldLine(pending);
  return (
    <section className="banner banner-warn" role="alert" aria-label={`Mass delete waiting in ${folder.localPath}`} data-testid="mass-delete-banner" data-folder={folder.id}>
      <div>
        <strong>
          {formatCount(pending.count)} of {formatCountOf(pending.total, 'file')} in {folder.localPath} were deleted {deleteOrigin(pending)}.
        </strong>{' '}
        {before ? <span data-testid="mass-delete-sent">{before}. </span> : null}
        {pending.side === 'scan'
          ? `Ferry is holding ${before ? `the other ${formatCount(held)}` : 'these deletions'} back from the server so that nothing is lost by mistake. Cancel brings ${before ? 'all of them' : 'the files'} back here; Delete removes ${before ? 'those' : 'them'} on the server, and from the other devices as they sync (a device that holds bulk deletes asks its user first).`
          : 'Ferry paused this folder so that nothing is lost by mistake (an unmounted disk or a bulk change elsewhere). Cancel keeps the files here and restores them for everyone; Delete removes them here too.'}
        {pending.sample.length > 0 && (
          <ul className="banner-paths" data-testid="mass-delete-paths">
            {pending.sample.map((p) => (
              <li key={p}>{p}</li>
            ))}
            {held > pending.sample.length && <li className="muted">and {formatCount(held - pending.sample.length)} more</li>}
          </ul>
        )}
      </div>
      <div className="banner-actions">
        <button type="button" onClick={onCancel} disabled={busy} data-testid="mass-delete-cancel">
          Cancel and keep files
        </button>
        <button type="button" className="danger" onClick={onConfirm} disabled={busy} data-testid="mass-delete-confirm">
          Delete {formatCountOf(held, 'file')}
        </button>
      </div>
    </section>
  );
}
