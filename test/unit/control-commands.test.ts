import { describe, expect, it } from 'vitest';
import { describeHost, type Host } from '../../main/control/agent-host';
import { formatQueuePage } from '../../main/control/commands/queue';
import { definition as agentDefinition, droppedFolders, flagSettings, run as runAgent } from '../../main/control/commands/run-agent';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { run as runStart } from '../../main/control/commands/start';
import os from 'node:os';
import path from 'node:path';
import { parseCommand } from '../../main/control/commands/args';
import { resolveSettings } from '../../main/control/agent-settings';
import { folderRelative } from '../../main/control/commands/folder-paths';
import { formatConflicts } from '../../main/control/commands/conflicts';
import { formatRestore } from '../../main/control/commands/restore';
import { formatHistory } from '../../main/control/commands/history';
import { printable } from '../../main/control/commands/output';

describe('CLI wording and units (issue 24 item 10)', () => {
  it('a state filter with no match does not call the queue empty', () => {
    expect(formatQueuePage({ items: [], total: 0 }, 0, 'failed')).toBe('No failed items.');
    expect(formatQueuePage({ items: [], total: 0 }, 0, 'in_flight')).toBe('No in flight items.');
    expect(formatQueuePage({ items: [], total: 0 }, 0)).toBe('The queue is empty.');
  });

  // A new-user try: signed out, `ferry status` said "1 waiting for the server" and `ferry queue` "in_flight".
  it('an item taken to be sent reads as waiting while the server cannot be reached or refuses this device', () => {
    const item = { id: 7, folderId: 'docs', path: 'after-revoke.txt', op: 'upsert' as const, state: 'in_flight' as const, attempts: 1, nextAttemptAt: null, bytesDone: 0, bytesTotal: 21, error: null, updatedAt: '2026-12-06T00:00:00Z' };
    const signedOut = formatQueuePage({ items: [item], total: 1 }, 0, undefined, 'auth_failed').split('\n');
    expect(signedOut[1]).toMatch(/^7 +waiting +upload /);
    expect(signedOut.at(-1)).toBe("waiting: taken to be sent, held until the server accepts this device again ('ferry status' says why; --state in_flight lists them).");
    expect(formatQueuePage({ items: [item], total: 1 }, 0, undefined, 'offline')).toContain('held until the server can be reached');
    // A trailing space is kept visible: the table trims each line's end (a new-user try lost it).
    expect(formatQueuePage({ items: [{ ...item, path: 'ends with space ' }], total: 1 }, 0, undefined, 'syncing').split('\n')[1]).toMatch(/ "ends with space "$/);
    const online = formatQueuePage({ items: [item], total: 1 }, 0, undefined, 'syncing').split('\n');
    expect(online[1]).toMatch(/^7 +in_flight +upload /);
    expect(online).toHaveLength(3);
  });

  // A new-user try: `ferry agent --folder X` on a later start dropped the saved folders, unsaid.
  it('names the saved folders a start\'s --folder leaves out', () => {
    const saved = [{ localPath: '/home/me/Ferry', remoteId: 'ferry' }, { localPath: '/home/me/Later', remoteId: 'later' }];
    expect(droppedFolders(saved, [{ localPath: '/home/me/Later2', remoteId: 'later2' }])).toEqual(['/home/me/Ferry=ferry', '/home/me/Later=later']);
    expect(droppedFolders(saved, [...saved, { localPath: '/x', remoteId: 'x' }])).toEqual([]);
    expect(droppedFolders(undefined, [])).toEqual([]);
  });

  it('--bandwidth-limit takes bytes, or KB/s and MB/s like the settings window', () => {
    const limit = (v: string) => flagSettings({ 'bandwidth-limit': v }, '/', undefined).bandwidthLimit;
    expect(limit('250000')).toBe(250_000);
    expect(limit('500K')).toBe(500_000);
    expect(limit('2M')).toBe(2_000_000);
    expect(limit('2MB/s')).toBe(2_000_000);
    // Anything else reaches the schema as given, which refuses it naming the field.
    expect(limit('fast')).toBe('fast');
  });

  // A new-user try: "Invalid settings (settings.json in --data + flags)" with no --data given.
  it('names the settings file it read, in the default data directory too', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'ferry-home-'));
    const before = process.env.FERRY_HOME;
    process.env.FERRY_HOME = home;
    try {
      const errors: string[] = [];
      const code = await runAgent(['--server', 'http://127.0.0.1:9', '--token', 't', '--concurrency', '0'], { out: () => {}, err: (t) => void errors.push(t) });
      expect(code).toBe(2);
      const refusal = errors.find((e) => e.includes('Invalid settings')) ?? '';
      expect(refusal).toContain(`Invalid settings (${path.join(home, 'settings.json')} + flags)`);
      expect(refusal).not.toContain('--data');
    } finally {
      if (before === undefined) delete process.env.FERRY_HOME;
      else process.env.FERRY_HOME = before;
      rmSync(home, { recursive: true, force: true });
    }
  });

  // A new-user try: `--folder /tmp/afile=x` started, and the folder went to "is not a directory".
  it('refuses a new folder that is a file before anything starts', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'ferry-home-'));
    const before = process.env.FERRY_HOME;
    process.env.FERRY_HOME = home;
    try {
      const file = path.join(home, 'afile');
      writeFileSync(file, 'x');
      const errors: string[] = [];
      const code = await runAgent(['--server', 'http://127.0.0.1:9', '--token', 't', '--folder', `${file}=x`], { out: () => {}, err: (t) => void errors.push(t) });
      expect(code).toBe(2);
      expect(errors.join('\n')).toContain('folders.0.localPath: is a file, not a folder: choose a folder, or a path where one is to be made');
    } finally {
      if (before === undefined) delete process.env.FERRY_HOME;
      else process.env.FERRY_HOME = before;
      rmSync(home, { recursive: true, force: true });
    }
  });

  // Found by a new-user try: `ferry start --folder FILE` said "EEXIST: file already exists, mkdir".
  it('ferry start refuses a folder that is a file before anything starts', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'ferry-start-'));
    try {
      const file = path.join(home, 'afile');
      writeFileSync(file, 'x');
      const errors: string[] = [];
      const code = await runStart(['--data', path.join(home, 'data'), '--folder', file], { out: () => {}, err: (t) => void errors.push(t) });
      expect(code).toBe(2);
      expect(errors.join('\n')).toContain(`--folder ${file} is a file, not a folder: choose a folder, or a path where one is to be made`);
      expect(existsSync(path.join(home, 'data', 'server', 'server.db'))).toBe(false);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  // A new-user try: `--concurrency -1` read Node's "argument is ambiguous … use
  // '--concurrency=-XYZ'", and `--bandwidth-limit=-5` "enter a whole number" (it is one).
  it('takes a negative number after a flag as its value, and says the range it is out of', () => {
    const errors: string[] = [];
    const io = { out: () => {}, err: (t: string) => void errors.push(t) };
    const parsed = parseCommand(agentDefinition, ['--concurrency', '-1', '--bandwidth-limit', '-5', '--retry-limit=-2'], io);
    expect(errors).toEqual([]);
    if (parsed.kind !== 'run') throw new Error('refused');
    const flags = flagSettings(parsed.values, '/', 't');
    expect(flags).toMatchObject({ concurrency: -1, bandwidthLimit: -5, retryLimit: -2 });
    const refused = (() => {
      try {
        resolveSettings([{ source: 'flags', values: { ...flags, serverUrl: 'http://127.0.0.1:9' } }]);
      } catch (error) {
        return error as Error;
      }
      throw new Error('accepted');
    })();
    expect(refused.message).toContain('concurrency: use 1 to 32');
    expect(refused.message).toContain('bandwidthLimit: use 0 or more');
    expect(refused.message).toContain('retryLimit: use 0 to 10');
    expect(flagSettings({ 'bandwidth-limit': '-5K' }, '/', undefined).bandwidthLimit).toBe(-5000);
    // A value that starts with '-' but is no number: one line, with how to write it.
    const other = parseCommand(agentDefinition, ['--log-level', '-x'], io);
    expect(other).toEqual({ kind: 'exit', code: 2 });
    expect(errors[0]).toMatch(/^ferry agent: --log-level needs a value; one that starts with '-' is written --log-level=-x\n/);
    // After '--' nothing is joined.
    expect(parseCommand(agentDefinition, ['--', '--concurrency', '-1'], io)).toEqual({ kind: 'exit', code: 2 });
  });
});

