import { describe, expect, it } from 'vitest';
import { deviceLine, formatDevices } from '../../main/control/commands/devices';
import { formatStatus } from '../../main/control/commands/status';
import { undoBatchFiles } from '../../shared/pending-delete';
import type { DeviceView, Status } from '../../shared/ui-contract';
import { deviceStateParts } from '../../shared/device-words';

const now = Date.parse('2026-12-02T12:00:00Z');
const device = (over: Partial<DeviceView>): DeviceView => ({
  device: 'd1',
  name: 'desktop',
  version: 'ferry/0.1.0',
  self: false,
  lastSeen: new Date(now - 2 * 60_000).toISOString(),
  behind: 0,
  upToDate: true,
  pending: 0,
  failedCount: 0,
  failures: [],
  ...over,
});

describe('ferry devices output', () => {
  it('says up to date, N behind or not pulled yet, with when it was last seen', () => {
    expect(deviceLine(device({ behind: 1, upToDate: false }), now)).toBe('desktop · 1 change behind · last seen 2 min ago');
    expect(deviceLine(device({ behind: 12, upToDate: false, pending: 3 }), now)).toBe('desktop · 12 changes behind · 3 changes not sent yet · last seen 2 min ago');
    expect(deviceLine(device({ behind: null, upToDate: false }), now)).toBe('desktop · has not pulled yet · last seen 2 min ago');
  });

  // A new-user try read a stopped device as "28 changes behind" for good: it reports once a minute
  // while it runs, so one silent for longer than three minutes says so, and is not up to date.
  it('says a device silent for more than three minutes is not reporting, its counts as they were', () => {
    const silent = { lastSeen: new Date(now - 10 * 60_000).toISOString() };
    expect(deviceLine(device({ ...silent, behind: 28, upToDate: false }), now)).toBe('desktop · not reporting (stopped, or cannot reach the server) · 28 changes behind · last seen 10 min ago');
    expect(deviceLine(device(silent), now)).toBe('desktop · not reporting (stopped, or cannot reach the server) · up to date when last seen · last seen 10 min ago');
    expect(deviceStateParts(device(silent), String, now).inSync).toBe(false);
    // Signed out, it is refused, not silent.
    expect(deviceLine(device({ ...silent, signedOut: true }), now)).toBe('desktop · signed out of the server · last seen 10 min ago');
    // This device itself runs (it is the one asking).
    expect(deviceLine(device({ ...silent, self: true }), now)).toBe('desktop (this device) · up to date · reported 10 min ago');
  });

  // A new-user try read a device whose agent was quit "up to date" for three minutes: its last report says it stopped.
  it('says a device whose agent was quit stopped, with the time, at once and after three minutes alike', () => {
    const quitAt = new Date(2026, 11, 2, 9, 5).getTime();
    const quit = device({ stopped: true, upToDate: false, lastSeen: new Date(quitAt).toISOString() });
    expect(deviceLine(quit, quitAt + 10_000)).toBe('desktop · stopped (quit at 09:05) · up to date when it quit · last seen 10 s ago');
    expect(deviceLine({ ...quit, behind: 2 }, quitAt + 10 * 60_000)).toBe('desktop · stopped (quit at 09:05) · 2 changes behind · last seen 10 min ago');
  });

  // A new user's try read "up to date · 8 not sent yet", and "last seen 19 s ago" for the device they sat at.
  it('says up to date only when nothing is behind, unsent or failing, and this device "reported"', () => {
    expect(deviceLine(device({ self: true, name: 'laptop', lastSeen: new Date(now).toISOString() }), now)).toBe('laptop (this device) · up to date · reported just now');
    expect(deviceLine(device({ pending: 8 }), now)).toBe('desktop · 8 changes not sent yet · last seen 2 min ago');
    expect(deviceLine(device({ pending: 1, self: true }), now)).toBe('desktop (this device) · 1 change not sent yet · reported 2 min ago');
    // Revoked: signed out, whatever it last reported.
    expect(deviceLine(device({ signedOut: true }), now)).toBe('desktop · signed out of the server · last seen 2 min ago');
    // Its folder in error there: nothing syncs, whatever else it reported (a new-user try read "up to date").
    expect(deviceLine(device({ folderError: 'folder_root_missing' }), now)).toBe('desktop · not syncing: the folder is missing there · last seen 2 min ago');
    expect(deviceLine(device({ folderError: 'folder_root_missing', self: true }), now)).toBe('desktop (this device) · not syncing: the folder is missing here · reported 2 min ago');
    // Paused by its user: nothing goes or comes, whatever it last counted.
    expect(deviceLine(device({ paused: true }), now)).toBe('desktop · paused · last seen 2 min ago');
    expect(deviceLine(device({ paused: true, pending: 1 }), now)).toBe('desktop · paused · 1 change not sent yet · last seen 2 min ago');
    // A bulk delete held there: its unsent deletes wait on its user, not on the network (a new-user try read lag).
    expect(deviceLine(device({ massDeleteHeld: true, pending: 15 }), now)).toBe('desktop · a bulk delete there waits for its user · 15 changes not sent yet · last seen 2 min ago');
    expect(deviceLine(device({ massDeleteHeld: true, behind: 15, upToDate: false, self: true }), now)).toBe('desktop (this device) · a bulk delete here waits for your answer · 15 changes behind · reported 2 min ago');
    expect(deviceLine(device({ folderError: 'folder_marker_missing', pending: 2 }), now)).toBe(
      'desktop · not syncing: the folder lost its .ferry marker there · 2 changes not sent yet · last seen 2 min ago',
    );
  });

  it('an Undo offer names who deleted: this computer, up to three devices and how many more, or another device', () => {
    const offer = (side: 'scan' | 'pull', devices: string[]) => undoBatchFiles({ count: 13, side, devices });
    expect(offer('scan', [])).toBe('13 files deleted on this computer');
    expect(offer('pull', [])).toBe('13 files deleted here by another device');
    expect(offer('pull', ['desk', 'phone'])).toBe('13 files deleted here by desk, phone');
    expect(offer('pull', ['a', 'b', 'c', 'd', 'e'])).toBe('13 files deleted here by a, b, c and 2 more devices');
  });

  it('names the failing paths with their codes, the first three', () => {
    const failures = ['a', 'b', 'c', 'd'].map((p) => ({ path: `${p}.txt`, code: 'local_io' }));
    expect(deviceLine(device({ failedCount: 4, failures }), now)).toBe('desktop · 4 failing: a.txt (local_io), b.txt (local_io), c.txt (local_io), … · last seen 2 min ago');
  });

  // A new-user try read "1 failing" on the others for a name there that cannot be synced.
  it('counts the names there that cannot be synced apart from the failing paths, each with its first names', () => {
    expect(deviceLine(device({ failedCount: 1, unsyncableCount: 1 }), now)).toBe('desktop · 1 name that cannot be synced · last seen 2 min ago');
    const failures = [{ path: 'a.txt', code: 'local_io' }, { path: 'b\u00a0.txt', code: 'unsyncable' }];
    // Fewer named than counted: "…" says there are more (review: "3 names …: b.txt" read as all of them).
    expect(deviceLine(device({ failedCount: 5, unsyncableCount: 3, failures }), now)).toBe('desktop · 2 failing: a.txt (local_io), … · 3 names that cannot be synced: b\u00a0.txt, … · last seen 2 min ago');
    // From a server before the count: all of them failing, as before.
    expect(deviceLine(device({ failedCount: 2, failures }), now)).toBe('desktop · 2 failing: a.txt (local_io), b\u00a0.txt (unsyncable) · last seen 2 min ago');
  });

  it("shows a device's name as text: a control character in it is not sent to the terminal", () => {
    expect(deviceLine(device({ name: 'evil\u001b[31mred' }), now)).toBe('evil\\x1b[31mred · up to date · last seen 2 min ago');
  });

  it('tells apart two devices of the same name by their short ids', () => {
    const mine = device({ device: '6a418a7f-21ca-4f69-a1f2-4b7cb0dc028f', name: 'vm', self: true });
    const theirs = device({ device: '544151c7-fbef-4036-9000-72c03a107a53', name: 'vm' });
    const other = device({ device: '0d6f1c3e-1111-4000-8000-000000000000', name: 'laptop' });
    expect(formatDevices([{ folderId: 'docs', devices: [mine, theirs, other], error: null }], now)).toEqual([
      'docs:',
      '  vm (device 6a418a7f) (this device) · up to date · reported 2 min ago',
      '  vm (device 544151c7) · up to date · last seen 2 min ago',
      '  laptop · up to date · last seen 2 min ago',
    ]);
  });

  // A new user's try: "device vm (device 6a418a7f) (this device)" said device twice.
  it('ferry status lists a folder’s devices under a heading, each named once', () => {
    const mine = device({ device: '6a418a7f-21ca-4f69-a1f2-4b7cb0dc028f', name: 'vm', self: true });
    const theirs = device({ device: '544151c7-fbef-4036-9000-72c03a107a53', name: 'vm' });
    const status: Status = {
      state: 'idle',
      counts: { pending: 0, in_flight: 0, retry_wait: 0, failed: 0, done: 1 },
      folders: [{ id: 'docs', localPath: '/home/me/Docs', remoteId: 'docs', state: 'ok', error: null, lastSyncAt: null, pendingDelete: null, undoDelete: null }],
      lastSyncAt: null,
      rates: { uploadBytesPerSec: 0, downloadBytesPerSec: 0, itemsPerSec: 0 },
      run: null,
      deviceId: mine.device,
      deviceName: 'vm',
    };
    const lines = formatStatus(status, [{ folderId: 'docs', devices: [mine, theirs], error: null }], now).split('\n');
    expect(lines.slice(-3)).toEqual([
      '    devices:',
      '      vm (device 6a418a7f) (this device) · up to date · reported 2 min ago',
      '      vm (device 544151c7) · up to date · last seen 2 min ago',
    ]);
  });

  // A new user's try read "1 in flight" in `ferry status` while the device was signed out.
  it('ferry status says what is held while the server cannot be reached waits for it, not that it is in flight', () => {
    const status = (state: Status['state']): Status => ({
      state,
      counts: { pending: 0, in_flight: 1, retry_wait: 0, failed: 0, done: 3 },
      folders: [],
      lastSyncAt: null,
      rates: { uploadBytesPerSec: 0, downloadBytesPerSec: 0, itemsPerSec: 0 },
      run: null,
      deviceId: 'd1',
      deviceName: 'vm',
    });
    expect(formatStatus(status('auth_failed'), [], now)).toContain('Queue:     0 pending, 1 waiting for the server, 0 waiting to retry');
    // Its folders are not "ok" while nothing moves (a new-user try read "ok" beside "auth_failed").
    const signedOut = formatStatus({ ...oneFolderStatus({}), state: 'auth_failed', pairedAs: { user: 'ann', credential: 'c1' } }, [], now);
    expect(signedOut).toContain('  docs  /home/me/Docs -> docs  waiting for the server  ');
    expect(signedOut).toContain('paired as ann, refused now)');
    expect(formatStatus(oneFolderStatus({}), [], now)).toContain('  docs  /home/me/Docs -> docs  ok  ');
    // The server's paths a rule keeps from here, in the card's words (by review: the card said "everything in sync").
    expect(formatStatus(oneFolderStatus({ ignoredOnServer: 2 }), [], now)).toContain("\n    2 paths on the server ignored here; 'ferry why PATH' names the rule");
    expect(formatStatus(oneFolderStatus({}), [], now)).not.toContain('ignored here');
    // Nor beside a failed upload, as the web UI's card says it (a new-user try: "ok" with "1 failed").
    expect(formatStatus(oneFolderStatus({ counts: { pending: 0, in_flight: 0, retry_wait: 0, failed: 1, done: 1 } }), [], now)).toContain('  docs  /home/me/Docs -> docs  1 failing  ');
    // A held delete says what it waits for, never its code.
    const held = formatStatus(oneFolderStatus({ state: 'paused_mass_delete', pendingDelete: { count: 3, total: 4, side: 'scan', sample: ['a.txt'], devices: [] } }), [], now);
    expect(held).toContain('  docs  /home/me/Docs -> docs  waiting for you: 3 of 4 files deleted');
    expect(held).not.toContain('paused_mass_delete');
    // A folder not created yet waits for it: no error (a new-user try read "error" against the README).
    const later = formatStatus(oneFolderStatus({ state: 'error', notMadeYet: true, error: '/home/me/Docs does not exist yet: it syncs on its own once it is created' }), [], now);
    expect(later).toContain('  docs  /home/me/Docs -> docs  waiting for the folder to be created  /home/me/Docs does not exist yet: it syncs on its own once it is created');
    expect(later).not.toContain('error');
    expect(formatStatus(status('syncing'), [], now)).toContain('Queue:     0 pending, 1 in flight, 0 waiting to retry');
  });

  // A new-user try read "Run: push-1: 1 items".
  it('ferry status says the run\'s items in the singular for one', () => {
    const run = (itemsLeft: number) => formatStatus({ ...oneFolderStatus({}), run: { name: 'push-1', itemsLeft, bytesLeft: 0 } }, [], now);
    expect(run(1)).toMatch(/Run: +push-1: 1 item, /);
    expect(run(2)).toMatch(/Run: +push-1: 2 items, /);
  });

  type UndoOffer = NonNullable<Status['folders'][number]['undoDelete']>;
  /** An idle agent with one ok folder, 'docs', and what the test adds to it. */
  const oneFolderStatus = (extra: Partial<Status['folders'][number]>): Status => ({
    state: 'idle',
    counts: { pending: 0, in_flight: 0, retry_wait: 0, failed: 0, done: 1 },
    folders: [{ id: 'docs', localPath: '/home/me/Docs', remoteId: 'docs', state: 'ok', error: null, lastSyncAt: null, pendingDelete: null, ...extra }],
    lastSyncAt: null,
    rates: { uploadBytesPerSec: 0, downloadBytesPerSec: 0, itemsPerSec: 0 },
    run: null,
    deviceId: 'd',
    deviceName: 'vm',
  });
  // A new user's try: `ferry status` never said an Undo was on offer, nor that its files were back already.
  it('ferry status names an Undo on offer with what it brings back, or what it waits for, or how to drop it once all is back', () => {
    const undo: UndoOffer = { count: 13, back: 2, side: 'scan', devices: [], confirmedAt: '2030-01-02T10:00:00.000Z', expiresAt: '2030-01-03T10:00:00.000Z', sample: ['f1.txt'], sending: 0 };
    const status = (undoDelete: UndoOffer): Status => oneFolderStatus({ undoDelete });
    expect(formatStatus(status(undo), [], now).split('\n').at(-1)).toBe(
      "    undo offered until 2030-01-03T10:00:00.000Z: 11 of 13 files deleted on this computer come back with 'ferry mass-delete undo --folder docs'",
    );
    expect(formatStatus(status({ ...undo, sending: 4 }), [], now).split('\n').at(-1)).toBe(
      '    undo offered until 2030-01-03T10:00:00.000Z for 11 of 13 files deleted on this computer, once the 4 deletes still being sent have gone',
    );
    // Everything back already: nothing to bring back; the offer is named with how to drop it
    // (the banner's Dismiss; found by a new-user try: the text status said nothing, --json had it).
    expect(formatStatus(status({ ...undo, back: 13, side: 'pull' }), [], now).split('\n').at(-1)).toBe(
      "    all 13 files deleted here by another device are here again (made again or restored since): there is nothing to undo; 'ferry mass-delete dismiss --folder docs' clears this",
    );
  });

  // A new-user try: a name the server refuses was told once in Activity, and the status never said it again.
  it('ferry status names the names that cannot be synced, each with why, and how many more', () => {
    const status = (unsyncable: Status['folders'][number]['unsyncable']): Status => oneFolderStatus({ unsyncable });
    const reason = 'its name contains a control character';
    expect(formatStatus(status({ count: 1, shown: [{ path: 'tab\there.txt', reason }] }), [], now).split('\n').slice(-2)).toEqual([
      '    1 name here cannot be synced; rename it to sync it:',
      `      tab\\there.txt: ${reason}`,
    ]);
    expect(formatStatus(status({ count: 25, shown: [{ path: 'a\u0007', reason }, { path: 'b\u0007', reason }] }), [], now).split('\n').slice(-4)).toEqual([
      '    25 names here cannot be synced; rename them to sync them:',
      `      a\\x07: ${reason}`,
      `      b\\x07: ${reason}`,
      '      and 23 more (Activity named each when it was found)',
    ]);
    expect(formatStatus(status(undefined), [], now)).not.toContain('cannot be synced');
  });

  it('says why a folder’s devices could not be listed', () => {
    expect(formatDevices([{ folderId: 'docs', devices: [], error: 'The sync server cannot be reached' }], now)).toEqual([
      'docs:',
      '  could not ask the server: The sync server cannot be reached',
    ]);
    expect(formatDevices([{ folderId: 'docs', devices: [], error: null }], now)).toEqual(['docs:', '  no device has reported yet']);
  });
});

