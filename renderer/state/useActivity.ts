import { useEffect, useState } from 'react';
import type { ActivityEntry, CallError, FerryApi } from '../../shared/ui-contract';
import { useAgentEvents } from './useAgentEvents';

const KEEP = 500;

/**
 * Recent activity, newest first: loaded, then extended by `activity` events, and loaded again
 * each time the event stream (re)connects (`connects`): an entry made before the stream was up
 * would otherwise be missed until the page is reloaded.
 */
export function useActivity(api: FerryApi, connects = 0): { entries: ActivityEntry[]; error: CallError | undefined } {
  const [entries, setEntries] = useState<ActivityEntry[]>([]);
  const [error, setError] = useState<CallError>();
  useAgentEvents(api, (event) => {
    if (event.type === 'activity') setEntries((current) => mergeActivity(current, [event.entry]));
  });
  useEffect(() => {
    let live = true;
    void api.call('listActivity', { limit: 200 }).then((result) => {
      if (!live) return;
      if (result.ok) setEntries((current) => mergeActivity(current, result.value));
      else setError(result.error);
    });
    return () => {
      live = false;
    };
  }, [api, connects]);
  return { entries, error };
}

/** Union by id, newest first, bounded. */
export function mergeActivity(current: ActivityEntry[], incoming: ActivityEntry[]): ActivityEntry[] {
  const byId = new Map<number, ActivityEntry>();
  for (const entry of [...incoming, ...current]) if (!byId.has(entry.id)) byId.set(entry.id, entry);
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, KEEP);
}
