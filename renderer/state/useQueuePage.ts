import { useEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import type { FerryApi, QueueState } from '../../shared/ui-contract';
import { QueuePages } from './queue-pages';
import { useAgentEvents } from './useAgentEvents';

export interface QueueFilter {
  state?: QueueState;
  folderId?: string;
}

/** Refetch visible pages at most this often while counts keep changing. */
const REFRESH_INTERVAL_MS = 300;

/**
 * The queue as a sparse list for the virtual list: rows load by offset as they come into
 * view; `queue` events patch rows; a `status` event with different counts means items moved
 * in or out of the filter, so the visible pages are refetched (throttled).
 */
export function useQueuePage(api: FerryApi, filter: QueueFilter): QueuePages {
  const { state, folderId } = filter;
  const pages = useMemo(
    () =>
      new QueuePages(async (offset, limit) => {
        const result = await api.call('listQueue', { offset, limit, ...(state ? { state } : {}), ...(folderId ? { folderId } : {}) });
        if (!result.ok) throw new Error(result.error.message);
        return result.value;
      }),
    [api, state, folderId],
  );
  useSyncExternalStore(
    (listener) => pages.subscribe(listener),
    () => pages.version,
  );

  // The list's length comes from the first page; until then nothing is "visible" to ask for.
  useEffect(() => {
    if (pages.total === undefined) pages.showRange(0, 0);
  }, [pages]);

  const refresh = useRef<{ timer?: ReturnType<typeof setTimeout>; last: number }>({ last: 0 });
  useEffect(() => {
    const pending = refresh.current;
    return () => {
      clearTimeout(pending.timer);
      pending.timer = undefined;
    };
  }, [pages]);

  useAgentEvents(api, (event) => {
    if (event.type === 'queue') pages.patch(event.items);
    if (event.type !== 'status' || !pages.noteCounts(event.status.counts)) return;
    const throttle = refresh.current;
    if (throttle.timer) return;
    const wait = Math.max(0, throttle.last + REFRESH_INTERVAL_MS - Date.now());
    throttle.timer = setTimeout(() => {
      throttle.timer = undefined;
      throttle.last = Date.now();
      pages.invalidate();
    }, wait);
  });
  return pages;
}
