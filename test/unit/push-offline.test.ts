import { describe, expect, it } from 'vitest';
import { FerryError } from '../../protocol/errors';
import { OfflineMonitor, type Connectivity } from '../../main/engine/push/requests';
import { FakeTimers, flush } from './push-fake-timers';

function rig(probe: () => Promise<unknown>) {
  const timers = new FakeTimers();
  const changes: Connectivity[] = [];
  const m = new OfflineMonitor({ probe, timers, random: () => 0.999, baseMs: 100, capMs: 1000, minMs: 10, onChange: (s) => changes.push(s) });
  return { timers, changes, m };
}

const refused = () => Promise.reject(new FerryError('offline', 'ECONNREFUSED', { retryable: true }));

describe('push offline state machine', () => {
  it('probes with growing backoff while unreachable, then releases every waiter', async () => {
    let up = false;
    let probes = 0;
    const { m, timers, changes } = rig(() => {
      probes++;
      return up ? Promise.resolve() : refused();
    });
    m.reportOffline('refused');
    m.reportOffline('again');
    expect(changes).toEqual(['offline']);
    let released = 0;
    void m.waitOnline().then(() => released++);
    void m.waitOnline().then(() => released++);
    expect(timers.nextDelay()).toBe(99);
    await timers.advance(99);
    expect(probes).toBe(1);
    expect(timers.nextDelay()).toBe(199);
    await timers.advance(199);
    expect(timers.nextDelay()).toBe(399);
    up = true;
    await timers.advance(399);
    await flush();
    expect(changes).toEqual(['offline', 'online']);
    expect(released).toBe(2);
    expect(timers.count).toBe(0);
    expect(m.state).toBe('online');
  });

  // Chaos seed 1 (--disk-full): the pusher's listener claims queue items as it goes online;
  // that claim threw SQLITE_FULL and the waiters were never woken (the state was online
  // already, so nothing woke them later). Refused: a waiter left behind by a listener that throws.
  it('chaos seed 1: wakes every waiter even when a listener of the online change throws', async () => {
    const timers = new FakeTimers();
    const m = new OfflineMonitor({
      probe: () => Promise.resolve(),
      timers,
      random: () => 0.999,
      baseMs: 100,
      capMs: 1000,
      minMs: 10,
      onChange: (s) => {
        if (s === 'online') throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      },
    });
    m.reportOffline('refused');
    let released = 0;
    void m.waitOnline().then(() => released++);
    expect(() => m.reportOnline()).toThrow(/disk is full/);
    await flush();
    expect(m.state).toBe('online');
    expect(released).toBe(1);
  });

  it('treats any HTTP answer as reachable', async () => {
    const { m, timers } = rig(() => Promise.reject(new FerryError('internal', 'boom', { status: 500, retryable: true })));
    m.reportOffline('refused');
    await timers.advance(1000);
    expect(m.state).toBe('online');
  });

  it('caps the probe backoff and probes at once on request', async () => {
    let probes = 0;
    const { m, timers } = rig(() => {
      probes++;
      return refused();
    });
    m.reportOffline('x');
    for (let i = 0; i < 8; i++) await timers.advance(timers.nextDelay() ?? 0);
    expect(timers.nextDelay()).toBeLessThanOrEqual(1000);
    const before = probes;
    m.probeNow();
    await flush();
    expect(probes).toBe(before + 1);
    m.stop();
    expect(timers.count).toBe(0);
  });

  it('a stopped waiter rejects with aborted', async () => {
    const { m } = rig(refused);
    m.reportOffline('x');
    const ac = new AbortController();
    const p = m.waitOnline(ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'aborted' });
    m.stop();
  });
});