// A new user's try: a file named "esc\x1b[31mred.txt" turned the terminal red in `ferry queue`, and
// "line\nbreak.txt" split its row in two. Refused: a control character a name holds acted on.
describe('CLI output never acts on a control character a name holds', () => {
  it('shows it escaped in a table cell, a newline and a tab too, and escapes all but line breaks elsewhere', () => {
    const item = (id: number, path: string) => ({ id, folderId: 'docs', path, op: 'upsert' as const, state: 'pending' as const, attempts: 0, nextAttemptAt: null, bytesDone: 0, bytesTotal: 0, error: null, updatedAt: '2026-12-06T00:00:00Z' });
    const text = formatQueuePage({ items: [item(1, 'esc\u001b[31mred.txt'), item(2, 'line\nbreak.txt')], total: 2 }, 0);
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/esc\\x1b\[31mred\.txt$/);
    expect(lines[2]).toMatch(/line\\nbreak\.txt$/);
    expect(text).not.toContain('\u001b');
    expect(printable('ok\n\tnext \u009b bell\u0007')).toBe('ok\n\tnext \\x9b bell\\x07');
  });
});

describe('ferry restore', () => {
  // A new-user try: "Restored 3 files" never said which, nor where a renamed one went.
  it('names the files it restored, and counts unchanged files and folders apart', () => {
    const text = formatRestore('docs', {
      restored: 2,
      folders: 0,
      failed: [],
      paths: ['arch/x.txt', 'arch/gone.txt'],
      skipped: [
        { path: 'arch', reason: 'it has not changed since 2030-01-01T00:00:00.000Z', kind: 'dir' },
        { path: 'arch/same.txt', reason: 'it has not changed since 2030-01-01T00:00:00.000Z', kind: 'file' },
      ],
    });
    expect(text.split('\n')).toEqual([
      "Restored 2 files in 'docs' on the server; every device gets them with its next pull.",
      '  restored: arch/x.txt',
      '  restored: arch/gone.txt',
      '  1 file and 1 folder have not changed since then: left as they are',
    ]);
  });
});

