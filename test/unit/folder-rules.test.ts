import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileFolderProblems, folderProblems, validateFolders } from '../../main/engine/agent/folder-rules';
import { resolveSettings } from '../../main/control/agent-settings';

// One folder validator (main/engine/agent/folder-rules.ts) for the engine and `ferry agent`.
const base = { serverUrl: 'http://127.0.0.1:1', token: 't' };

describe('folder rules', () => {
  it('accepts separate absolute folders with distinct remote ids', () => {
    expect(folderProblems([{ localPath: '/a/docs', remoteId: 'docs' }, { localPath: '/a/docs2', remoteId: 'docs2' }])).toEqual({});
  });

  it('refuses a relative path, a remote id used twice, the same folder and a folder inside another', () => {
    expect(folderProblems([{ localPath: 'docs', remoteId: 'docs' }])).toEqual({ 'folders.0.localPath': 'use a full path, such as /home/me/Documents or ~/Documents' });
    expect(folderProblems([{ localPath: '/a', remoteId: 'x' }, { localPath: '/b', remoteId: 'x' }])).toEqual({ 'folders.1.remoteId': 'is already used by the 1st folder' });
    expect(folderProblems([{ localPath: '/a/b', remoteId: 'x' }, { localPath: '/a/b/', remoteId: 'y' }])).toEqual({ 'folders.1.localPath': 'is the same folder as the 1st folder (/a/b)' });
    expect(folderProblems([{ localPath: '/a/b/c', remoteId: 'x' }, { localPath: '/a/b', remoteId: 'y' }])).toEqual({ 'folders.1.localPath': 'holds the 1st folder (/a/b/c)' });
    expect(() => validateFolders([{ localPath: '/a', remoteId: 'x' }, { localPath: '/a/b', remoteId: 'y' }])).toThrow(
      expect.objectContaining({ code: 'invalid_settings', details: { fields: { 'folders.1.localPath': 'is inside the 1st folder (/a)' } } }),
    );
  });

  // A new-user try read "folders.1.localPath: overlaps folders.0 (/tmp/x)": the field key stays (the UI maps it), the words change.
  it('names the other folder by its place in the list', () => {
    const many = [...Array.from({ length: 12 }, (_, i) => ({ localPath: `/f${i}`, remoteId: `f${i}` })), { localPath: '/f11/in', remoteId: 'in' }, { localPath: '/f1', remoteId: 'x' }];
    expect(folderProblems(many)).toEqual({ 'folders.12.localPath': 'is inside the 12th folder (/f11)', 'folders.13.localPath': 'is the same folder as the 2nd folder (/f1)' });
  });

  it('refuses a new folder that is a file; one not there yet, or one synced already, is not refused', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-folder-rules-'));
    try {
      const file = path.join(dir, 'afile');
      writeFileSync(file, 'x');
      const folders = [{ localPath: dir }, { localPath: path.join(dir, 'later') }, { localPath: file }];
      expect(fileFolderProblems(folders)).toEqual({ 'folders.2.localPath': 'is a file, not a folder: choose a folder, or a path where one is to be made' });
      expect(fileFolderProblems(folders, [file])).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is the rule `ferry agent` applies too: nested folders are refused there, not only exact duplicates', () => {
    const nested = [{ localPath: '/home/ada/Sync', remoteId: 'sync' }, { localPath: '/home/ada/Sync/photos', remoteId: 'photos' }];
    expect(() => resolveSettings([{ source: '--folder', values: { ...base, folders: nested } }])).toThrow(
      expect.objectContaining({ code: 'invalid_settings', details: { fields: { 'folders.1.localPath': 'is inside the 1st folder (/home/ada/Sync)' } } }),
    );
  });
});
