import { useEffect, useRef } from 'react';
import type { AgentEvent, FerryApi } from '../../shared/ui-contract';

/** Subscribes to the agent's events for the component's lifetime; the handler may change freely. */
export function useAgentEvents(api: FerryApi, handler: (event: AgentEvent) => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => api.subscribe((event) => latest.current(event)), [api]);
}
