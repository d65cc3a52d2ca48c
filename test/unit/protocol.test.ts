import { describe, expect, it } from 'vitest';
import {
  BatchRequest,
  ChangesPage,
  ChangesQuery,
  CreateFolderRequest,
  DeviceReport,
  DeviceState,
  FerryError,
  RunLabel,
  formatRunHeader,
  runStartOf,
  MAX_BATCH_OPERATIONS,
  MissingBlocksRequest,
  OperationResult,
  checkSyncPath,
  isSha256Hex,
  syncTokenFromHref,
  validateSyncPath,
} from '../../protocol';

const HASH = 'a'.repeat(64);
const upsert = (over: Record<string, unknown> = {}) => ({ key: 'k', action: 'upsert', path: 'a.txt', size: 3, mtime: 1, blocks: [HASH], baseRevision: null, ...over });

describe('sync paths', () => {
  it.each([
    ['a.txt'],
    ['dir/sub/file.bin'],
    ['.hidden'],
    ['name with spaces/ünïcödé.txt'],
    ['..not-dots'],
    ['a'.repeat(255)],
  ])('accepts %s', (p) => {
    expect(validateSyncPath(p)).toBe(p.normalize('NFC'));
  });

  it.each([
    ['', 'empty'],
    ['/etc/passwd', 'absolute'],
    ['../escape', "'..'"],
    ['a/../../b', "'..'"],
    ['a/./b', "'.'"],
    ['a//b', 'empty segment'],
    ['a/', 'empty segment'],
    ['a\\b', 'backslash'],
    ['..\\..\\windows', 'backslash'],
    ['C:/Windows', 'drive'],
    ['c:evil', 'drive'],
    ['nul\u0000byte', 'NUL'],
    ['line\nbreak', 'control'],
    ['x'.repeat(256), 'name longer than 255'],
    [('d'.repeat(200) + '/').repeat(21) + 'f', 'longer than 4096'],
    ['.ferry/tmp', 'reserved'],
    ['.FERRY/x', 'reserved'],
    ['bad\ud800surrogate', 'Unicode'],
  ])('refuses %j (%s)', (p, reason) => {
    const result = checkSyncPath(p);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
    expect(() => validateSyncPath(p)).toThrowError(FerryError);
    try {
      validateSyncPath(p);
    } catch (error) {
      expect((error as FerryError).code).toBe('invalid_path');
    }
  });

  it('normalises to NFC and counts bytes, not characters', () => {
    const nfd = 'cafe\u0301.txt';
    expect(validateSyncPath(nfd)).toBe('caf\u00e9.txt');
    // 128 two-byte characters are 256 bytes: one byte over the name limit.
    expect(checkSyncPath('é'.repeat(128)).ok).toBe(false);
    expect(checkSyncPath('é'.repeat(127)).ok).toBe(true);
  });

  // Short names skip the encoding (no UTF-16 unit takes more than 3 bytes): the limits stay exact
  // at the edge of that shortcut, for three-byte and four-byte characters alike.
  it('counts bytes exactly around the short-name shortcut', () => {
    expect(checkSyncPath('あ'.repeat(85)).ok).toBe(true); // 255 bytes, 85 units
    expect(checkSyncPath('あ'.repeat(86)).ok).toBe(false); // 258 bytes
    expect(checkSyncPath('😀'.repeat(63) + 'abc').ok).toBe(true); // 255 bytes, 129 units
    expect(checkSyncPath('😀'.repeat(64)).ok).toBe(false); // 256 bytes
    const dir = 'あ'.repeat(85);
    expect(checkSyncPath(`${(dir + '/').repeat(15)}a/${'x'.repeat(254)}`).ok).toBe(true); // 4096 bytes
    const over = checkSyncPath(`${(dir + '/').repeat(15)}a/${'x'.repeat(255)}`); // 4097 bytes
    expect(over.ok === false && over.reason).toContain('longer than 4096');
  });

  it('refuses non-strings', () => {
    expect(checkSyncPath(42).ok).toBe(false);
  });
});

describe('hashes', () => {
  it('accepts only 64 lowercase hex characters', () => {
    expect(isSha256Hex(HASH)).toBe(true);
    expect(isSha256Hex(HASH.toUpperCase())).toBe(false);
    expect(isSha256Hex(HASH.slice(1))).toBe(false);
    expect(isSha256Hex('g'.repeat(64))).toBe(false);
  });
});

