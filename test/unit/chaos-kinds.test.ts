import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkInvariants } from '../chaos/invariants';
import { Ledger } from '../chaos/ledger';
import type { FileEntry, Tree } from '../chaos/snapshot';
import { Executor, makePlan, sha256 } from '../chaos/workload';
import { deviceFolders } from '../helpers/local-temp';

// Chaos --kinds: users turn files into folders and folders into files while the others sync.
describe('chaos --kinds', () => {
  const temps: Array<() => void> = [];
  afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));
  const fingerprint = (p: unknown) => createHash('sha256').update(JSON.stringify(p)).digest('hex').slice(0, 16);

  // A seed replays its plan: the plans of the other modes are the ones every earlier seed ran
  // (fingerprints taken from the generator before kind changes existed).
  it('leaves the plan of every other mode as it was', () => {
    expect(fingerprint(makePlan(18335, 2, 60, {}))).toBe('2736c067e98b41bb');
    expect(fingerprint(makePlan(50001, 3, 60, { restores: true }))).toBe('97b1de70f6531f9c');
    expect(fingerprint(makePlan(51001, 2, 60, { restores: true, bulkDeletes: true }))).toBe('2a30f45b59e620be');
    expect(makePlan(7, 3, 300, { restores: true }).ops.some((op) => op.kind === 'file-to-dir' || op.kind === 'dir-to-file')).toBe(false);
  });

  it('plans both kind changes, and later ops use the new kind', () => {
    const { ops } = makePlan(7, 3, 300, { kinds: true });
    const toDir = ops.filter((op) => op.kind === 'file-to-dir');
    const toFile = ops.filter((op) => op.kind === 'dir-to-file');
    expect(toDir.length).toBeGreaterThan(3);
    expect(toFile.length).toBeGreaterThan(3);
    // Some folder made from a file is used as a folder later: removed, renamed or turned back.
    const asFolder = (o: (typeof ops)[number], dir: string) =>
      ((o.kind === 'delete-dir' || o.kind === 'dir-to-file') && o.path === dir) || (o.kind === 'rename-dir' && o.from === dir);
    const usedAsDir = toDir.some((op, i) => ops.slice(i + 1).some((o) => asFolder(o, op.path)));
    expect(usedAsDir).toBe(true);
  });

  const devices = () => deviceFolders(['dev-a', 'dev-b'], (cleanup) => temps.push(cleanup));

  it('a file turned into a folder: the file is deleted and the new file inside is a version', async () => {
    const [a, b] = devices();
    writeFileSync(path.join(a!.root, 'notes.txt'), 'old bytes');
    const ledger = new Ledger();
    const executor = new Executor([a!, b!], ledger);
    await executor.run({ kind: 'file-to-dir', device: 0, path: 'notes.txt', name: 'inner.md', size: 40, content: 5 }, 3);
    expect(executor.stats.byKind['file-to-dir']).toBe(1);
    expect(statSync(path.join(a!.root, 'notes.txt')).isDirectory()).toBe(true);
    const inner = readFileSync(path.join(a!.root, 'notes.txt', 'inner.md'));
    expect(inner.length).toBe(40);
    expect(ledger.live.map((v) => [v.path, v.hash])).toEqual([['notes.txt/inner.md', sha256(inner)]]);
  });

  it('a folder turned into a file: what it held is deleted and the file is a version', async () => {
    const [a, b] = devices();
    mkdirSync(path.join(a!.root, 'docs', 'deep'), { recursive: true });
    writeFileSync(path.join(a!.root, 'docs', 'deep', 'x.txt'), 'x');
    const ledger = new Ledger();
    const executor = new Executor([a!, b!], ledger);
    await executor.run({ kind: 'write', device: 0, path: 'docs/a.txt', size: 10, content: 1 }, 1);
    expect(ledger.live).toHaveLength(1);
    await executor.run({ kind: 'dir-to-file', device: 0, path: 'docs', size: 12, content: 2 }, 2);
    expect(statSync(path.join(a!.root, 'docs')).isFile()).toBe(true);
    const file = readFileSync(path.join(a!.root, 'docs'));
    expect(ledger.live.map((v) => [v.path, v.hash])).toEqual([['docs', sha256(file)]]);
  });

  it('skips a kind change whose path holds the other kind already, and changes nothing', async () => {
    const [a, b] = devices();
    mkdirSync(path.join(a!.root, 'notes.txt'));
    writeFileSync(path.join(a!.root, 'docs'), 'a file');
    const ledger = new Ledger();
    const executor = new Executor([a!, b!], ledger);
    await executor.run({ kind: 'file-to-dir', device: 0, path: 'notes.txt', name: 'x', size: 1, content: 1 }, 1);
    await executor.run({ kind: 'dir-to-file', device: 0, path: 'docs', size: 1, content: 1 }, 2);
    expect(executor.stats.skipped).toBe(2);
    expect(statSync(path.join(a!.root, 'notes.txt')).isDirectory()).toBe(true);
    expect(existsSync(path.join(a!.root, 'notes.txt', 'x'))).toBe(false);
    expect(readFileSync(path.join(a!.root, 'docs'), 'utf8')).toBe('a file');
    expect(ledger.live).toEqual([]);
  });

  // Seeds 60005 and 60009: copies the ledger called spurious. One was made at a path whose folder
  // was kept as a copy later (U9), so it was checked under the folder copy's name; the other was
  // a file kept as a copy where another device had made a folder (DU6).
  // A copy near a kind change no other device came near was never checked: it has no other side.
  it('checks a copy made in a folder kept as a copy since at its first path; a copy near a kind change is spurious only when no other device came near it', () => {
    const ledger = new Ledger();
    ledger.replace('dev-a', 'deep/a/.hidden', null);
    ledger.write('dev-a', 'deep/a/.hidden', 'a'.repeat(64), 1);
    ledger.replace('dev-b', 'deep/a/.hidden', null);
    ledger.write('dev-b', 'deep/a/.hidden', 'b'.repeat(64), 2);
    ledger.kindChanged('dev-a', 'docs', 'dir');
    ledger.replace('dev-b', 'docs/b.txt', null);
    ledger.write('dev-b', 'docs/b.txt', 'e'.repeat(64), 3);
    ledger.kindChanged('dev-a', 'solo', 'file');
    const at = (p: string, hash: string): [string, FileEntry] => [p, { size: 1, blocks: ['x'], hash }];
    const server: Tree = {
      files: new Map([
        at('deep (conflict from dev-b 2026-12-05 053713)/a/.hidden (conflict from dev-b 2026-12-05 053711)', 'b'.repeat(64)),
        at('deep/a/.hidden', 'a'.repeat(64)),
        at('docs/b.txt', 'e'.repeat(64)),
        at('docs (conflict from dev-a 2026-12-05 053746)', 'c'.repeat(64)),
        at('other (conflict from dev-a 2026-12-05 053746)', 'd'.repeat(64)),
        at('solo/x (conflict from dev-a 2026-12-05 053746).txt', 'f'.repeat(64)),
      ]),
      dirs: new Set(),
      nfcClashes: [],
      temps: [],
      links: [],
    };
    expect(checkInvariants({ server, devices: [], ledger, compareEmptyDirs: false })).toEqual([
      '[3] spurious conflict copy "other (conflict from dev-a 2026-12-05 053746)": no concurrent edits of "other"',
      '[3] spurious conflict copy "solo/x (conflict from dev-a 2026-12-05 053746).txt": no concurrent edits of "solo/x.txt"',
    ]);
  });
});
