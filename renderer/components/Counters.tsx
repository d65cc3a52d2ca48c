import { QueueState } from '../../shared/ui-contract';
import type { QueueCounts } from '../../shared/ui-contract';
import { formatCount, waitingForServer } from '../format';

export const STATE_LABELS: Record<QueueState, string> = {
  pending: 'Pending',
  in_flight: 'In flight',
  retry_wait: 'Waiting to retry',
  failed: 'Failed',
  done: 'Done',
};

/**
 * A state's label, on the filter and on each row's badge: items in flight wait for the server
 * while it cannot be reached or refuses this device, said like the other labels ("In flight").
 */
export function stateLabel(state: QueueState, agentState?: string): string {
  const waiting = waitingForServer(state, agentState);
  return waiting ? waiting.charAt(0).toUpperCase() + waiting.slice(1) : STATE_LABELS[state];
}

/** Per-state counts that double as the queue's filter. */
export function Counters({ counts, selected, onSelect, agentState }: { counts: QueueCounts | undefined; selected: QueueState | undefined; onSelect(state: QueueState | undefined): void; agentState?: string | undefined }) {
  const total = counts ? Object.values(counts).reduce((sum, n) => sum + n, 0) : undefined;
  return (
    <div className="counters" role="group" aria-label="Filter by state">
      <button type="button" aria-pressed={selected === undefined} onClick={() => onSelect(undefined)} data-testid="counter-all">
        <span className="counter-label">All</span>
        <span className="counter-value">{total === undefined ? '–' : formatCount(total)}</span>
      </button>
      {QueueState.options.map((state) => (
        <button
          key={state}
          type="button"
          className={`counter counter-${state}`}
          aria-pressed={selected === state}
          onClick={() => onSelect(selected === state ? undefined : state)}
          data-testid={`counter-${state}`}
          data-count={counts?.[state] ?? ''}
        >
          <span className="counter-label">{stateLabel(state, agentState)}</span>
          <span className="counter-value">{counts ? formatCount(counts[state]) : '–'}</span>
        </button>
      ))}
    </div>
  );
}
