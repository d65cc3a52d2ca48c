import { describe, expect, it } from 'vitest';
import { diskFullError, isDiskFull } from '../../main/engine/disk-full';
import { FerryError } from '../../protocol/errors';

const errno = (code: string) => Object.assign(new Error(`${code}: oops`), { code });

describe('a full disk is recognised from what the OS and SQLite say', () => {
  it('knows ENOSPC, EDQUOT and SQLITE_FULL, also as the cause of another error', () => {
    expect(isDiskFull(errno('ENOSPC'))).toBe(true);
    expect(isDiskFull(errno('EDQUOT'))).toBe(true);
    expect(isDiskFull(errno('SQLITE_FULL'))).toBe(true);
    expect(isDiskFull(new FerryError('internal', 'wrapped', { cause: errno('ENOSPC') }))).toBe(true);
  });

  it('refuses everything else', () => {
    for (const code of ['EACCES', 'EIO', 'SQLITE_BUSY', 'network']) expect(isDiskFull(errno(code))).toBe(false);
    expect(isDiskFull(new Error('no code'))).toBe(false);
    expect(isDiskFull(undefined)).toBe(false);
    expect(isDiskFull('ENOSPC')).toBe(false);
  });

  it('names the folder disk or the state database disk, retryable, with what to do', () => {
    const folder = diskFullError(errno('ENOSPC'), '/home/ada/Docs');
    expect(folder).toMatchObject({ code: 'disk_full', retryable: true });
    expect(folder.message).toContain('/home/ada/Docs');
    expect(folder.message).toMatch(/free some space/);
    const db = diskFullError(errno('SQLITE_FULL'), '/home/ada/Docs');
    expect(db.message).toContain('state database');
    expect(diskFullError(folder, '/elsewhere')).toBe(folder);
  });
});