describe('ferry conflicts', () => {
  const copy = { folderId: 'docs', path: 'plan.txt', copyPath: 'plan (conflict from laptop 2030-01-02 100000).txt', device: 'd2', deviceName: 'desktop', restoredFrom: null, madeBy: null, detectedAt: '2030-01-02T10:00:00.000Z' };
  it('names each copy still on disk, whose version it keeps and why; a restore as the restore it was', () => {
    const text = formatConflicts([copy, { ...copy, path: 'b.txt', copyPath: 'b (conflict from laptop 2030-01-02 090000).txt', restoredFrom: '42' }]);
    expect(text.split('\n')).toEqual([
      '2 conflict copies on disk, newest first. To settle one, keep the one you want and delete the other (to keep the copy\'s version, rename the copy to the original\'s name):',
      "  plan (conflict from laptop 2030-01-02 100000).txt: this computer's version of plan.txt, kept when desktop changed it too (2030-01-02T10:00:00.000Z, folder docs)",
      "  b (conflict from laptop 2030-01-02 090000).txt: this computer's version of b.txt, kept when desktop restored an earlier version (#42) (2030-01-02T10:00:00.000Z, folder docs)",
    ]);
    expect(formatConflicts([])).toBe('No conflict copies are on disk.');
  });

  // Found by a new-user try: the device whose version won listed nothing of the copy another device made.
  it("names a copy another device made as that device's version", () => {
    const text = formatConflicts([{ ...copy, copyPath: 'plan (conflict from desktop 2030-01-02 100000).txt', device: '', deviceName: 'desktop', madeBy: 'desktop' }]);
    expect(text.split('\n')).toEqual([
      '1 conflict copy on disk, newest first. To settle one, keep the one you want and delete the other (to keep the copy\'s version, rename the copy to the original\'s name):',
      "  plan (conflict from desktop 2030-01-02 100000).txt: desktop's version of plan.txt, made there when another change took that name (here since 2030-01-02T10:00:00.000Z, folder docs)",
    ]);
  });

  // Found by a new-user try: a copy made here once came back (a restore, Sync afresh) and was
  // said to keep another device's version; the pull lists it as this computer's (no other side known).
  it("names a copy made here once and back from the server as this computer's version", () => {
    const text = formatConflicts([{ ...copy, device: '', madeBy: null }]);
    expect(text.split('\n')[1]).toBe(
      "  plan (conflict from laptop 2030-01-02 100000).txt: this computer's version of plan.txt, kept as a conflict copy earlier and back from the server (here since 2030-01-02T10:00:00.000Z, folder docs)",
    );
  });
});

