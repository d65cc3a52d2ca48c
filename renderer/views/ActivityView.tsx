import { visibleName, visibleNameAlone } from '../../shared/visible-name';
import { useState } from 'react';
import type { ActivityEntry } from '../../shared/ui-contract';
import { useApi } from '../api/context';
import { WhyPanel, type WhyTarget } from '../components/WhyPanel';
import { formatRelative } from '../format';
import { useActivity } from '../state/useActivity';
import { ConflictCopies } from '../components/ConflictCopies';
import { HistoryPanel } from '../components/HistoryPanel';

type Show = 'all' | 'conflict' | 'failed';

const EMPTY: Record<Show, string> = { all: 'No activity yet.', conflict: 'No conflicts.', failed: 'No failures.' };

/** Recent syncs, transfers and conflicts, newest first, live. */
export function ActivityView() {
  const { api, connects } = useApi();
  const { entries, error } = useActivity(api, connects);
  const [show, setShow] = useState<Show>('all');
  const [why, setWhy] = useState<WhyTarget>();
  const [historyOf, setHistoryOf] = useState<{ folderId: string; path: string }>();
  const shown = show === 'all' ? entries : entries.filter((entry) => entry.kind === show);
  return (
    <div className={`view activity-view${why ? ' beside-why' : ''}`}>
      <div className="toolbar">
        <h2>Activity</h2>
        <label>
          Show{' '}
          <select value={show} onChange={(event) => setShow(event.target.value as Show)} data-testid="activity-filter">
            <option value="all">Everything</option>
            <option value="conflict">Conflicts</option>
            <option value="failed">Failures</option>
          </select>
        </label>
      </div>
      {error ? <div className="banner banner-error" role="alert">Could not load activity: {error.message}</div> : null}
      {show === 'conflict' ? (
        <>
          <h3>Conflict copies on disk</h3>
          <ConflictCopies refresh={entries[0]?.id} onWhy={setWhy} empty="No conflict copies are on disk." />
          <h3>Recent conflicts</h3>
        </>
      ) : null}
      {shown.length === 0 ? <p className="muted" data-testid="activity-empty">{EMPTY[show]}</p> : null}
      <ol className="activity" aria-label="Recent activity">
        {shown.map((entry) => (
          <ActivityRow key={entry.id} entry={entry} onWhy={setWhy} onHistory={setHistoryOf} />
        ))}
      </ol>
      {why ? <WhyPanel target={why} floating onClose={() => setWhy(undefined)} /> : null}
      {historyOf ? <HistoryPanel folderId={historyOf.folderId} path={historyOf.path} onClose={() => setHistoryOf(undefined)} /> : null}
    </div>
  );
}

function ActivityRow({ entry, onWhy, onHistory }: { entry: ActivityEntry; onWhy(target: WhyTarget): void; onHistory(file: { folderId: string; path: string }): void }) {
  const { folderId, path } = entry;
  return (
    <li className={`activity-row kind-${entry.kind}`} data-testid="activity-row" data-kind={entry.kind}>
      <time dateTime={entry.at} title={new Date(entry.at).toLocaleString()}>
        {formatRelative(entry.at)}
      </time>
      <span className={`badge badge-${entry.kind}`}>{entry.kind}</span>
      <span className="activity-text">
        {path && folderId ? (
          <button type="button" className="link queue-path" onClick={() => onHistory({ folderId, path })} title="Show its versions" data-testid="activity-history">
            {visibleNameAlone(path)}
          </button>
        ) : path ? (
          <span className="queue-path">{visibleNameAlone(path)}</span>
        ) : null}{' '}
        {visibleName(entry.message)}
        {path && folderId ? (
          <button type="button" className="small" onClick={() => onWhy({ folderId, path })} aria-label={`Why is ${path} (not) in sync?`} data-testid="why-open">
            Why?
          </button>
        ) : null}
        {entry.folderId ? <span className="muted"> · {entry.folderId}</span> : null}
      </span>
    </li>
  );
}
