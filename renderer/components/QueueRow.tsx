import type { QueueItem } from '../../shared/ui-contract';
import { queueOpWords } from '../../shared/queue-words';
import { visibleName } from '../../shared/visible-name';
import { formatBytes, formatRelative, percentDone } from '../format';
import { stateLabel } from './Counters';

export const QUEUE_ROW_HEIGHT = 60;

export function QueueRow({ item, agentState, onRetry, onWhy, onHistory }: { item: QueueItem; agentState?: string | undefined; onRetry(id: number): void; onWhy?(item: QueueItem): void; onHistory?(item: QueueItem): void }) {
  const percent = percentDone(item.bytesDone, item.bytesTotal);
  return (
    <div className={`queue-row state-${item.state}`} data-testid="queue-row" data-path={item.path} data-state={item.state} data-id={item.id}>
      <div className="queue-row-main">
        <span className="queue-path" title={visibleName(item.path)}>
          {visibleName(item.path)}
        </span>
        <span className={`badge badge-${item.state}`} data-testid="item-state">
          {stateLabel(item.state, agentState)}
        </span>
        {onWhy && item.state !== 'done' ? (
          <button type="button" className="small" onClick={() => onWhy(item)} aria-label={`Why is ${item.path} not in sync?`} data-testid="why-open">
            Why?
          </button>
        ) : null}
        {onHistory && item.op !== 'mkdir' && item.op !== 'rmdir' ? (
          <button type="button" className="small" onClick={() => onHistory(item)} aria-label={`Versions of ${item.path}`} data-testid="history-open">
            History
          </button>
        ) : null}
        {item.state === 'failed' ? (
          <button type="button" className="small" onClick={() => onRetry(item.id)} aria-label={`Retry ${item.path}`} data-testid="retry-item">
            Retry
          </button>
        ) : null}
      </div>
      <div className="queue-row-meta">
        <span>{item.folderId}</span>
        <span data-testid="item-op">{queueOpWords(item, visibleName)}</span>
        {item.bytesTotal > 0 && item.state !== 'in_flight' ? <span data-testid="item-size">{formatBytes(item.bytesTotal)}</span> : null}
        <span>
          {item.attempts} {item.attempts === 1 ? 'attempt' : 'attempts'}
        </span>
        {item.nextAttemptAt && item.state === 'retry_wait' ? <span>next try {formatRelative(item.nextAttemptAt)}</span> : null}
        {item.state === 'in_flight' && item.bytesTotal > 0 ? (
          <span className="progress-wrap">
            <progress max={100} value={percent} aria-label={`Progress of ${item.path}`} />
            {formatBytes(item.bytesDone)} / {formatBytes(item.bytesTotal)}
          </span>
        ) : null}
        {item.error ? (
          <span className="queue-error" title={item.error.message}>
            {item.error.message} ({item.error.code})
          </span>
        ) : null}
      </div>
    </div>
  );
}

export function QueueRowPlaceholder() {
  return <div className="queue-row placeholder" aria-busy="true">Loading…</div>;
}
