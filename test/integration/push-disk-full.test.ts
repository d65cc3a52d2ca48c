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

/** Makes one queue write (a completion goes through the path state) throw SQLITE_FULL while `full()` is true. */
function refuse(store: Store, name: 'complete' | 'fail' | 'claim', full: () => boolean): { refused: number } {
  return refuseOn(name === 'complete' ? store.paths : store.queue, name, full);
}

/** Makes `repo[name]` throw SQLITE_FULL while `full()` is true, counting the writes refused. */
function refuseOn(target: object, name: string, full: () => boolean): { refused: number } {
  const counter = { refused: 0 };
  const repo = target as Record<string, (...args: unknown[]) => unknown>;
  const original = repo[name]!.bind(repo);
  repo[name] = (...args: unknown[]) => {
    if (full()) {
      counter.refused++;
      throw sqliteFull();
    }
    return original(...args);
  };
  return counter;
}

// Chaos seeds 1 and 2 with --disk-full. Seed 1: a push step whose queue write a full disk
// refused kept its items held for ever, so the agent said "syncing" with an empty queue and
// never settled. Seed 2: a batch the server applied whose answer the full disk kept from being
// recorded was sent again, met its own commit (by then built on by another device) and made a
// spurious conflict copy. What is refused: an item held for ever, an item failed for good for
// a full disk, an applied batch sent again.
describe('chaos seeds 1, 2 (--disk-full): a push whose outcome the full state database refuses', () => {
  let rig: PushRig | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  it('S18, chaos seed 2: the results transaction refused: the answer is recorded once there is room, not sent again (no conflict with itself)', async () => {
    rig = await pushRig();
    let full = true;
    const complete = refuse(rig.store, 'complete', () => full);
    await rig.write('a.txt', 'written while the state database was full');
    await rig.enqueue('a.txt');
    rig.pusher.kick();

    // The server applied the commit; recording its answer waits, tried again, the item held.
    await waitFor(() => complete.refused >= 2, { timeoutMs: 15_000, message: 'the results write refused, and tried again' });
    expect(rig.item('a.txt').state).toBe('in_flight');
    expect((await rig.remote()).has('a.txt')).toBe(true);
    full = false;
    const done = await rig.waitState('a.txt', 'done', 15_000);
    // The revision is the one the server gave that commit: nothing was sent again.
    expect(done.state).toBe('done');
    expect(rig.store.index.get('f1', 'a.txt')?.syncedRevision).toBe((await rig.remote()).get('a.txt')?.revision);
    expect(rig.conflicts).toEqual([]);
    await waitFor(() => rig!.pusher.status().inFlight === 0, { timeoutMs: 10_000, message: 'nothing held' });
  }, 40_000);

  it('chaos seed 1: a retry that cannot be written: the item stays held while the disk is full, then waits and goes up once there is room', async () => {
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

  // Chaos seed 1 again (--disk-full, three devices): an upload waited offline while the server
  // restarted; the server came back while dev-a's disk was full, the pusher's claim of the next
  // items (run as it learned it was online) threw SQLITE_FULL, and that throw cut the online
  // transition short before it woke the requests waiting for it. The item stayed in_flight for
  // ever with nothing recorded and nothing sent (the run never converged). What is refused: a
  // request still waiting for a server that answers, an item held for ever.
  it('chaos seed 1: the claim refused as the server comes back: the uploads that waited offline still go up', async () => {
    rig = await pushRig();
    let full = false;
    const claim = refuse(rig.store, 'claim', () => full);
    await rig.proxy.goOffline();
    await rig.write('c.txt', 'waited offline, then the disk filled');
    await rig.enqueue('c.txt');
    rig.pusher.kick();
    // Claimed, its first request refused: the pusher waits for the server.
    await waitFor(() => rig!.pusher.status().connectivity === 'offline', { timeoutMs: 10_000, message: 'the pusher offline' });
    expect(rig.item('c.txt').state).toBe('in_flight');
    full = true;
    await rig.proxy.goOnline();
    await waitFor(() => rig!.pusher.status().connectivity === 'online', { timeoutMs: 10_000, message: 'the pusher online again' });
    await waitFor(() => claim.refused >= 1, { timeoutMs: 10_000, message: 'a claim refused by the full disk' });
    // The held upload goes on while the disk is full (it needs no write until its answer).
    await waitFor(async () => (await rig!.remote()).has('c.txt'), { timeoutMs: 15_000, message: 'c.txt on the server while the disk is full' });
    full = false;
    const done = await rig.waitState('c.txt', 'done', 15_000);
    expect(done.state).toBe('done');
    await waitFor(() => rig!.pusher.status().inFlight === 0, { timeoutMs: 10_000, message: 'nothing held' });
  }, 60_000);
  it('a batch whose record before sending the full disk refuses goes unrecorded, and lands', async () => {
    rig = await pushRig();
    let refused = 0;
    const tasks = rig.store.tasks;
    const add = tasks.add.bind(tasks);
    tasks.add = (task) => {
      if (task.taskId.startsWith('unanswered:')) {
        refused++;
        throw sqliteFull();
      }
      add(task);
    };
    await rig.write('b.txt', 'sent with the state database full');
    await rig.enqueue('b.txt');
    rig.pusher.kick();
    const done = await rig.waitState('b.txt', 'done', 15_000);
    expect(refused).toBe(1);
    expect(rig.store.index.get('f1', 'b.txt')?.syncedRevision).toBe((await rig.remote()).get('b.txt')?.revision);
    expect(done.lastErrorCode).toBeNull();
    expect(rig.store.tasks.list()).toEqual([]);
  });
});

// Found by review: a batch is recorded before it is sent (docs/conflict-rules.md, "Uploads in
// flight"). On a full disk that record, or its renaming to the server's task, or its drop, could
// fail the batch or hold its items until a restart. What is refused: a batch failed or held
// because its record could not be written.
describe('the record of a batch in flight on a full state database', () => {
  let rig: PushRig | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  it('a batch goes unrecorded, or its record stays under the tracking id, when the disk has no room: it is applied and settles', async () => {
    rig = await pushRig({ options: { asyncThreshold: 1 } });
    let full: 'add' | 'replace' = 'add';
    const added = refuseOn(rig.store.tasks, 'add', () => full === 'add');
    const renamed = refuseOn(rig.store.tasks, 'replace', () => full === 'replace');
    const sent = async (name: string) => {
      await rig!.write(name, `sent with no room for its record: ${name}`);
      await rig!.enqueue(name);
      rig!.pusher.kick();
      const done = await rig!.waitState(name, 'done', 15_000);
      expect(done.lastErrorCode).toBeNull();
      expect(rig!.store.index.get('f1', name)?.syncedRevision).toBe((await rig!.remote()).get(name)?.revision);
      expect(rig!.store.tasks.list()).toEqual([]);
    };
    // No room for the record before sending: the batch goes unrecorded.
    await sent('c.txt');
    expect(added.refused).toBeGreaterThanOrEqual(1);
    // Recorded, but no room to name the server's task: the record sent stays, and goes with the answer.
    full = 'replace';
    await sent('e.txt');
    expect(renamed.refused).toBeGreaterThanOrEqual(1);
    await waitFor(() => rig!.pusher.status().inFlight === 0, { timeoutMs: 10_000, message: 'nothing held' });
  }, 40_000);

  it('a record the full disk keeps from being dropped after a refusal stays: the item is let go, and the record answered after a restart', async () => {
    rig = await pushRig({ options: { retryLimit: 0 } });
    let full = true;
    const removal = refuseOn(rig.store.tasks, 'remove', () => full);
    rig.proxy.add({ name: 'forbidden', method: 'POST', path: /\/sync$/, times: 1, action: { kind: 'status', status: 403, code: 'forbidden' } });
    await rig.write('d.txt', 'refused once');
    await rig.enqueue('d.txt');
    rig.pusher.kick();
    const failed = await rig.waitState('d.txt', 'failed', 15_000);
    expect(failed.lastErrorCode).toBe('forbidden');
    expect(removal.refused).toBeGreaterThanOrEqual(1);
    expect(rig.store.tasks.list()).toHaveLength(1);
    await waitFor(() => rig!.pusher.status().inFlight === 0, { timeoutMs: 10_000, message: 'the item let go' });
    full = false;
    await rig.restart();
    await rig.pusher.start();
    await waitFor(() => rig!.store.tasks.list().length === 0, { timeoutMs: 15_000, message: 'the record answered after the restart' });
    // Sent again under its tracking id, the batch was applied: the file is up, and recorded so.
    const done = await rig.waitState('d.txt', 'done', 15_000);
    expect(done.lastErrorCode).toBeNull();
    expect(rig.store.index.get('f1', 'd.txt')?.syncedRevision).toBe((await rig.remote()).get('d.txt')?.revision);
  }, 30_000);
});
