import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { waitFor } from '../helpers/wait';
import { TaskGate } from '../helpers/server-harness';
import type { QueueItem } from '../../main/store/queue';
import { FOLDER, REMOTE, blockPuts, pushRig, syncPosts, type PushRig } from './push-harness';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** Above the batch-upload size: a file that goes up by its own PUT, which a rule can fault. */
const bigFile = (fill: number) => Buffer.alloc(300_000, fill);

interface Seen {
  state: QueueItem['state'];
  attempts: number;
  nextAttemptAt: number;
  code: string | null;
  held: boolean;
  /** When the queue row was written (the pusher's clock), so a slow listener cannot skew it. */
  updatedAt: number;
}

/** The queue row of `rel` each time the pusher says it waits to retry, or tries again. */
function watchRetries(rig: PushRig, rel: string): Seen[] {
  const seen: Seen[] = [];
  rig.pusher.on('item', (e) => {
    if (e.path !== rel || (e.state !== 'retry_wait' && e.state !== 'retrying')) return;
    const it = rig.item(rel);
    seen.push({ state: it.state, attempts: it.attempts, nextAttemptAt: it.nextAttemptAt, code: it.lastErrorCode, held: it.inFlightGeneration !== null, updatedAt: it.updatedAt });
  });
  return seen;
}

/**
 * Mid-range jitter for the tests that watch the waits: full jitter may draw a wait of 0 ms,
 * whose next try is "now" — not after the moment the listener reads the clock (a CI run
 * failed on 1795343330857 > 1795343330857).
 */
const MID_JITTER = () => 0.5;

/** Every wait showed retry_wait, a next try in the future, and one more attempt than the last. */
function expectVisibleWaits(seen: Seen[], waits: number, code: string): void {
  const waiting = seen.filter((s) => s.state === 'retry_wait');
  expect(waiting.map((s) => s.attempts)).toEqual(Array.from({ length: waits }, (_, i) => i + 1));
  for (const s of waiting) {
    // The next try lies after the moment the wait was recorded (not after the moment a listener
    // under load got to read it: a CI run on a loaded machine read it 36 ms after a 10 ms wait).
    expect(s.nextAttemptAt).toBeGreaterThan(s.updatedAt);
    expect(s.code).toBe(code);
  }
}

