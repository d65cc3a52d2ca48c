import { describe, expect, it } from 'vitest';
import { logPullActivity } from '../../main/engine/pull/activity-log';
import { PullerEmitter, type PullSummary } from '../../main/engine/pull/events';
import type { NewActivity } from '../../main/store/activity';
import path from 'node:path';
import { openStore } from '../../main/store';
import { makeTempDir } from '../helpers/local-temp';

const summary = (folderId: string): PullSummary => ({
  folderId, full: false, expired: false, pages: 1, downloaded: 3, deleted: 0, recorded: 0, reuploaded: 0, moved: 0, conflicts: 0, skipped: 0, paused: false, tokenStored: true, durationMs: 1,
});

// main/engine/pull/activity-log.ts: a pull's lines go to the log in groups, not one commit per file.
describe('pull activity lines', () => {
  it('writes the lines of one turn of the loop together, and all of them before "pulled" is heard', async () => {
    const writes: NewActivity[][] = [];
    const events = new PullerEmitter();
    const stop = logPullActivity(events, { addMany: (entries) => void writes.push([...entries]) });
    for (const path of ['a', 'b', 'c']) events.emit('applied', { folderId: 'f', path, action: 'downloaded', rule: 'R1' });
    expect(writes).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(writes.map((w) => w.map((e) => e.path))).toEqual([['a', 'b', 'c']]);

    events.emit('applied', { folderId: 'f', path: 'gone', action: 'deleted', rule: 'D4' });
    let seenAtPulled: string[] = [];
    events.on('pulled', () => (seenAtPulled = writes.flat().map((e) => `${e.kind} ${e.path}`)));
    events.emit('pulled', summary('f'));
    expect(seenAtPulled).toContain('deleted_remote gone');
    stop();
  });

  // A new-user try: the device whose version won a conflict read "Downloaded" for the other's copy.
  it("names another device's conflict copy as a conflict, with whose version it keeps and of which file", async () => {
    const writes: NewActivity[][] = [];
    const events = new PullerEmitter();
    const stop = logPullActivity(events, { addMany: (entries) => void writes.push([...entries]) });
    events.emit('applied', { folderId: 'f', path: 'docs/plan (conflict from laptop 2030-01-02 100000).txt', action: 'downloaded', rule: 'U2' });
    events.emit('applied', { folderId: 'f', path: 'docs/plan.txt', action: 'downloaded', rule: 'U5' });
    await new Promise((r) => setImmediate(r));
    expect(writes.flat().map((e) => [e.kind, e.message])).toEqual([
      ['conflict', 'laptop changed docs/plan.txt too: its version is kept in this copy beside yours; keep the one you want and delete the other (to keep the copy\'s version, rename the copy to the original\'s name)'],
      ['downloaded', 'Downloaded'],
    ]);
    stop();
  });

  // A new-user try: a copy made here once, back after Sync afresh, read as another device's change.
  it('says a conflict copy named after this device, back from the server, as downloaded, not as a conflict', async () => {
    const writes: NewActivity[][] = [];
    const events = new PullerEmitter();
    const stop = logPullActivity(events, { addMany: (entries) => void writes.push([...entries]) }, { self: { id: 'dev-laptop', name: 'laptop' } });
    events.emit('applied', { folderId: 'f', path: 'docs/plan (conflict from laptop 2030-01-02 100000).txt', action: 'downloaded', rule: 'U2' });
    await new Promise((r) => setImmediate(r));
    expect(writes.flat().map((e) => [e.kind, e.message])).toEqual([['downloaded', 'Downloaded: a conflict copy of docs/plan.txt made here before, back from the server']]);
    stop();
  });

  // A new-user try: a file deleted here because another device deleted it named nobody, and an
  // edit that won over a delete made here read only "Downloaded".
  it('names the device whose delete, move or edit over a local delete it applied; none for a full sync or its own', async () => {
    const writes: NewActivity[][] = [];
    const events = new PullerEmitter();
    const names: Record<string, string> = { 'dev-desk': 'desk' };
    const stop = logPullActivity(events, { addMany: (entries) => void writes.push([...entries]) }, { self: { id: 'dev-laptop', name: 'laptop' }, deviceLabel: (id) => names[id] ?? `device ${id}` });
    events.emit('applied', { folderId: 'f', path: 'old.txt', action: 'deleted', rule: 'D4', device: 'dev-desk' });
    events.emit('applied', { folderId: 'f', path: 'swept.txt', action: 'deleted', rule: 'D4', device: '' });
    events.emit('applied', { folderId: 'f', path: 'mine.txt', action: 'deleted', rule: 'D4', device: 'dev-laptop' });
    events.emit('applied', { folderId: 'f', path: 'b/plan.txt', action: 'moved', rule: 'M1', from: 'a/plan.txt', device: 'dev-desk' });
    events.emit('applied', { folderId: 'f', path: 'back.txt', action: 'downloaded', rule: 'U3', device: 'dev-desk' });
    events.emit('applied', { folderId: 'f', path: 'new.txt', action: 'downloaded', rule: 'U4', device: 'dev-desk' });
    // A folder renamed there, applied file by file: its old name's delete is the move (a new-user try read "deleted it").
    events.emit('applied', { folderId: 'f', path: 'project', action: 'deleted', rule: 'DD4', to: 'project-2026', device: 'dev-desk' });
    events.emit('applied', { folderId: 'f', path: 'old.txt', action: 'downloaded', rule: 'U3', restoredFrom: '8', device: 'dev-desk' });
    events.emit('applied', { folderId: 'f', path: 'mine-back.txt', action: 'downloaded', rule: 'U3', restoredFrom: '9', device: 'dev-laptop' });
    await new Promise((r) => setImmediate(r));
    expect(writes.flat().map((e) => `${e.path}: ${e.message}`)).toEqual([
      'old.txt: Deleted here: desk deleted it',
      'swept.txt: Deleted here: it was deleted on the server',
      'mine.txt: Deleted here: it was deleted on the server',
      'b/plan.txt: Moved here from a/plan.txt: desk moved it',
      'back.txt: Downloaded: deleted here, but desk changed it: the change wins, so that version is back',
      'new.txt: Downloaded',
      'project: Moved to project-2026: desk moved it',
      'old.txt: Restored: version #8 came back (desk restored it)',
      'mine-back.txt: Restored: version #9 came back',
    ]);
    stop();
  });

  // A new-user try: a red line every 30 s for one failure; and "Pull failed (offline)" with nothing after.
  it('says a failed pull once until a pull gets through, and leaves the server out of reach to the link', () => {
    const writes: NewActivity[][] = [];
    const events = new PullerEmitter();
    const stop = logPullActivity(events, { addMany: (entries) => void writes.push([...entries]) });
    const fail = (code: string) => events.emit('error', { folderId: 'f', error: { code, message: `${code} happened` } as never });
    fail('unavailable');
    fail('unavailable');
    fail('offline');
    expect(writes.flat().map((e) => e.message)).toEqual(['Pull failed (unavailable): unavailable happened']);
    events.emit('pulled', summary('f'));
    fail('unavailable');
    expect(writes.flat().map((e) => e.message)).toEqual(['Pull failed (unavailable): unavailable happened', 'Pull failed (unavailable): unavailable happened']);
    stop();
  });

  it('a failed pull is written at once; a log that cannot be written fails nothing', () => {
    const events = new PullerEmitter();
    let calls = 0;
    const stop = logPullActivity(events, {
      addMany: () => {
        calls++;
        throw new Error('database or disk is full');
      },
    });
    events.emit('applied', { folderId: 'f', path: 'a', action: 'downloaded', rule: 'R1' });
    expect(() => events.emit('error', { folderId: 'f', error: { code: 'network', message: 'reset' } as never })).not.toThrow();
    expect(calls).toBe(1);
    stop();
  });
});

