import { describe, expect, it } from 'vitest';
import { checkSyncPath } from '../../protocol';

// Issue 23 item 9: what the wire refuses beyond the first path rules, and what it accepts on
// purpose (docs/sync-api.md, "Paths").
describe('sync paths: hostile spellings (issue 23 item 9)', () => {
  it.each([
    ['next\u0085line', 'control'],
    ['csi\u009b31m', 'control'],
    ['c1-first\u0080', 'control'],
    ['del\u007f', 'control'],
    ['invoice\u202eFDP.exe', 'bidirectional'],
    ['a\u202ab', 'bidirectional'],
    ['isolate\u2066x\u2069', 'bidirectional'],
    ['.ferry./x', 'reserved'],
    ['.ferry /x', 'reserved'],
    ['.Ferry. . /x', 'reserved'],
    ['.ferry', 'reserved'],
    ['.ferry.', 'reserved'],
    ['.ferry:stream', 'reserved'],
    ['.FERRY::$INDEX_ALLOCATION/x', 'reserved'],
  ])('refuses %j (%s)', (p, reason) => {
    const result = checkSyncPath(p);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });

  it.each([
    'CON',
    'nul.txt',
    'COM1',
    'trailing-dot.',
    'trailing-space ',
    'file:stream',
    'a<b>c|d?e*"f',
    'docs/.ferry/x',
    '.ferryish/x',
    '..ferry/x',
    'x.ferry.',
    // Right-to-left text itself is fine; only the invisible controls are refused.
    'مرحبا.txt',
    'שלום\u200f.txt',
    '\u00a0no-break-space',
  ])('accepts %j (a valid name on Linux and macOS; clients that cannot hold it skip it)', (p) => {
    expect(checkSyncPath(p)).toEqual({ ok: true, path: p.normalize('NFC') });
  });
});