describe('ferry history with no versions', () => {
  // A new user's try: `ferry history docs/bulk/file01.txt` (the folder's id in front) said only
  // that the server keeps no history of it.
  it('suggests the path inside the folder when the folder id was typed in front', () => {
    expect(formatHistory('docs', 'docs/bulk/file01.txt', [])).toBe("The server keeps no history of docs/bulk/file01.txt in 'docs'. Paths are inside the folder: did you mean bulk/file01.txt?");
    expect(formatHistory('docs', 'bulk/file01.txt', [])).toBe("The server keeps no history of bulk/file01.txt in 'docs'.");
  });
});

describe('ferry history', () => {
  const version = (revision: string, deleted = false) => ({ revision, modifiedAt: '2026-12-07T10:00:00.000Z', mtime: 1, size: 4, kind: 'file' as const, deleted, device: 'd1', deviceName: 'laptop' });

  it("marks the server's current version, and none when the newest row is a delete", () => {
    const live = formatHistory('docs', 'a.txt', [version('7'), version('3')]).split('\n');
    expect(live[2]).toMatch(/^7 \(current\) +2026/);
    expect(live[3]).toMatch(/^3 +2026/);
    expect(formatHistory('docs', 'a.txt', [version('8', true), version('7')])).not.toContain('(current)');
  });
});

describe('the start banner', () => {
  const host = (state: 'paused' | 'idle' | 'error', folder: object = {}) =>
    ({
      agent: { status: () => ({ state, deviceName: 'laptop', deviceId: 'd1', folders: [{ localPath: '/home/me/Docs', remoteId: 'docs', state: 'ok', error: null, ...folder }] }) },
      control: { url: 'http://127.0.0.1:7000', createLoginUrl: () => 'http://127.0.0.1:7000/#login=abc' },
    }) as unknown as Host;

  it('says Paused, not Syncing, when the agent starts paused, and how to get a new sign-in link', () => {
    const paused = describeHost(host('paused'), '/home/me/.ferry');
    expect(paused.join('\n')).not.toContain('Syncing:');
    expect(paused).toContain("Paused (resume in the UI or with 'ferry resume'); folders:");
    expect(describeHost(host('idle'), '/home/me/.ferry')).toContain('Syncing:');
    expect(paused.at(-1)).toContain("'ferry ui --data /home/me/.ferry'");
  });

  it('names a folder that does not exist yet, and only that one', () => {
    const missing = describeHost(host('idle'), '/home/me/.ferry', () => false).join('\n');
    expect(missing).toContain('Note: /home/me/Docs does not exist (yet): the folder docs waits until it is created, then syncs on its own');
    expect(describeHost(host('idle'), '/home/me/.ferry', () => true).join('\n')).not.toContain('Note:');
  });

  // A new-user try: a synced folder deleted read "Syncing: /home/me/Docs ⇄ docs", its error only in a log line before.
  it('says under its line that a synced folder in error is not syncing, and why, and no "waits until it is created"', () => {
    const gone = describeHost(host('error', { state: 'error', error: 'The folder /home/me/Docs is missing: …' }), '/home/me/.ferry', () => false);
    expect(gone.slice(1, 4)).toEqual(['Syncing:', '  /home/me/Docs ⇄ docs', '    not syncing: The folder /home/me/Docs is missing: …']);
    expect(gone.join('\n')).not.toContain('Note:');
  });
});

