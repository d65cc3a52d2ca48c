import { describe, expect, it } from 'vitest';
import { conflictName, conflictPath, conflictStamp, parseConflictName, sanitizeDevice, splitExtension } from '../../main/engine/conflict-name';

const when = new Date('2025-01-02T03:04:05.678Z');
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

describe('conflict names', () => {
  it('follows `name (conflict from DEVICE YYYY-MM-DD HHMMSS).ext` in UTC', () => {
    expect(conflictStamp(when)).toBe('2025-01-02 030405');
    expect(conflictName('report.txt', 'laptop', when)).toBe('report (conflict from laptop 2025-01-02 030405).txt');
  });
  it('keeps leading-dot names whole and splits at the last dot', () => {
    expect(splitExtension('.bashrc')).toEqual({ stem: '.bashrc', ext: '' });
    expect(conflictName('.bashrc', 'pc', when)).toBe('.bashrc (conflict from pc 2025-01-02 030405)');
    expect(conflictName('a.tar.gz', 'pc', when)).toBe('a.tar (conflict from pc 2025-01-02 030405).gz');
    expect(conflictName('Makefile', 'pc', when)).toBe('Makefile (conflict from pc 2025-01-02 030405)');
  });
  it('adds a counter when the name is taken', () => {
    expect(conflictName('a.txt', 'pc', when, 3)).toBe('a (conflict from pc 2025-01-02 030405 3).txt');
  });
  it('keeps the directory and only renames the file', () => {
    expect(conflictPath('docs/q1/a.md', 'pc', when)).toBe('docs/q1/a (conflict from pc 2025-01-02 030405).md');
  });
  it('makes device names safe in a file name', () => {
    expect(sanitizeDevice('my/evil:dev*ice')).toBe('my_evil_dev_ice');
    expect(sanitizeDevice('')).toBe('unknown device');
    expect(sanitizeDevice('x'.repeat(200))).toHaveLength(64);
    expect(conflictName('a.txt', '../../etc', when)).not.toContain('/');
  });
  it('stays within 255 bytes without splitting characters', () => {
    const long = 'é'.repeat(200) + '.txt';
    const name = conflictName(long, 'pc', when);
    expect(bytes(name)).toBeLessThanOrEqual(255);
    expect(name.endsWith(' (conflict from pc 2025-01-02 030405).txt')).toBe(true);
    expect(name).not.toContain('\uFFFD');
  });

  // For `why` on the device that got a copy through the pull (a new-user try got no word of it).
  it('reads back what a copy\'s name says: the device, when, and the name it copies', () => {
    const when = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
    expect(parseConflictName(conflictPath('notes/a.tar.gz', 'laptop A', when, 2))).toEqual({ device: 'laptop A', at: '2025-01-02 03:04:05 UTC', original: 'notes/a.tar.gz' });
    expect(parseConflictName(conflictPath('report.txt', 'pc', when))).toEqual({ device: 'pc', at: '2025-01-02 03:04:05 UTC', original: 'report.txt' });
    expect(parseConflictName('notes/report.txt')).toBeNull();
  });
});
