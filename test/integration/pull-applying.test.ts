import { describe, expect, it } from 'vitest';
import { usePullRig } from './pull-harness';

/**
 * The pull and the scan of one folder share one set of the paths the pull is placing (the
 * folder coordinator's `applying`, docs/architecture.md "The way of a local change", step 3):
 * the puller fills it, the scanner leaves what is in it for a later look, so a pulled file
 * between its rename and its index commit is never taken for a local change.
 */
describe('paths the pull is placing', () => {
  const rig = usePullRig();

  it('are in the set from before the file is placed until after its commit, then out of it', async () => {
    const writer = await rig.start();
    await writer.commit({ 'notes/a.txt': 'from another device' });
    const b = rig.device('b');
    // What the set held at each of the puller's additions and removals, and the disk then.
    const changes: string[] = [];
    const { add, delete: remove } = { add: b.applying.add.bind(b.applying), delete: b.applying.delete.bind(b.applying) };
    b.applying.add = (p: string) => (changes.push(`+${p} on disk: ${b.read(p) !== null}`), add(p));
    b.applying.delete = (p: string) => (changes.push(`-${p} on disk: ${b.read(p) !== null}, indexed: ${b.folder.store.index.get('fb', p) !== undefined}`), remove(p));
    await b.puller.pullNow('fb');
    expect(b.read('notes/a.txt')).toBe('from another device');
    expect(changes).toEqual(['+notes/a.txt on disk: false', '-notes/a.txt on disk: true, indexed: true']);
    expect([...b.applying]).toEqual([]);
  });

  it('a scan leaves a path in the set for later and queues nothing; out of it, the change is queued', async () => {
    await rig.start();
    const b = rig.device('b');
    b.folder.write('c.txt', 'written here');
    b.applying.add('c.txt');
    const held = await b.scanner.scanPaths(['c.txt']);
    expect(held.outcomes.unstable).toBe(1);
    expect(b.folder.store.queue.getByPath('fb', 'c.txt')).toBeUndefined();

    b.applying.delete('c.txt');
    const looked = await b.scanner.scanPaths(['c.txt']);
    expect(looked.outcomes.unstable ?? 0).toBe(0);
    expect(b.folder.store.queue.getByPath('fb', 'c.txt')).toMatchObject({ op: 'upsert', state: 'pending' });
  });
});
