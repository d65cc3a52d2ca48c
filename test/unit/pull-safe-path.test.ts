import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkRemotePath, ensureParents, findCaseClashes, joinInside, resolveInside, windowsNameProblem } from '../../main/engine/pull/safe-path';
import { makeTempDir } from '../helpers/local-temp';

const reason = (p: unknown, platform: NodeJS.Platform = 'linux') => {
  const r = checkRemotePath(p, platform);
  return r.ok ? 'ok' : r.reason;
};

describe('remote path validation', () => {
  it('accepts ordinary relative paths and normalises to NFC', () => {
    expect(checkRemotePath('docs/a.txt')).toEqual({ ok: true, path: 'docs/a.txt' });
    expect(checkRemotePath('cafe\u0301.txt')).toEqual({ ok: true, path: 'café.txt' });
  });
  it('refuses traversal, absolute, drive, NUL, empty segments and the reserved .ferry', () => {
    expect(reason('../etc/passwd')).toMatch(/'\.\.' segment/);
    expect(reason('a/../../b')).toMatch(/'\.\.' segment/);
    expect(reason('/etc/passwd')).toMatch(/absolute/);
    expect(reason('C:/Windows/x')).toMatch(/drive/);
    expect(reason('a\u0000b')).toMatch(/NUL/);
    expect(reason('a\\..\\b')).toMatch(/backslash/);
    expect(reason('a//b')).toMatch(/empty segment/);
    expect(reason('.ferry/tmp/x')).toMatch(/reserved/);
    expect(reason('')).toMatch(/empty/);
    expect(reason(42)).toMatch(/string/);
  });
  it('refuses names and paths that are too long', () => {
    expect(reason('x'.repeat(256))).toMatch(/255/);
    expect(reason(Array.from({ length: 20 }, () => 'y'.repeat(250)).join('/'))).toMatch(/4096/);
  });
  it('applies the Windows rules on win32 only', () => {
    expect(reason('dir/CON', 'win32')).toMatch(/reserved/);
    expect(reason('nul.txt', 'win32')).toMatch(/reserved/);
    expect(reason('com1.log', 'win32')).toMatch(/reserved/);
    expect(reason('a<b', 'win32')).toMatch(/character/);
    expect(reason('what?.txt', 'win32')).toMatch(/character/);
    expect(reason('trailing.', 'win32')).toMatch(/dot or space/);
    expect(reason('dir /x', 'win32')).toMatch(/dot or space/);
    expect(reason('dir/CON', 'linux')).toBe('ok');
    expect(windowsNameProblem('console.txt')).toBeNull();
  });
});

describe('case clashes on case-insensitive disks', () => {
  it('skips the later of two paths that differ only in case, in any component', () => {
    expect([...findCaseClashes(['a/B.txt', 'a/b.txt', 'A/c.txt', 'd.txt'])]).toEqual(['a/b.txt', 'A/c.txt']);
  });
  it('leaves distinct paths alone', () => {
    expect(findCaseClashes(['a/x', 'a/y', 'ab/x']).size).toBe(0);
  });
});

describe('resolving inside the folder', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let root: string;
  let outside: string;
  beforeEach(() => {
    tmp = makeTempDir('ferry-pull-safe-');
    root = path.join(tmp.dir, 'root');
    outside = path.join(tmp.dir, 'outside');
    mkdirSync(root);
    mkdirSync(outside);
  });
  afterEach(() => tmp.cleanup());

  it('returns the target stat or null', async () => {
    writeFileSync(path.join(root, 'a.txt'), 'x');
    expect((await resolveInside(root, 'a.txt')).stat?.isFile()).toBe(true);
    expect((await resolveInside(root, 'b/c.txt')).stat).toBeNull();
  });
  it('refuses a parent chain through a symlink, even one pointing inside', async () => {
    symlinkSync(outside, path.join(root, 'link'));
    await expect(resolveInside(root, 'link/x.txt')).rejects.toMatchObject({ code: 'unsafe_path' });
    await expect(ensureParents(root, 'link/sub/x.txt')).rejects.toMatchObject({ code: 'unsafe_path' });
    mkdirSync(path.join(root, 'real'));
    symlinkSync(path.join(root, 'real'), path.join(root, 'inner'));
    await expect(resolveInside(root, 'inner/x.txt')).rejects.toMatchObject({ code: 'unsafe_path' });
  });
  it('reports a symlink target as such, without following it', async () => {
    symlinkSync(path.join(outside, 'secret'), path.join(root, 's'));
    expect((await resolveInside(root, 's')).stat?.isSymbolicLink()).toBe(true);
  });
  it('refuses a file in the parent chain', async () => {
    writeFileSync(path.join(root, 'f'), 'x');
    await expect(resolveInside(root, 'f/x.txt')).rejects.toMatchObject({ code: 'unsafe_path' });
  });
  it('makes a file where the index holds a folder wait for the scan, retryable, looking and placing alike', async () => {
    writeFileSync(path.join(root, 'f'), 'x');
    const heldAsFolder = (dir: string) => dir === 'f';
    const waits = { code: 'parent_gone', retryable: true, retryAfterSeconds: 1 };
    await expect(resolveInside(root, 'f/x.txt', { heldAsFolder })).rejects.toMatchObject(waits);
    await expect(ensureParents(root, 'f/x.txt', undefined, heldAsFolder)).rejects.toMatchObject(waits);
    // A file the index does not hold as a folder is refused for good, as before.
    await expect(resolveInside(root, 'f/x.txt', { heldAsFolder: () => false })).rejects.toMatchObject({ code: 'unsafe_path' });
  });
  it('creates missing parents as real directories', async () => {
    await ensureParents(root, 'a/b/c/d.txt');
    expect((await resolveInside(root, 'a/b/c/d.txt')).stat).toBeNull();
  });
  it('checks the spelling of existing names when the disk is case-insensitive', async () => {
    mkdirSync(path.join(root, 'Docs'));
    await expect(resolveInside(root, 'Docs/x', { caseInsensitive: true })).resolves.toMatchObject({ stat: null });
    // On this (case-sensitive) disk 'docs' does not exist; the probe only runs on a hit.
    await expect(resolveInside(root, 'docs/x', { caseInsensitive: true })).resolves.toMatchObject({ stat: null });
  });
  it('never joins outside the root', () => {
    expect(() => joinInside(root, '../x')).toThrow(/outside/);
    expect(joinInside(root, 'a/b')).toBe(path.join(root, 'a', 'b'));
  });
});
