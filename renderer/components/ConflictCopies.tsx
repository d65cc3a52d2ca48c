import { visibleName } from '../../shared/visible-name';
import { useEffect, useState } from 'react';
import type { ConflictCopy } from '../../shared/ui-contract';
import { useApi } from '../api/context';
import { formatRelative } from '../format';
import type { WhyTarget } from './WhyPanel';

/**
 * The conflict copies still on disk (every folder's, or one's), newest first: those this computer
 * made, where the user's other version of a file is, and those another device made, which came
 * through the pull; each until the user deletes or renames the copy. Asked for again whenever
 * `refresh` changes (a new conflict, a scan that removed one).
 */
export function ConflictCopies({ folderId, refresh, onWhy, empty }: { folderId?: string; refresh: unknown; onWhy(target: WhyTarget): void; empty?: string }) {
  const { api } = useApi();
  const [copies, setCopies] = useState<ConflictCopy[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    void api.call('listConflicts', folderId !== undefined ? { folderId } : {}).then((answer) => {
      if (!live) return;
      if (answer.ok) {
        setCopies(answer.value.items);
        setError(undefined);
      } else setError(answer.error.message);
    });
    return () => {
      live = false;
    };
  }, [api, folderId, refresh]);
  if (error) return <div className="banner banner-error" role="alert">Could not list the conflict copies: {error}</div>;
  if (!copies) return null;
  if (copies.length === 0) return empty ? <p className="muted" data-testid="conflicts-empty">{empty}</p> : null;
  return (
    <ul className="conflict-copies" aria-label="Conflict copies on disk" data-testid="conflict-copies">
      {copies.map((c) => (
        <li key={`${c.folderId}\u0000${c.copyPath}`} data-testid="conflict-copy" data-path={c.copyPath}>
          <button type="button" className="link queue-path" onClick={() => onWhy({ folderId: c.folderId, path: c.copyPath })} data-testid="why-open">
            {visibleName(c.copyPath)}
          </button>{' '}
          <span className="muted">
            {c.madeBy !== null
              ? `keeps ${visibleName(c.madeBy)}'s version of ${visibleName(c.path)}, made there when another change took that name`
              : c.device === ''
                ? `keeps this computer's version of ${visibleName(c.path)}, kept as a conflict copy earlier and back from the server`
                : `keeps this computer's version of ${visibleName(c.path)}, ${c.restoredFrom !== null ? `which ${c.deviceName} restored to an earlier version (#${c.restoredFrom})` : `which ${c.deviceName} changed too`}`}{' '}
            ·{' '}
            {formatRelative(c.detectedAt)}
            {folderId === undefined ? ` · ${c.folderId}` : ''}
          </span>
        </li>
      ))}
    </ul>
  );
}
