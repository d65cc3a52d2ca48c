import { visibleName, visibleNameAlone } from '../../shared/visible-name';
import { localKindWord } from '../../shared/why-words';
import { useEffect, useState } from 'react';
import type { PathExplanation, Status } from '../../shared/ui-contract';
import { useApi } from '../api/context';
import { formatBytes } from '../format';

export interface WhyTarget {
  folderId: string;
  path: string;
}

/**
 * What the Why panel asks again on: the agent's state and each folder's (a held delete answered,
 * a pause, the link back). Not every status: those come several times a second while files move,
 * and each answer asks the server. Found by a new-user try: the panel still said "held" after the
 * delete was confirmed.
 */
export function whyRefreshKey(status: Status | undefined): string {
  return status ? `${status.state}|${status.folders.map((f) => `${f.id}:${f.state}`).join(',')}` : '';
}

/** Why a path is (not) in sync: every reason the agent gives, the deciding one first; asked again when `refreshOn` changes. */
export function WhyPanel({ target, onClose, floating = false, refreshOn = '' }: { target: WhyTarget; onClose(): void; floating?: boolean; refreshOn?: string }) {
  const { api } = useApi();
  const [answer, setAnswer] = useState<PathExplanation>();
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    setAnswer(undefined);
    setProblem(undefined);
  }, [target.folderId, target.path]);
  useEffect(() => {
    let live = true;
    void api.call('explainPath', { path: target.path, folderId: target.folderId }).then((result) => {
      if (!live) return;
      setProblem(result.ok ? undefined : result.error.message);
      if (result.ok) setAnswer(result.value);
    });
    return () => {
      live = false;
    };
  }, [api, target.folderId, target.path, refreshOn]);
  return (
    <aside className={floating ? 'why-panel floating' : 'why-panel'} role="dialog" aria-label={`Why: ${target.path}`} data-testid="why-panel">
      <header className="why-head">
        <strong className="queue-path">{visibleNameAlone(target.path)}</strong>
        <span className="muted">in {target.folderId}</span>
        <button type="button" className="link" onClick={onClose} data-testid="why-close">
          Close
        </button>
      </header>
      {problem ? <p className="queue-error">{problem}</p> : null}
      {!answer && !problem ? <p className="muted">Asking the agent…</p> : null}
      {answer ? (
        <>
          <p className={answer.inSync ? 'why-verdict ok' : 'why-verdict'} data-testid="why-verdict">
            {answer.inSync ? 'In sync' : answer.reasons[0]?.code === 'unknown' ? 'Not known here' : 'Not in sync'}
          </p>
          <ul className="why-reasons">
            {answer.reasons.map((reason) => (
              <li key={`${reason.code}:${reason.message}`} data-testid="why-reason" data-code={reason.code}>
                {visibleName(reason.message)}
              </li>
            ))}
          </ul>
          <p className="muted">
            {answer.local.exists ? `On disk: ${localKindWord(answer.local.kind)}${answer.local.size !== null ? `, ${formatBytes(answer.local.size)}` : ''}` : 'Not on disk'}
            {answer.synced ? ` · last synced ${answer.synced.revision ? `at revision ${answer.synced.revision}` : 'never'}` : ''}
          </p>
        </>
      ) : null}
    </aside>
  );
}
