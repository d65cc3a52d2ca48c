import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFolderFlag } from '../../main/control/agent-settings';
import { tempDirsEachTest } from '../helpers/local-temp';

describe('--folder LOCAL[=REMOTE_ID]', () => {
  const cwd = tempDirsEachTest('ferry-folder-flag-');

  it('takes what follows the last = as the remote id, or the folder name', () => {
    const dir = cwd();
    expect(parseFolderFlag('Docs=docs', dir, 0)).toEqual({ localPath: path.join(dir, 'Docs'), remoteId: 'docs' });
    expect(parseFolderFlag('Photos', dir, 0)).toEqual({ localPath: path.join(dir, 'Photos'), remoteId: 'Photos' });
  });

  // A new user's try: `--folder ~/Sub=team/docs` synced a folder "Sub=team/docs" (not there) with
  // the remote folder "docs" (another user's), saying only that the folder did not exist yet.
  // Refused: a remote id that is not one, read as part of a local path that is not there.
  it('refuses a remote id that is not valid, naming it, unless the whole value is a folder there', () => {
    const dir = cwd();
    const refused = (() => {
      try {
        parseFolderFlag('Sub=team/docs', dir, 2);
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(refused).toMatchObject({ code: 'invalid_settings' });
    expect(String((refused as Error).message)).toContain("'team/docs' after '=' is not a valid remote id: use 1-128 letters");
    mkdirSync(path.join(dir, 'a=b', 'inner'), { recursive: true });
    expect(parseFolderFlag('a=b/inner', dir, 0)).toEqual({ localPath: path.join(dir, 'a=b', 'inner'), remoteId: 'inner' });
  });

  // A new-user try: `--folder =cc` said "'=cc' (the folder's name) is not a valid remote id; pass --folder =cc=ID".
  it('says a local path goes before the =, when none is given', () => {
    const dir = cwd();
    expect(() => parseFolderFlag('=cc', dir, 1)).toThrow("folders.1.localPath: --folder needs a local path before '=': --folder ~/Documents=cc");
    // A folder named so, there, is one: its name is no remote id, as before.
    mkdirSync(path.join(dir, '=cc'));
    expect(() => parseFolderFlag('=cc', dir, 0)).toThrow("'=cc' (the folder's name) is not a valid remote id; pass --folder =cc=ID");
  });
});