describe('request schemas', () => {
  it('refuse unknown fields', () => {
    expect(MissingBlocksRequest.safeParse({ hashes: [], extra: 1 }).success).toBe(false);
    expect(CreateFolderRequest.safeParse({ label: 'x', owner: 'me' }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [upsert({ force: true })] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [upsert()], atomic: true }).success).toBe(false);
  });

  it('normalise batch paths to NFC and flag bad ones as invalid_path', () => {
    const ok = BatchRequest.parse({ operations: [upsert({ path: 'cafe\u0301' })] });
    expect(ok.operations[0]?.path).toBe('caf\u00e9');
    const bad = BatchRequest.safeParse({ operations: [upsert({ path: '../x' })] });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('invalid_path');
  });

  it('check sizes against blocks', () => {
    expect(BatchRequest.safeParse({ operations: [upsert({ size: 0, blocks: [] })] }).success).toBe(true);
    expect(BatchRequest.safeParse({ operations: [upsert({ size: 0 })] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [upsert({ size: 5 * 1024 * 1024 })] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [upsert({ size: -1 })] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [upsert({ blocks: ['xyz'] })] }).success).toBe(false);
  });

  it('refuse duplicate keys and paths, empty and oversized batches', () => {
    expect(BatchRequest.safeParse({ operations: [upsert(), upsert({ path: 'b' })] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [upsert(), upsert({ key: 'k2' })] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [] }).success).toBe(false);
    const many = Array.from({ length: MAX_BATCH_OPERATIONS + 1 }, (_, i) => upsert({ key: `k${i}`, path: `f${i}` }));
    expect(BatchRequest.safeParse({ operations: many }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: many.slice(1) }).success).toBe(true);
  });

  it('bound the changes limit and refuse token plus cursor', () => {
    expect(ChangesQuery.parse({}).limit).toBe(1000);
    expect(ChangesQuery.safeParse({ limit: '0' }).success).toBe(false);
    expect(ChangesQuery.safeParse({ limit: '10001' }).success).toBe(false);
    expect(ChangesQuery.safeParse({ syncToken: 'a', cursor: 'b' }).success).toBe(false);
    expect(ChangesQuery.safeParse({ since: '1' }).success).toBe(false);
  });
});

describe('reply schemas', () => {
  it('parse operation results by their ok flag', () => {
    expect(OperationResult.parse({ ok: true, revision: '7' })).toEqual({ ok: true, revision: '7' });
    expect(OperationResult.safeParse({ ok: true }).success).toBe(false);
    expect(OperationResult.parse({ ok: false, code: 'conflict', message: 'm', currentRevision: null }).ok).toBe(false);
  });

  it('demand exactly one of next and upcoming-modifications', () => {
    expect(ChangesPage.safeParse({ items: [], _links: {} }).success).toBe(false);
    expect(ChangesPage.safeParse({ items: [], _links: { next: { href: 'a' }, 'upcoming-modifications': { href: 'b' } } }).success).toBe(false);
    expect(ChangesPage.safeParse({ items: [], _links: { next: { href: 'a' } } }).success).toBe(true);
  });

  // Found by review: "absent means 0" in the docs, yet a 0 in a server's list failed the whole list.
  it('read a device state whose count of names that cannot be synced is 0, and refuse a report with more of them than failing paths', () => {
    const state = { device: 'd', name: 'n', version: 'v', lastSeen: '2026-12-07T00:00:00.000Z', behind: 0, upToDate: true, pending: 0, failedCount: 0, failures: [] };
    expect(DeviceState.safeParse({ ...state, unsyncableCount: 0 }).success).toBe(true);
    const report = { name: 'n', version: 'v', pending: 0, failedCount: 1, failures: [] };
    expect(DeviceReport.safeParse({ ...report, unsyncableCount: 1 }).success).toBe(true);
    expect(DeviceReport.safeParse({ ...report, unsyncableCount: 2 }).success).toBe(false);
  });

  it('read the sync token out of an upcoming-modifications href', () => {
    expect(syncTokenFromHref('/v1/folders/x/changes?syncModifications=true&syncToken=abc.def')).toBe('abc.def');
    expect(syncTokenFromHref('/v1/folders/x/changes')).toBeNull();
  });
});

describe('X-Ferry-Run, built once (formatRunHeader)', () => {
  const stamp = new Date('2030-01-02T03:04:05Z');
  it('keeps printable ASCII without space or ";", caps the name at 64, appends the sequence after the cap', () => {
    expect(formatRunHeader('nightly', stamp)).toBe('nightly;2030-01-02T03:04:05.000Z');
    expect(formatRunHeader('a b;c\u00e9', stamp)).toBe('a_b_c_;2030-01-02T03:04:05.000Z');
    expect(formatRunHeader('x'.repeat(80), stamp, { sequence: 7 })).toBe(`${'x'.repeat(64)}-7;2030-01-02T03:04:05.000Z`);
    expect(formatRunHeader('', stamp, { fallback: 'push', sequence: 1 })).toBe('push-1;2030-01-02T03:04:05.000Z');
  });
  it('always yields a header the server accepts (RunLabel)', () => {
    for (const name of ['nightly', 'a b;c\u00e9', '\u0000\u007f', '', 'x'.repeat(300)]) {
      expect(RunLabel.safeParse(formatRunHeader(name, stamp, { sequence: 12 })).success).toBe(true);
    }
  });
  it("reads back when the run started (runStartOf), and nothing from a label that holds no ISO time", () => {
    expect(runStartOf(formatRunHeader('ferry', stamp))).toBe(stamp.getTime());
    expect(runStartOf(formatRunHeader('a b;c', stamp, { sequence: 3 }))).toBe(stamp.getTime());
    expect(runStartOf('test;2024-01-01T00:00:00+02:00')).toBe(Date.parse('2023-12-31T22:00:00Z'));
    for (const label of [undefined, '-', 'ferry', 'ferry;yesterday', 'ferry;2024-01-01', '2024-01-01T00:00:00Z;x', 'ferry;2024-13-01T00:00:00Z']) {
      expect(runStartOf(label)).toBeNull();
    }
  });
});