describe('ferry why output', () => {
  // A new-user try: a name with a trailing space read as the name without it.
  it('quotes a name that starts or ends with a space, and no other', async () => {
    const { formatExplanation } = await import('../../main/control/commands/why');
    const answer = (p: string) => ({ folderId: 'docs', path: p, inSync: true, reasons: [{ code: 'in_sync' as const, message: 'In sync' }], local: { exists: true, kind: 'file' as const, size: 1, modifiedAt: '2026-12-02T12:00:00.000Z' }, synced: null });
    expect(formatExplanation(answer('plan.txt '))[0]).toBe('"plan.txt " in folder docs: in sync');
    expect(formatExplanation(answer(' plan.txt'))[0]).toBe('" plan.txt" in folder docs: in sync');
    expect(formatExplanation(answer('my plan.txt'))[0]).toBe('my plan.txt in folder docs: in sync');
    expect(formatExplanation(answer('tab\there.txt'))[0]).toBe('tab\\there.txt in folder docs: in sync');
  });

  it('prints the verdict, every reason with its code, the disk and the last sync', async () => {
    const { formatExplanation } = await import('../../main/control/commands/why');
    const lines = formatExplanation({
      folderId: 'docs',
      path: 'a.txt',
      inSync: false,
      reasons: [
        { code: 'pending', message: 'Its upload is queued since 2026-12-02T12:00:00.000Z, waiting for you to resume' },
        { code: 'paused', message: 'Ferry is paused: nothing is sent or received until you resume' },
      ],
      local: { exists: true, kind: 'file', size: 2048, modifiedAt: '2026-12-02T12:00:00.000Z' },
      synced: { revision: '41', size: 1024 },
    });
    expect(lines[0]).toBe('a.txt in folder docs: not in sync');
    expect(lines[1]).toBe('  pending: Its upload is queued since 2026-12-02T12:00:00.000Z, waiting for you to resume');
    expect(lines[2]).toBe('  paused: Ferry is paused: nothing is sent or received until you resume');
    expect(lines[3]).toBe('  on disk: file, 2.0 KB, modified 2026-12-02T12:00:00.000Z');
    // The recorded size (the file's as last scanned) is not said to be revision 41's.
    expect(lines[4]).toBe('  last synced: revision 41');
  });

  it('a path neither here nor ever synced is "not known here", not "not in sync"', async () => {
    const { formatExplanation } = await import('../../main/control/commands/why');
    const lines = formatExplanation({
      folderId: 'docs',
      path: 'never/was.txt',
      inSync: false,
      reasons: [{ code: 'unknown', message: 'Ferry knows nothing of never/was.txt in folder docs: it is not on disk here and was never synced' }],
      local: { exists: false, kind: null, size: null, modifiedAt: null },
      synced: null,
      lastPullError: null,
    });
    expect(lines[0]).toBe('never/was.txt in folder docs: not known here');
  });

  // A new-user try read "in_sync: In sync: …": a message that says its code in words is not prefixed with it.
  it('leaves out the code where the message says it in words', async () => {
    const { formatExplanation } = await import('../../main/control/commands/why');
    const lines = formatExplanation({
      folderId: 'docs',
      path: 'a.txt',
      inSync: true,
      reasons: [{ code: 'in_sync', message: "In sync: this device has the server's revision 7" }],
      local: { exists: true, kind: 'file', size: 1, modifiedAt: '2026-12-02T12:00:00.000Z' },
      synced: { revision: '7', size: 1 },
    });
    expect(lines.slice(0, 2)).toEqual(['a.txt in folder docs: in sync', "  In sync: this device has the server's revision 7"]);
  });

  // A new-user try: `ferry why` printed a name's tab as it is, where `ferry status` showed `\t`.
  it('shows a control character in the name and its reasons as an escape, as ferry status does', async () => {
    const { formatExplanation } = await import('../../main/control/commands/why');
    const lines = formatExplanation({
      folderId: 'docs',
      path: 'bad\tname.txt',
      inSync: false,
      reasons: [{ code: 'unsyncable', message: 'Renamed here to r5\tbad.txt, a name that cannot be synced' }],
      local: { exists: true, kind: 'file', size: 3, modifiedAt: '2026-12-02T12:00:00.000Z' },
      synced: null,
    });
    expect(lines.slice(0, 2)).toEqual(['bad\\tname.txt in folder docs: not in sync', '  unsyncable: Renamed here to r5\\tbad.txt, a name that cannot be synced']);
  });
});

