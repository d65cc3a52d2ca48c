import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../main/store';
import { waitFor } from '../helpers/wait';
import { pushRig, type PushRig } from './push-harness';

/**
 * What better-sqlite3 throws when the state database cannot grow. Injected at the store's
 * seam (the rest is real: SQLite file, server, uploads): whether SQLite's WAL still has room
 * for one more transaction on a filled tmpfs is not something a test can fix (see
 * limits-disk-full-device.test.ts for the real filesystem end to end).
 */
const sqliteFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

/** Makes one queue write throw SQLITE_FULL while `full()` is true. */
function refuse<K extends 'complete' | 'fail'>(store: Store, name: K, full: () => boolean): { refused: number } {
  const counter = { refused: 0 };
  const original = store.queue[name].bind(store.queue) as (...args: unknown[]) => unknown;
  (store.queue as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
    if (full()) {
      counter.refused++;
      throw sqliteFull();
    }
    return original(...args);
  };
  return counter;
}

// Chaos seed 1 (--disk-full): a push step whose queue write a full disk refused kept its items
// held for ever, so the agent said "syncing" with an empty queue and never settled. What is
// refused: an item held after its step failed, an item failed for good for a full disk.
describe('chaos seed 1 (--disk-full): a push whose outcome the full state database refuses', () => {
  let rig: PushRig | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  it('the results transaction refused: the items go back to wait (disk_full), none stays held, and it settles once there is room', async () => {
    rig = await pushRig();
    let full = true;
    const complete = refuse(rig.store, 'complete', () => full);
    await rig.write('a.txt', 'written while the state database was full');
    await rig.enqueue('a.txt');
    rig.pusher.kick();

    await waitFor(() => rig!.events.item.some((e) => e.path === 'a.txt' && e.state === 'retry_wait' && e.code === 'disk_full'), { timeoutMs: 10_000, message: 'a.txt back to wait with disk_full' });
    expect(complete.refused).toBeGreaterThan(0);
    full = false;
    // The server applied the first commit; its answer was lost with the refused write. The
    // next try settles it: done, or the server's version handed to the pull (own-echo rule O2).
    await waitFor(() => rig!.item('a.txt').state === 'done' || rig!.conflicts.some((c) => c.path === 'a.txt'), {
      timeoutMs: 15_000,
      message: `a.txt settled after the disk freed (now ${rig.item('a.txt').state} ${rig.item('a.txt').lastErrorCode})`,
    });
    await waitFor(() => rig!.pusher.status().inFlight === 0, { timeoutMs: 10_000, message: 'nothing held' });
    expect(rig.item('a.txt').state).not.toBe('failed');
    expect((await rig.remote()).has('a.txt')).toBe(true);
  }, 30_000);

  it('a retry that cannot be written: the item stays held while the disk is full, then waits and goes up once there is room', async () => {
    rig = await pushRig();
    let full = false;
    const fail = refuse(rig.store, 'fail', () => full);
    // Every batch answered 503 (nothing applied) while the disk is full: its retry must be written.
    rig.proxy.add({ name: '503', method: 'POST', path: /\/sync$/, probability: 1, times: Infinity, action: { kind: 'status', status: 503, retryAfter: 0 } });
    full = true;
    await rig.write('b.txt', 'retried while the state database was full');
    await rig.enqueue('b.txt');
    rig.pusher.kick();

    await waitFor(() => fail.refused >= 2, { timeoutMs: 15_000, message: 'the retry write refused, and tried again' });
    // Held, not lost and not failed: the store still has it in flight.
    expect(rig.item('b.txt').state).toBe('in_flight');
    rig.proxy.clearRules();
    full = false;
    const done = await rig.waitState('b.txt', 'done', 15_000);
    expect(done.state).toBe('done');
    expect((await rig.remote()).has('b.txt')).toBe(true);
    await waitFor(() => rig!.pusher.status().inFlight === 0, { timeoutMs: 10_000, message: 'nothing held' });
  }, 40_000);
});
