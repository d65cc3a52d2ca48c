import { describe, expect, it } from 'vitest';
import { FerryError } from '../../protocol/errors';
import { usePullRig } from './pull-harness';

// The long runs listed items that waited out the minute-long conflict recheck (mostly a folder
// delete refused because another device put something in it, when the pull that should settle
// it hit a fault): they converged only a minute later. A conflict waits for a pull of its
// folder; once a pull applied what the server had since, the conflict is due at once
// (docs/conflict-rules.md, "Conflicts that wait"). Refused: making it due after a pull that read
// nothing new (the conflict would then meet the same answer in a tight loop).
describe('a push conflict that waits is rechecked right after the next pull of its folder', () => {
  const rig = usePullRig();

  it('makes the waiting conflict due after a pull that applied changes, and not after one that read nothing', async () => {
    const writer = await rig.start();
    const b = rig.device('b');
    await writer.commit({ 'a.txt': 'v1' });
    await b.puller.pullNow('fb');
    const { store } = b.folder;

    // b's delete of the folder "docs" met a conflict: parked for the minute-long recheck.
    const park = () => {
      store.paths.enqueue({ folderId: 'fb', path: 'docs', kind: 'dir', op: 'delete', baseRevision: '1' });
      const [held] = store.queue.claim({ limit: 1 });
      const inAMinute = Date.now() + 60_000;
      expect(store.queue.fail(held!, { code: 'conflict', message: 'Path was changed on the server' }, inAMinute)).toBe('retry_wait');
      return inAMinute;
    };
    const parkedUntil = park();

    // A pull that reads nothing new leaves it to its minute.
    await b.puller.pullNow('fb');
    expect(store.queue.getByPath('fb', 'docs')).toMatchObject({ state: 'retry_wait', nextAttemptAt: parkedUntil });
    // So does a full pull that changes nothing here, though it lists every entry (chaos seed
    // 60093: each such answer asked for the next full pull, a conflict every few milliseconds).
    store.tokens.clear('fb');
    expect(await b.puller.pullNow('fb')).toMatchObject({ full: true, downloaded: 0, recorded: 0 });
    expect(store.queue.getByPath('fb', 'docs')).toMatchObject({ state: 'retry_wait', nextAttemptAt: parkedUntil });

    // Another device's change lands; the pull applies it: the conflict is due now.
    await writer.commit({ 'b.txt': 'from a' });
    const before = Date.now();
    const summary = await b.puller.pullNow('fb');
    expect(summary.downloaded).toBe(1);
    const item = store.queue.getByPath('fb', 'docs')!;
    expect(item.state).toBe('retry_wait');
    expect(item.nextAttemptAt).toBeLessThanOrEqual(Date.now());
    expect(item.nextAttemptAt).toBeGreaterThanOrEqual(before);
    expect(store.queue.claim({ limit: 5 }).map((i) => i.path)).toEqual(['docs']);
  });

  // Chaos seed 1033: a pull brought the server's version of a file; half a second later the
  // answer to a push in flight since before it came back `conflict`. The pull the conflict asks
  // for hit a network fault, and every later pull read nothing new, so the item waited out its
  // minute. The first pull through after a failed one makes it due (once: a conflict that
  // persists is not looped on).
  it('chaos seed 1033: makes the waiting conflict due after the first pull through after a failed one', async () => {
    const writer = await rig.start();
    let failNext = false;
    const b = rig.device('b', {}, (client) => ({
      changesPage: (folderId, query, options) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new FerryError('network_error', 'connection reset (injected)', { retryable: true }));
        }
        return client.changesPage(folderId, query, options);
      },
      waitForChanges: (...args) => client.waitForChanges(...args),
      getBlock: (...args) => client.getBlock(...args),
    }));
    await writer.commit({ 'a.txt': 'v1' });
    await b.puller.pullNow('fb');
    const { store } = b.folder;
    store.paths.enqueue({ folderId: 'fb', path: 'a.txt', kind: 'file', op: 'delete', baseRevision: '0' });
    const [held] = store.queue.claim({ limit: 1 });
    const parkedUntil = Date.now() + 60_000;
    expect(store.queue.fail(held!, { code: 'conflict', message: 'Path was changed on the server' }, parkedUntil)).toBe('retry_wait');

    // The conflict's own pull fails.
    failNext = true;
    await expect(b.puller.pullNow('fb')).rejects.toMatchObject({ code: 'network_error' });
    expect(store.queue.getByPath('fb', 'a.txt')).toMatchObject({ state: 'retry_wait', nextAttemptAt: parkedUntil });

    // The next one gets through and reads nothing new: the conflict is due all the same.
    const before = Date.now();
    const summary = await b.puller.pullNow('fb');
    expect(summary.downloaded + summary.deleted).toBe(0);
    const item = store.queue.getByPath('fb', 'a.txt')!;
    expect(item).toMatchObject({ state: 'retry_wait', lastErrorCode: 'conflict' });
    expect(item.nextAttemptAt).toBeLessThanOrEqual(Date.now());
    expect(item.nextAttemptAt).toBeGreaterThanOrEqual(before);

    // Parked again, with no failure in between: a pull that reads nothing leaves it to its minute.
    const [again] = store.queue.claim({ limit: 1 });
    const parkedAgain = Date.now() + 60_000;
    store.queue.fail(again!, { code: 'conflict', message: 'Path was changed on the server' }, parkedAgain);
    await b.puller.pullNow('fb');
    expect(store.queue.getByPath('fb', 'a.txt')).toMatchObject({ state: 'retry_wait', nextAttemptAt: parkedAgain });
  });

  it('leaves other waits alone: a retry after a server error keeps its backoff', async () => {
    const writer = await rig.start();
    const b = rig.device('b');
    await b.puller.pullNow('fb');
    const { store } = b.folder;
    store.paths.enqueue({ folderId: 'fb', path: 'x.txt', kind: 'file', op: 'delete', baseRevision: '1' });
    const [held] = store.queue.claim({ limit: 1 });
    const later = Date.now() + 60_000;
    store.queue.fail(held!, { code: 'server_error', message: '503' }, later);
    await writer.commit({ 'c.txt': 'from a' });
    await b.puller.pullNow('fb');
    expect(store.queue.getByPath('fb', 'x.txt')).toMatchObject({ state: 'retry_wait', nextAttemptAt: later });
  });
});
