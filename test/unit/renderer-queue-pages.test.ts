import { describe, expect, it } from 'vitest';
import type { QueuePage } from '../../shared/ui-contract';
import { QueuePages } from '../../renderer/state/queue-pages';
import { makeQueueItems } from '../fakes/control-fake-agent';
import { waitFor } from '../helpers/wait';

function source(total: number) {
  let items = makeQueueItems(total);
  const requests: Array<[number, number]> = [];
  return {
    requests,
    replace: (next: typeof items) => void (items = next),
    fetch: async (offset: number, limit: number): Promise<QueuePage> => {
      requests.push([offset, limit]);
      return { items: items.slice(offset, offset + limit), total: items.length };
    },
  };
}

describe('QueuePages (the virtual list data window)', () => {
  it('fetches only the pages covering the visible rows of a 100,000 item queue', async () => {
    const data = source(100_000);
    const pages = new QueuePages(data.fetch, 200);
    pages.showRange(0, 30);
    await waitFor(() => pages.total === 100_000);
    pages.showRange(50_190, 50_215);
    await waitFor(() => pages.itemAt(50_215));
    expect(data.requests).toEqual([[0, 200], [50_000, 200], [50_200, 200]]);
    expect(pages.itemAt(50_190)?.id).toBe(50_191);
    expect(pages.itemAt(10_000)).toBeUndefined();
  });

  it('does not fetch a page twice while it loads or once loaded', async () => {
    const data = source(500);
    const pages = new QueuePages(data.fetch, 100);
    pages.showRange(0, 10);
    pages.showRange(5, 15);
    await waitFor(() => pages.itemAt(0));
    pages.showRange(0, 20);
    expect(data.requests).toEqual([[0, 100]]);
  });

  it('patches rows from queue events without refetching', async () => {
    const data = source(50);
    const pages = new QueuePages(data.fetch, 100);
    pages.showRange(0, 10);
    await waitFor(() => pages.itemAt(0));
    const before = pages.version;
    pages.patch([{ ...pages.itemAt(4)!, state: 'failed', error: { code: 'x', message: 'boom' } }]);
    expect(pages.itemAt(4)?.state).toBe('failed');
    expect(pages.version).toBeGreaterThan(before);
    expect(data.requests).toHaveLength(1);
  });

  it('reloads the visible pages and the total when invalidated, dropping the rest', async () => {
    const data = source(1000);
    const pages = new QueuePages(data.fetch, 100);
    pages.showRange(500, 520);
    await waitFor(() => pages.itemAt(500));
    pages.showRange(0, 20);
    await waitFor(() => pages.itemAt(0));
    data.replace(makeQueueItems(40));
    pages.invalidate();
    await waitFor(() => pages.total === 40);
    expect(pages.itemAt(500)).toBeUndefined();
    expect(pages.itemAt(39)?.id).toBe(40);
  });

  it('treats the first counts it sees as a change: an item queued after the first page still shows', async () => {
    const data = source(0);
    const pages = new QueuePages(data.fetch, 100);
    pages.showRange(0, 0);
    await waitFor(() => pages.total === 0);
    // One file is queued and finishes before the view's first status event arrives.
    data.replace(makeQueueItems(1));
    const counts = { pending: 0, in_flight: 0, retry_wait: 0, failed: 0, done: 1 };
    expect(pages.noteCounts(counts)).toBe(true);
    pages.invalidate();
    await waitFor(() => pages.total === 1);
    expect(pages.itemAt(0)?.id).toBe(1);
    // The same counts again mean nothing moved.
    expect(pages.noteCounts({ ...counts })).toBe(false);
    expect(pages.noteCounts({ ...counts, done: 2 })).toBe(true);
  });
});