describe('paths typed to ferry history and ferry restore', () => {
  const folder = '/home/me/Docs';
  it('inside the folder, relative to where the shell is, as ferry why takes them', () => {
    expect(folderRelative(folder, 'x.txt', '/home/me/Docs/renamed')).toBe('renamed/x.txt');
    expect(folderRelative(folder, '../a.txt', '/home/me/Docs/renamed')).toBe('a.txt');
    expect(folderRelative(folder, 'sub/b.txt', '/home/me/Docs')).toBe('sub/b.txt');
  });
  it('elsewhere, folder-relative as the server names them; an absolute path is a place on this disk', () => {
    expect(folderRelative(folder, 'docs/report.txt', '/home/me')).toBe('docs/report.txt');
    expect(folderRelative(folder, './notes/', '/tmp')).toBe('notes');
    expect(folderRelative(folder, '/home/me/Docs/a/b.txt', '/tmp')).toBe('a/b.txt');
  });
  it('elsewhere, a relative path that leads into the folder from there is that place (as a shell completes it)', () => {
    expect(folderRelative(folder, 'Docs/a/b.txt', '/home/me')).toBe('a/b.txt');
    expect(folderRelative(folder, 'me/Docs/x.txt', '/home')).toBe('x.txt');
    expect(folderRelative(folder, 'Docs-old/x.txt', '/home/me')).toBe('Docs-old/x.txt');
  });
  // A new-user try: `ferry why notes/../x.txt` typed outside the folder answered "Invalid query".
  it('takes `..` inside a path typed outside the folder as the shell would inside it; refuses one that climbs out, naming it', () => {
    expect(folderRelative(folder, 'notes/../x.txt', '/tmp')).toBe('x.txt');
    expect(folderRelative(folder, 'a/./b//c.txt', '/tmp')).toBe('a/b/c.txt');
    expect(() => folderRelative(folder, 'notes/../../x.txt', '/tmp')).toThrow('notes/../../x.txt is not inside the folder /home/me/Docs');
    expect(() => folderRelative(folder, 'notes/..', '/tmp')).toThrow('is not inside the folder');
  });
  it('refuses a path that leaves the folder, naming it', () => {
    expect(() => folderRelative(folder, '../../etc/passwd', '/home/me/Docs/renamed')).toThrow('../../etc/passwd is not inside the folder /home/me/Docs');
    expect(() => folderRelative(folder, '/etc/passwd', '/home/me/Docs')).toThrow('is not inside the folder');
  });
});

describe('ferry history of a renamed file', () => {
  const version = (revision: string, extra: object = {}) => ({ revision, kind: 'file' as const, deleted: false, size: 5, mtime: 0, modifiedAt: '2030-01-02T10:00:00.000Z', device: 'd1', deviceName: 'laptop', ...extra });
  it('names the move and where the versions before it are', () => {
    const text = formatHistory('docs', 'renamed/x.txt', [version('9'), version('6', { movedFrom: 'sub/x.txt' })]);
    expect(text.split('\n')[1]).toMatch(/^REVISION\s+WHEN\s+SIZE\s+DEVICE\s+ORIGIN$/);
    expect(text).toMatch(/^6\s.*laptop\s+moved from sub\/x\.txt$/m);
    expect(text).toContain('Its versions before the move: ferry history sub/x.txt --folder docs');
    expect(text.split('\n').every((line) => line === line.trimEnd())).toBe(true);
  });
  // Found by a new-user try: the old name's history showed the rename as "deleted".
  it('shows the old name\'s move as moved, not deleted, and where the versions since are', () => {
    const text = formatHistory('docs', 'sub/x.txt', [version('7', { deleted: true, size: 0, movedTo: 'renamed/x.txt' }), version('3')]);
    expect(text).toMatch(/^7\s.*\smoved\s+laptop\s+moved to renamed\/x\.txt$/m);
    expect(text).not.toMatch(/deleted/);
    expect(text).toContain('Its versions since the move: ferry history renamed/x.txt --folder docs');
  });
  // A new-user try pasted the hint for a conflict copy into bash: a syntax error.
  it('quotes a path a shell would split in the commands it suggests', () => {
    const text = formatHistory('docs', "note (conflict from desktop 2030-01-02 100000).txt", [version('4')]);
    expect(text).toContain("Restore one with: ferry restore 'note (conflict from desktop 2030-01-02 100000).txt' --revision REV --folder docs");
    expect(formatHistory('docs', "it's.txt", [version('4')])).toContain("ferry restore 'it'\\''s.txt' --revision");
    expect(formatHistory('docs', 'plain/a.txt', [version('4')])).toContain('ferry restore plain/a.txt --revision');
  });
  it('says nothing of moves for a file never moved', () => {
    const text = formatHistory('docs', 'a.txt', [version('2'), version('1')]);
    expect(text).not.toContain('ORIGIN');
    expect(text).not.toContain('before the move');
  });
  it('names the revision a restore brought back', () => {
    const text = formatHistory('docs', 'a.txt', [version('4', { restoredFrom: '1' }), version('2'), version('1')]);
    expect(text.split('\n')[1]).toMatch(/^REVISION\s+WHEN\s+SIZE\s+DEVICE\s+ORIGIN$/);
    expect(text).toMatch(/^4\s.*laptop\s+restored from 1$/m);
    expect(text).not.toContain('before the move');
  });
});
