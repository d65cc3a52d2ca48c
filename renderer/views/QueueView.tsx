import { useCallback, useState } from 'react';
import type { QueueState, Status } from '../../shared/ui-contract';
import { useApi } from '../api/context';
import { Counters, STATE_LABELS } from '../components/Counters';
import { ActionFailure, FolderBanners } from '../components/FolderBanners';
import { FolderProblems } from '../components/FolderProblems';
import { HistoryPanel } from '../components/HistoryPanel';
import { QUEUE_ROW_HEIGHT, QueueRow, QueueRowPlaceholder } from '../components/QueueRow';
import { VirtualList } from '../components/VirtualList';
import { WhyPanel, whyRefreshKey, type WhyTarget } from '../components/WhyPanel';
import { agentStateLabel, formatCount, formatRate, formatRelative } from '../format';
import { useAction } from '../state/useAction';
import { useNow } from '../state/useNow';
import { useQueuePage } from '../state/useQueuePage';

/** The queue window: live counts, rates and actions over a virtualised list of items. */
export function QueueView({ status }: { status: Status | undefined }) {
  const { api } = useApi();
  const [stateFilter, setStateFilter] = useState<QueueState>();
  const [folderFilter, setFolderFilter] = useState<string>();
  const [why, setWhy] = useState<WhyTarget>();
  const openWhy = useCallback((item: { folderId: string; path: string }) => setWhy({ folderId: item.folderId, path: item.path }), []);
  const [historyOf, setHistoryOf] = useState<{ folderId: string; path: string }>();
  const openHistory = useCallback((item: { folderId: string; path: string }) => setHistoryOf({ folderId: item.folderId, path: item.path }), []);
  const pages = useQueuePage(api, { state: stateFilter, folderId: folderFilter });
  const action = useAction();
  const now = useNow();
  const paused = status?.state === 'paused';
  const failed = status?.counts.failed ?? 0;
  // Filtered by folder, the counters are that folder's.
  const counts = folderFilter ? (status?.folders.find((f) => f.id === folderFilter)?.counts ?? status?.counts) : status?.counts;

  const onRange = useCallback((first: number, last: number) => pages.showRange(first, last), [pages]);
  const retryOne = useCallback((id: number) => void action.run(() => api.call('retry', { id })), [action, api]);

  return (
    <div className={`view queue-view${why ? ' beside-why' : ''}`}>
      {status ? <FolderBanners folders={status.folders} action={action} /> : null}
      {status ? <FolderProblems folders={status.folders} /> : null}
      <div className="toolbar">
        <div className="summary" aria-live="polite">
          <span className={`state-pill state-${status?.state ?? 'unknown'}`} data-testid="agent-state">
            {status ? agentStateLabel(status.state, status.folders) : 'connecting…'}
          </span>
          {status ? (
            <span className="rates" data-testid="rates">
              ↑ {formatRate(status.rates.uploadBytesPerSec)} · ↓ {formatRate(status.rates.downloadBytesPerSec)} ·{' '}
              {status.rates.itemsPerSec.toFixed(1)} items/s
            </span>
          ) : null}
          {status ? <span className="muted" data-testid="last-sync">last sync {formatRelative(status.lastSyncAt, now)}</span> : null}
          {status?.reason && status.state !== 'error' ? (
            <span className={`state-reason state-${status.state}`} data-testid="agent-reason">
              {status.reason}
            </span>
          ) : null}
        </div>
        <div className="actions">
          <button type="button" onClick={() => void action.run(() => api.call('syncNow', {}))} disabled={!status} data-testid="sync-now">
            Sync now
          </button>
          {paused ? (
            <button type="button" onClick={() => void action.run(() => api.call('resume', {}))} data-testid="resume">
              Resume
            </button>
          ) : (
            <button type="button" onClick={() => void action.run(() => api.call('pause', {}))} disabled={!status} data-testid="pause">
              Pause
            </button>
          )}
          <button
            type="button"
            className="primary"
            onClick={() => void action.run(() => api.call('retry', { all: true }))}
            disabled={failed === 0 || action.busy}
            data-testid="retry-all"
          >
            Retry all failed{failed ? ` (${formatCount(failed)})` : ''}
          </button>
        </div>
      </div>
      <ActionFailure action={action} />
      <div className="filters">
        <Counters counts={counts} selected={stateFilter} onSelect={setStateFilter} agentState={status?.state} />
        <label className="folder-filter">
          Folder{' '}
          <select value={folderFilter ?? ''} onChange={(event) => setFolderFilter(event.target.value || undefined)} data-testid="folder-filter">
            <option value="">All folders</option>
            {status?.folders.map((folder) => (
              <option key={folder.id} value={folder.id}>
                {folder.id} ({folder.localPath})
              </option>
            ))}
          </select>
        </label>
      </div>
      {pages.error ? (
        <div className="banner banner-error" role="alert">
          Could not load the queue: {pages.error}
        </div>
      ) : null}
      <VirtualList
        key={`${stateFilter ?? 'all'}:${folderFilter ?? 'all'}`}
        count={pages.total ?? 0}
        rowHeight={QUEUE_ROW_HEIGHT}
        label={stateFilter ? `Queue items: ${STATE_LABELS[stateFilter]}` : 'Queue items'}
        testId="queue-list"
        onRangeChange={onRange}
        empty={pages.total === 0 ? <p className="muted">Nothing here{stateFilter ? ` in ${STATE_LABELS[stateFilter].toLowerCase()}` : ''}.</p> : null}
        renderRow={(index) => {
          const item = pages.itemAt(index);
          return item ? <QueueRow item={item} agentState={status?.state} onRetry={retryOne} onWhy={openWhy} onHistory={openHistory} /> : <QueueRowPlaceholder />;
        }}
      />
      {why ? <WhyPanel target={why} floating refreshOn={whyRefreshKey(status)} onClose={() => setWhy(undefined)} /> : null}
      {historyOf ? <HistoryPanel folderId={historyOf.folderId} path={historyOf.path} paused={paused} onClose={() => setHistoryOf(undefined)} /> : null}
    </div>
  );
}