describe('pusher: retries through a faulty network', () => {
  let rig: PushRig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it('retries a 5xx batch with the same tracking id and commits it once', async () => {
    rig = await pushRig({ random: MID_JITTER });
    rig.proxy.add({ name: '500', method: 'POST', path: /\/sync$/, times: 2, action: { kind: 'status', status: 500 } });
    const seen = watchRetries(rig, 'a.txt');
    await rig.write('a.txt', 'a');
    await rig.enqueue('a.txt');
    rig.pusher.kick();
    const done = await rig.waitState('a.txt', 'done');
    const posts = syncPosts(rig);
    expect(posts.map((p) => p.fault)).toEqual(['500', '500', undefined]);
    expect(posts[0]!.trackingId).toBeTruthy();
    expect(new Set(posts.map((p) => p.trackingId))).toEqual(new Set([posts[0]!.trackingId]));
    // Each backoff showed on the item, which stayed held (retried in place), then ran again.
    expectVisibleWaits(seen, 2, 'internal');
    expect(seen.every((s) => s.held)).toBe(true);
    expect(seen.filter((s) => s.state === 'in_flight').map((s) => s.attempts)).toEqual([2, 3]);
    expect(done.attempts).toBe(3);
    expect(rig.events.item.filter((e) => e.path === 'a.txt' && e.state === 'retry_wait').every((e) => (e.nextAttemptAt ?? 0) > 0)).toBe(true);
  });

  it('shows a batch waiting while it backs off, then fails it after the retry limit with the reason', async () => {
    rig = await pushRig({ random: MID_JITTER });
    rig.proxy.add({ name: '503', method: 'POST', path: /\/sync$/, times: Infinity, action: { kind: 'status', status: 503, code: 'unavailable', message: 'the server is overloaded' } });
    const seen = watchRetries(rig, 'w.txt');
    await rig.write('w.txt', 'w');
    await rig.enqueue('w.txt');
    rig.pusher.kick();
    // Seen from outside as it happens: waiting, with the error and a next try due later.
    const waiting = await waitFor(() => {
      const it = rig!.item('w.txt');
      return it.state === 'retry_wait' ? it : undefined;
    });
    expect(waiting.lastErrorCode).toBe('unavailable');
    // Its due time is set; that it lies after the moment the wait was recorded is checked on
    // the rows read as each wait happened (expectVisibleWaits): a row polled here may carry a
    // later write's updatedAt under load (a CI run read 984 < 1052).
    expect(waiting.nextAttemptAt).toEqual(expect.any(Number));
    const failed = await rig.waitState('w.txt', 'failed');
    expectVisibleWaits(seen, 3, 'unavailable');
    expect(failed.attempts).toBe(4);
    expect(failed.lastErrorCode).toBe('unavailable');
    expect(failed.lastErrorMessage).toBe('the server is overloaded (gave up after 3 retries)');
    expect(failed.inFlightGeneration).toBeNull();
    const posts = syncPosts(rig);
    expect(posts).toHaveLength(4);
    expect(new Set(posts.map((p) => p.trackingId)).size).toBe(1);
  });

  it('replays a batch whose reply was lost mid-body: applied once, no self-conflict', async () => {
    rig = await pushRig();
    rig.proxy.add({ name: 'cut', method: 'POST', path: /\/sync$/, action: { kind: 'drop-response', afterBytes: 5 } });
    await rig.write('b.txt', 'b');
    await rig.enqueue('b.txt');
    rig.pusher.kick();
    const done = await rig.waitState('b.txt', 'done');
    expect(done.lastErrorCode).toBeNull();
    const posts = syncPosts(rig);
    expect(posts).toHaveLength(2);
    expect(posts[1]!.trackingId).toBe(posts[0]!.trackingId);
    expect(rig.conflicts).toEqual([]);
    const remote = await rig.remote();
    expect(rig.store.index.get(FOLDER, 'b.txt')?.syncedRevision).toBe(remote.get('b.txt')?.revision);
  });

  it('survives a connection dropped in the middle of a block upload', async () => {
    rig = await pushRig();
    const data = Buffer.alloc(300_000, 7);
    rig.proxy.add({ name: 'cut-upload', method: 'PUT', path: `/v1/blocks/${sha(data)}`, action: { kind: 'drop-request', afterBytes: 1000 } });
    await rig.write('c.bin', data);
    await rig.enqueue('c.bin');
    rig.pusher.kick();
    await rig.waitState('c.bin', 'done');
    const puts = blockPuts(rig, sha(data));
    expect(puts.map((p) => p.fault)).toEqual(['cut-upload', undefined]);
    expect(puts[1]!.trackingId).toBe(puts[0]!.trackingId);
  });

  it('honours Retry-After on a 429 over its own backoff', async () => {
    rig = await pushRig();
    rig.proxy.add({ name: '429', method: 'POST', path: /\/sync$/, action: { kind: 'status', status: 429, retryAfter: 1 } });
    await rig.write('r.txt', 'r');
    await rig.enqueue('r.txt');
    rig.pusher.kick();
    await rig.waitState('r.txt', 'done');
    const [first, second] = syncPosts(rig);
    // Backoff base is 20 ms in tests: only Retry-After explains a second's wait.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  it('resubmits a sync batch that got a 504 in async mode under the same tracking id', async () => {
    rig = await pushRig();
    rig.proxy.add({ name: '504', method: 'POST', path: /\/sync$/, query: /mode=sync/, action: { kind: 'status', status: 504, forward: true } });
    for (const p of ['x1.txt', 'x2.txt']) {
      await rig.write(p, p);
      await rig.enqueue(p);
    }
    rig.pusher.kick();
    await rig.waitState('x1.txt', 'done');
    await rig.waitState('x2.txt', 'done');
    const posts = syncPosts(rig);
    expect(posts.map((p) => [p.query, p.fault])).toEqual([
      ['mode=sync', '504'],
      ['mode=async', undefined],
    ]);
    expect(posts[1]!.trackingId).toBe(posts[0]!.trackingId);
    expect(rig.proxy.requests({ method: 'GET', path: /^\/v1\/tasks\// }).length).toBeGreaterThanOrEqual(1);
    expect(rig.store.tasks.list()).toEqual([]);
    expect(rig.conflicts).toEqual([]);
  });

  it('fails an item after 3 retries with its reason while the other files go through', async () => {
    rig = await pushRig({ random: MID_JITTER });
    const bad = bigFile(1);
    await rig.write('bad.bin', bad);
    await rig.write('good.bin', bigFile(2));
    rig.proxy.add({ name: '503', method: 'PUT', path: `/v1/blocks/${sha(bad)}`, times: Infinity, action: { kind: 'status', status: 503 } });
    const seen = watchRetries(rig, 'bad.bin');
    await rig.enqueue('bad.bin');
    await rig.enqueue('good.bin');
    rig.pusher.kick();
    const good = await rig.waitState('good.bin', 'done');
    expect(good.attempts).toBe(1);
    const failed = await rig.waitState('bad.bin', 'failed');
    // Between tries it waited in the queue (hold let go), one more attempt each time.
    expectVisibleWaits(seen, 3, 'unavailable');
    expect(seen.some((s) => s.held)).toBe(false);
    expect(failed.attempts).toBe(4);
    expect(failed.lastErrorCode).toBe('unavailable');
    expect(failed.lastErrorMessage).toMatch(/gave up after 3 retries\)$/);
    const puts = blockPuts(rig, sha(bad));
    expect(puts).toHaveLength(4);
    // The same block request each time: the same tracking id.
    expect(new Set(puts.map((p) => p.trackingId)).size).toBe(1);
    // Retry brings it back; with the fault gone it goes through.
    rig.proxy.clearRules();
    expect(rig.pusher.retry(failed.id)).toBe(true);
    const done = await rig.waitState('bad.bin', 'done');
    expect(done.attempts).toBe(1);
  });

  it('fails at once on a permanent error', async () => {
    rig = await pushRig();
    const p = bigFile(3);
    await rig.write('p.bin', p);
    rig.proxy.add({ name: '403', method: 'PUT', path: `/v1/blocks/${sha(p)}`, times: Infinity, action: { kind: 'status', status: 403, code: 'forbidden' } });
    await rig.enqueue('p.bin');
    rig.pusher.kick();
    const failed = await rig.waitState('p.bin', 'failed');
    expect(failed.lastErrorCode).toBe('forbidden');
    expect(failed.attempts).toBe(1);
    expect(blockPuts(rig, sha(p))).toHaveLength(1);
    expect(rig.events.item.filter((e) => e.path === 'p.bin' && e.state === 'retry_wait')).toEqual([]);
    // Changed settings retry failed items.
    rig.proxy.clearRules();
    rig.pusher.setOptions({ retryLimit: 4 });
    await rig.waitState('p.bin', 'done');
  });

  it('retries path_locked until the other task lets go of the path', async () => {
    const gate = new TaskGate();
    rig = await pushRig({ server: { hooks: { beforeApply: gate.hook } } });
    // Another client's task holds the path (a delete of something absent: it changes nothing).
    const held = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=async`, {
      body: { operations: [{ key: 'k', action: 'delete', path: 'locked.txt', baseRevision: null }] },
      trackingId: 'other-client-1',
    });
    expect(held.status).toBe(202);
    await waitFor(() => gate.held.size === 1);
    await rig.write('locked.txt', 'mine');
    await rig.enqueue('locked.txt');
    rig.pusher.kick();
    // The server refuses our batch while the other task holds the path.
    await waitFor(() => syncPosts(rig!).some((p) => p.status === 423));
    // Shown as waiting for its next try, with the reason.
    const waiting = await waitFor(() => {
      const it = rig!.item('locked.txt');
      return it.state === 'retry_wait' ? it : undefined;
    });
    expect(waiting.lastErrorCode).toBe('path_locked');
    expect(waiting.nextAttemptAt).toBeGreaterThan(waiting.updatedAt - 1);
    // Let the holder finish (and every later task through).
    gate.release();
    await rig.waitState('locked.txt', 'done', 15_000);
    const posts = syncPosts(rig);
    expect(posts[0]!.status).toBe(423);
    expect(posts.at(-1)!.status).toBe(200);
    expect(new Set(posts.map((p) => p.trackingId)).size).toBe(1);
  });
});

describe('pusher: a batch the server refuses as a whole', () => {
  let rig: PushRig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it('is split so that one bad operation cannot block the others', async () => {
    rig = await pushRig({ options: { lingerMs: 5000 }, start: false });
    for (const p of ['s1.txt', 's2.txt', 's3.txt', 's4.txt']) {
      await rig.write(p, p);
      await rig.enqueue(p);
    }
    rig.proxy.add({ name: '400', method: 'POST', path: /\/sync$/, action: { kind: 'status', status: 400, code: 'invalid_request' } });
    await rig.pusher.start();
    await waitFor(() => rig!.store.queue.countsByState().done === 4);
    const posts = syncPosts(rig);
    expect(posts[0]!.fault).toBe('400');
    expect(posts.length).toBe(3);
    expect(new Set(posts.map((p) => p.trackingId)).size).toBe(3);
  });
});
