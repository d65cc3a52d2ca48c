import { describe, expect, it } from 'vitest';
import type { ActivityEntry, AgentEvent, QueueItem } from '../../shared/ui-contract';
import { NotificationPolicy, createNotifier, type Notice } from '../../main/app/notifications';
import { fakeLogger, folderStatus, status } from '../fakes/app-fakes';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const activity = (kind: ActivityEntry['kind'], path = 'a.txt', message = 'kept both'): AgentEvent => ({
  type: 'activity',
  entry: { id: 1, at: '2025-01-01T00:00:00Z', folderId: 'docs', kind, path, message },
});

const queueItem = (state: QueueItem['state'], path = 'b.txt'): QueueItem => ({
  id: 1,
  folderId: 'docs',
  path,
  op: 'upsert',
  state,
  attempts: 4,
  nextAttemptAt: null,
  bytesDone: 0,
  bytesTotal: 10,
  error: state === 'failed' ? { code: 'unavailable', message: 'server unavailable' } : null,
  updatedAt: '2025-01-01T00:00:00Z',
});

describe('notification policy', () => {
  it('notifies a conflict once per burst, and again after a quiet gap', () => {
    const c = clock();
    const policy = new NotificationPolicy({ now: c.now, burstGapMs: 60_000 });
    expect(policy.observe(activity('conflict', 'report.docx'))).toMatchObject([{ key: 'conflict', title: 'Sync conflict', body: 'report.docx: kept both' }]);
    for (let i = 0; i < 50; i++) {
      c.advance(10_000); // every 10 s: still the same burst
      expect(policy.observe(activity('conflict', `f${i}`))).toEqual([]);
    }
    c.advance(60_001);
    expect(policy.observe(activity('conflict'))).toHaveLength(1);
  });

  it('treats failures from activity and from the queue as one burst', () => {
    const c = clock();
    const policy = new NotificationPolicy({ now: c.now });
    expect(policy.observe({ type: 'queue', items: [queueItem('retry_wait')] })).toEqual([]);
    expect(policy.observe({ type: 'queue', items: [queueItem('failed', 'big.iso')] })).toMatchObject([{ key: 'failed', body: 'big.iso: server unavailable' }]);
    c.advance(1000);
    expect(policy.observe(activity('failed'))).toEqual([]);
    // Other kinds keep their own bursts.
    expect(policy.observe(activity('conflict'))).toHaveLength(1);
    expect(policy.observe(activity('uploaded'))).toEqual([]);
  });

  it('notifies coming back online once, not for every flap in a burst', () => {
    const c = clock();
    const policy = new NotificationPolicy({ now: c.now });
    expect(policy.observe({ type: 'status', status: status({ state: 'idle' }) })).toEqual([]);
    expect(policy.observe({ type: 'status', status: status({ state: 'offline' }) })).toEqual([]);
    expect(policy.observe({ type: 'status', status: status({ state: 'syncing' }) })).toMatchObject([{ key: 'online', title: 'Back online' }]);
    c.advance(5000);
    policy.observe({ type: 'status', status: status({ state: 'offline' }) });
    expect(policy.observe({ type: 'status', status: status({ state: 'idle' }) })).toEqual([]);
    // Staying online gives nothing further.
    c.advance(120_000);
    expect(policy.observe({ type: 'status', status: status({ state: 'idle' }) })).toEqual([]);
  });

  it('notifies a paused mass delete when it starts, per folder', () => {
    const c = clock();
    const policy = new NotificationPolicy({ now: c.now });
    const paused = folderStatus({ id: 'pics', localPath: '/home/ada/Pictures', state: 'paused_mass_delete', pendingDelete: { count: 1200, total: 1500, side: 'pull', sample: ['a.jpg'], devices: ['laptop'] } });
    const notices: Notice[] = policy.observe({ type: 'status', status: status({ folders: [folderStatus(), paused] }) });
    expect(notices).toEqual([
      { key: 'mass-delete:pics', title: 'Deletion paused', body: '1200 of 1500 files in Pictures were deleted by laptop. Open the queue to confirm or cancel.', target: 'queue' },
    ]);
    c.advance(1000);
    expect(policy.observe({ type: 'status', status: status({ folders: [folderStatus(), paused] }) })).toEqual([]);
    const docsPaused = folderStatus({ state: 'paused_mass_delete', pendingDelete: { count: 5, total: 6, side: 'scan', sample: [], devices: [] } });
    expect(policy.observe({ type: 'status', status: status({ folders: [docsPaused, paused] }) }).map((n) => n.key)).toEqual(['mass-delete:docs']);
  });
});

describe('notifier adapter', () => {
  function setup(options: { enabled?: boolean; supported?: boolean } = {}) {
    const shown: Array<{ title: string; body: string; click: () => void }> = [];
    const opened: string[] = [];
    const listener = createNotifier({
      policy: new NotificationPolicy({ now: () => 0 }),
      enabled: () => options.enabled ?? true,
      open: (target) => opened.push(target),
      log: fakeLogger(),
      electron: { isSupported: () => options.supported ?? true, show: (n, click) => shown.push({ ...n, click }) },
    });
    return { listener, shown, opened };
  }

  it('shows the notice and opens its window on click', () => {
    const t = setup();
    t.listener(activity('conflict'));
    expect(t.shown.map((n) => n.title)).toEqual(['Sync conflict']);
    t.shown[0]!.click();
    expect(t.opened).toEqual(['queue']);
  });

  it('stays quiet when notifications are off or unsupported', () => {
    const off = setup({ enabled: false });
    off.listener(activity('conflict'));
    const unsupported = setup({ supported: false });
    unsupported.listener(activity('conflict'));
    expect(off.shown).toEqual([]);
    expect(unsupported.shown).toEqual([]);
  });
});