// A new-user try: a file deleted here came back a minute later (another device's edit won, D5, or
// its user cancelled the bulk delete) and Activity read only "Downloaded".
describe('a file deleted here that comes back', () => {
  it('says it was deleted here and who kept or made it again; a new file never deleted here stays "Downloaded"', async () => {
    const temp = makeTempDir('ferry-pull-activity-');
    const store = openStore(path.join(temp.dir, 'state.db'));
    try {
      store.activity.add({ folderId: 'f', kind: 'deleted_local', path: 'report.txt', message: 'Deleted here, and now on the server' });
      store.activity.add({ folderId: 'f', kind: 'deleted_local', path: 'again.txt', message: 'Deleted here, and now on the server' });
      store.activity.add({ folderId: 'f', kind: 'uploaded', path: 'again.txt', message: 'Uploaded' });
      store.activity.add({ folderId: 'other', kind: 'deleted_local', path: 'fresh.txt', message: 'Deleted here, and now on the server' });
      const events = new PullerEmitter();
      const stop = logPullActivity(events, store.activity, { self: { id: 'me', name: 'laptop' }, deviceLabel: (id) => (id === 'dev-b' ? 'studio' : id) });
      store.activity.add({ folderId: 'f', kind: 'deleted_local', path: 'own.txt', message: 'Deleted here, and now on the server' });
      for (const path of ['report.txt', 'again.txt', 'fresh.txt']) events.emit('applied', { folderId: 'f', path, action: 'downloaded', rule: 'U2', device: 'dev-b' });
      // This device's own upload coming back (its Cancel sent it again): no other device's doing.
      events.emit('applied', { folderId: 'f', path: 'own.txt', action: 'downloaded', rule: 'U2', device: 'me' });
      events.emit('pulled', summary('f'));
      const lines = new Map(store.activity.recent({ folderId: 'f', kind: 'downloaded' }).map((e) => [e.path, e.message]));
      expect(lines.get('report.txt')).toBe('Downloaded: deleted here earlier, but studio kept it or made it again, so it is back');
      // Made here again and sent since: its newest line is not the delete.
      expect(lines.get('again.txt')).toBe('Downloaded');
      // Deleted in another folder only.
      expect(lines.get('fresh.txt')).toBe('Downloaded');
      expect(lines.get('own.txt')).toBe('Downloaded');
      stop();
    } finally {
      store.close();
      temp.cleanup();
    }
  });
});

describe('a failed look-up of the last words', () => {
  it('writes the plain lines all the same', async () => {
    const writes: NewActivity[] = [];
    const events = new PullerEmitter();
    const stop = logPullActivity(events, {
      addMany: (entries) => void writes.push(...entries),
      lastIs: () => {
        throw new Error('database is locked');
      },
    }, { self: { id: 'me', name: 'laptop' } });
    events.emit('applied', { folderId: 'f', path: 'a.txt', action: 'downloaded', rule: 'U2', device: 'dev-b' });
    events.emit('pulled', summary('f'));
    expect(writes.map((e) => `${e.path}: ${e.message}`)).toEqual(['a.txt: Downloaded']);
    stop();
  });
});