describe('ferry restore output', () => {
  it('counts files and folders apart, and says when nothing came back', async () => {
    const { formatRestore } = await import('../../main/control/commands/restore');
    const none = { failed: [], skipped: [] };
    expect(formatRestore('docs', { restored: 2, folders: 2, ...none })).toBe("Restored 2 files and 2 folders in 'docs' on the server; every device gets them with its next pull.");
    // One: "it", not "them" (found by a new-user try).
    expect(formatRestore('docs', { restored: 1, folders: 0, ...none })).toBe("Restored 1 file in 'docs' on the server; every device gets it with its next pull.");
    expect(formatRestore('docs', { restored: 0, folders: 1, ...none })).toBe("Restored 1 folder in 'docs' on the server; every device gets it with its next pull.");
    expect(formatRestore('docs', { restored: 0, folders: 0, ...none })).toBe("Nothing was restored in 'docs'.");
  });

  // A new user's try: `restore FOLDER --at T` listed every file that had not changed as skipped.
  it('says the files of a folder that did not change since in one line, and every other skip on its own', async () => {
    const { formatRestore } = await import('../../main/control/commands/restore');
    const unchanged = (p: string) => ({ path: p, reason: 'it has not changed since 2030-01-02T10:00:00.000Z' });
    const result = { restored: 1, folders: 0, failed: [], skipped: [unchanged('a.txt'), unchanged('b.txt'), { path: 'c.txt', reason: 'it did not exist at 2030-01-02T10:00:00.000Z' }] };
    expect(formatRestore('docs', result).split('\n')).toEqual([
      "Restored 1 file in 'docs' on the server; every device gets it with its next pull.",
      '  skipped: c.txt: it did not exist at 2030-01-02T10:00:00.000Z',
      '  2 files have not changed since then: left as they are',
    ]);
    expect(formatRestore('docs', { ...result, skipped: [unchanged('a.txt')] }).split('\n')[1]).toBe('  a.txt has not changed since then: left as it is');
  });
});
