import { useEffect, useState } from 'react';
import type { CallError, FerryApi, Status } from '../../shared/ui-contract';
import { useAgentEvents } from './useAgentEvents';

/** The agent's status: fetched once, then kept current by `status` events (no polling). */
export function useStatus(api: FerryApi): { status: Status | undefined; error: CallError | undefined } {
  const [status, setStatus] = useState<Status>();
  const [error, setError] = useState<CallError>();
  useAgentEvents(api, (event) => {
    if (event.type === 'status') setStatus(event.status);
  });
  useEffect(() => {
    let live = true;
    void api.call('getStatus', {}).then((result) => {
      if (!live) return;
      // An event that arrived meanwhile is at least as fresh as this answer.
      if (result.ok) setStatus((current) => current ?? result.value);
      else setError(result.error);
    });
    return () => {
      live = false;
    };
  }, [api]);
  return { status, error };
}
