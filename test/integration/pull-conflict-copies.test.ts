import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { conflictPath } from '../../main/engine/pull';
import { moveNoClobber } from '../../main/engine/pull/no-clobber';
import { usePullRig, type Agent, type Writer } from './pull-harness';

// Chaos seed 3 (npm run chaos -- --seed 3 --ops 60 --devices 3) failed to converge about one
// run in four: devices B and C both kept their own edit of a path that A had changed, and both
// named the copy after A ("x (conflict from A …)"), so two different files claimed one name.
// On one device a concurrent apply renamed its copy over the other device's file of that name,
// the index then held the server's revision of that path with this device's bytes, and the
// copy's upload (base null) conflicted at every recheck while the pull found nothing to do.
describe('conflict copies (chaos seed 3)', () => {
  const FIXED = Date.UTC(2026, 10, 22, 7, 27, 22);
  const rig = usePullRig();
  let writer: Writer;
  const setup = async () => (writer = await rig.start({ clock: () => FIXED }));
  const device = (name: string) => rig.device(name);

  it('two devices keeping their own edit of one path name their copies apart', async () => {
    await setup();
    const [b, c] = [device('b'), device('c')];
    await writer.commit({ 'café.txt': 'from a' });
    b.folder.write('café.txt', 'edited on b');
    c.folder.write('café.txt', 'edited on c');
    for (const d of [b, c]) await d.scanner.reconcile();
    await Promise.all([b.puller.pullNow('fb'), c.puller.pullNow('fb')]);

    const copyOf = (d: Agent) => Object.keys(d.tree()).find((p) => p !== 'café.txt')!;
    expect(copyOf(b)).toBe(conflictPath('café.txt', 'b', new Date(FIXED)));
    expect(copyOf(c)).toBe(conflictPath('café.txt', 'c', new Date(FIXED)));
    expect(b.tree()).toEqual({ 'café.txt': 'from a', [copyOf(b)]: 'edited on b' });
    expect(c.tree()).toEqual({ 'café.txt': 'from a', [copyOf(c)]: 'edited on c' });
  });

  it('a copy whose name the index still holds (a file there just went, not yet scanned) builds on that revision', async () => {
    await setup();
    const b = device('b');
    const copy = conflictPath('x.txt', 'b', new Date(FIXED));
    await writer.commit({ [copy]: 'an older copy' });
    await b.puller.pullNow('fb');
    const copyRevision = writer.revisions.get(copy)!;
    expect(b.folder.store.index.get('fb', copy)?.syncedRevision).toBe(copyRevision);
    // The user removes the old copy; the scanner has not seen it yet. Meanwhile x.txt is
    // edited here and on another device.
    unlinkSync(b.folder.abs(copy));
    await writer.commit({ 'x.txt': 'remote x' });
    b.folder.write('x.txt', 'local x');
    await b.scanner.scanPaths(['x.txt']);
    await b.puller.pullNow('fb');

    expect(b.tree()).toEqual({ 'x.txt': 'remote x', [copy]: 'local x' });
    // With no base the server would answer conflict (it holds copyRevision) and the pull would
    // see "already synced": the agents would never settle.
    expect(b.folder.store.queue.getByPath('fb', copy)).toMatchObject({ op: 'upsert', baseRevision: copyRevision });
    const reply = await b.client.submitBatch('remote-fb', [
      { key: 'k', action: 'upsert', path: copy, size: 7, mtime: FIXED, blocks: b.folder.store.queue.getByPath('fb', copy)!.blocks!, baseRevision: copyRevision },
    ]);
    // The blocks are not uploaded in this pull-only rig: the server names them missing, which
    // is how a commit that passed the revision check looks (a conflict would come first).
    expect('results' in reply && reply.results.k).toMatchObject({ ok: false, code: 'missing_blocks' });
  });
});

describe('moveNoClobber', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tmp = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'ferry-noclobber-'));
    dirs.push(d);
    return d;
  };

  it('refuses a taken name and leaves both files as they were (a rename would replace the target)', async () => {
    const d = tmp();
    writeFileSync(path.join(d, 'a'), 'mine');
    writeFileSync(path.join(d, 'b'), 'theirs');
    expect(await moveNoClobber(path.join(d, 'a'), path.join(d, 'b'))).toBe(false);
    expect(readFileSync(path.join(d, 'a'), 'utf8')).toBe('mine');
    expect(readFileSync(path.join(d, 'b'), 'utf8')).toBe('theirs');
  });

  it('moves to a free name, keeping nothing at the old one', async () => {
    const d = tmp();
    writeFileSync(path.join(d, 'a'), 'mine');
    expect(await moveNoClobber(path.join(d, 'a'), path.join(d, 'c'))).toBe(true);
    expect(readFileSync(path.join(d, 'c'), 'utf8')).toBe('mine');
    expect(() => readFileSync(path.join(d, 'a'))).toThrow(/ENOENT/);
  });
});
