import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLinks } from '../chaos/invariants';
import { Ledger } from '../chaos/ledger';
import { probeTarget } from '../chaos/rename-probe';
import { diffTrees, localTree, sha256Of, type Tree } from '../chaos/snapshot';
import { canaryBytes, CANARY, Executor, makePlan, outsideOf } from '../chaos/workload';
import { deviceFolders } from '../helpers/local-temp';

// Chaos --links: users make symbolic links, often where the others keep files and folders. Ferry
// never syncs one, never writes through one and never replaces one (docs/conflict-rules.md, U8).
describe('chaos --links', () => {
  const temps: Array<() => void> = [];
  afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));
  const fingerprint = (p: unknown) => createHash('sha256').update(JSON.stringify(p)).digest('hex').slice(0, 16);
  const devices = () => deviceFolders(['dev-a', 'dev-b'], (cleanup) => temps.push(cleanup));

  it('leaves the plan of every other mode as it was, and plans links of every target', () => {
    expect(fingerprint(makePlan(18335, 2, 60, {}))).toBe('2736c067e98b41bb');
    expect(fingerprint(makePlan(51001, 2, 60, { restores: true, bulkDeletes: true }))).toBe('2a30f45b59e620be');
    const links = makePlan(7, 3, 1000, { links: true }).ops.filter((op) => op.kind === 'symlink');
    expect(new Set(links.map((op) => op.to))).toEqual(new Set(['outside-dir', 'outside-file', 'loop', 'nowhere']));
  });

  it('makes a link where nothing is, into the folder outside with its canary; never over a file', async () => {
    const [a, b] = devices();
    writeFileSync(path.join(a!.root, 'notes.txt'), 'kept');
    const executor = new Executor([a!, b!], new Ledger());
    await executor.run({ kind: 'symlink', device: 0, path: 'docs', to: 'outside-dir' }, 1);
    await executor.run({ kind: 'symlink', device: 0, path: 'notes.txt', to: 'loop' }, 2);
    expect(executor.stats).toMatchObject({ executed: 1, skipped: 1 });
    expect(readlinkSync(path.join(a!.root, 'docs'))).toBe(outsideOf(a!));
    expect(lstatSync(path.join(a!.root, 'notes.txt')).isFile()).toBe(true);
    expect(existsSync(path.join(outsideOf(a!), CANARY))).toBe(true);
  });

  it('a user op never goes through a link: a write or a folder made below one, or a folder made at one, is skipped; the folder outside untouched', async () => {
    const [a, b] = devices();
    const ledger = new Ledger();
    const executor = new Executor([a!, b!], ledger);
    await executor.run({ kind: 'symlink', device: 0, path: 'docs', to: 'outside-dir' }, 1);
    await executor.run({ kind: 'write', device: 0, path: 'docs/x.txt', size: 10, content: 1 }, 2);
    await executor.run({ kind: 'mkdir', device: 0, path: 'docs/deep' }, 3);
    await executor.run({ kind: 'mkdir', device: 0, path: 'docs' }, 4);
    expect(executor.stats.skipped).toBe(3);
    expect(ledger.live).toEqual([]);
    const trees = [await localTree(a!.root), await localTree(b!.root)];
    expect(await checkLinks([a!, b!], trees, emptyTree(), executor.linkRecord, ledger)).toEqual([]);
  });

  // Chaos seed 71105 (--kinds --links): dev-a's rename of a file it did not have still made the
  // folders on the way, which went to the server under dev-b's link; the check, told nothing of
  // them, took them for something read through that link.
  it('chaos seed 71105: the folders a rename makes on its way are that device\'s, even when it finds no file', async () => {
    const [a, b] = devices();
    const ledger = new Ledger();
    const executor = new Executor([a!, b!], ledger);
    await executor.run({ kind: 'symlink', device: 1, path: 'deep', to: 'outside-dir' }, 1);
    await executor.run({ kind: 'rename', device: 0, from: 'deep/b/photos/ü', to: 'deep/b/photos/Ü' }, 2);
    expect(executor.stats).toMatchObject({ executed: 1, skipped: 1 });
    expect(lstatSync(path.join(a!.root, 'deep/b/photos')).isDirectory()).toBe(true);
    const server = emptyTree();
    for (const dir of ['deep', 'deep/b', 'deep/b/photos']) server.dirs.add(dir);
    const trees = [await localTree(a!.root), await localTree(b!.root)];
    expect(await checkLinks([a!, b!], trees, server, executor.linkRecord, ledger)).toEqual([]);
  });

  it('a device tree lists its links apart, and what the server holds at a link is no difference', async () => {
    const [a, b] = devices();
    const executor = new Executor([a!, b!], new Ledger());
    await executor.run({ kind: 'symlink', device: 0, path: 'photos', to: 'nowhere' }, 1);
    const local = await localTree(a!.root);
    expect(local).toMatchObject({ links: ['photos'], temps: [] });
    const server = emptyTree();
    server.files.set('photos/a.jpg', { size: 1, blocks: ['h'] });
    server.files.set('other.txt', { size: 1, blocks: ['h'] });
    expect(diffTrees('dev-a', local, server, false)).toEqual(['dev-a: missing "other.txt" (1 B on the server)']);
  });

  it('invariant 8 fails when the folder outside changed, the server holds a canary, a link was replaced, or the server holds what is below a link', async () => {
    const [a, b] = devices();
    const ledger = new Ledger();
    const executor = new Executor([a!, b!], ledger);
    await executor.run({ kind: 'symlink', device: 0, path: 'docs', to: 'outside-dir' }, 1);
    await executor.run({ kind: 'symlink', device: 0, path: 'notes.txt', to: 'nowhere' }, 2);
    await executor.run({ kind: 'symlink', device: 0, path: 'loop', to: 'loop' }, 3);
    writeFileSync(path.join(outsideOf(a!), 'x.txt'), 'written through the link');
    writeFileSync(path.join(outsideOf(a!), CANARY), 'changed');
    // Replaced by the file another device wrote there (Ferry never does: U8).
    unlinkSync(path.join(a!.root, 'notes.txt'));
    writeFileSync(path.join(a!.root, 'notes.txt'), 'from the server');
    ledger.replace('dev-b', 'notes.txt', null);
    ledger.write('dev-b', 'notes.txt', 'b'.repeat(64), 4);
    const server = emptyTree();
    server.files.set('docs/canary.txt', { size: 1, blocks: ['h'], hash: sha256Of(canaryBytes(a!)) });
    server.files.set('loop/loop/copy.txt', { size: 1, blocks: ['h'] });
    const trees = [await localTree(a!.root), await localTree(b!.root)];
    expect(await checkLinks([a!, b!], trees, server, executor.linkRecord, ledger)).toEqual([
      '[8] dev-a: the folder its links point into holds ["canary.txt","x.txt"], not its canary alone',
      '[8] dev-a: its canary outside the synced folder was changed',
      `[8] the server holds dev-a's canary at "docs/canary.txt": read through a link and uploaded`,
      '[8] dev-a: its link "notes.txt" was replaced by a file',
      `[8] the server holds "docs/canary.txt" at or below dev-a's link "docs", which no other device wrote: read through the link`,
      `[8] the server holds "loop/loop/copy.txt" at or below dev-a's link "loop", which no other device wrote: read through the link`,
    ]);
    // Chaos seed 72007: another device's conflict copy below the link is that device's write.
    ledger.replace('dev-b', 'loop/report.md', null);
    ledger.write('dev-b', 'loop/report.md', 'c'.repeat(64), 6);
    const withCopy = emptyTree();
    withCopy.files.set('loop/report (conflict from dev-b 2026-12-06 141025).md', { size: 1, blocks: ['h'] });
    expect((await checkLinks([a!, b!], trees, withCopy, executor.linkRecord, ledger)).filter((f) => f.includes('below'))).toEqual([]);
    // A user's own later op there, or a folder moved there by anyone, excuses a link gone.
    await executor.run({ kind: 'write', device: 0, path: 'notes.txt', size: 3, content: 1 }, 5);
    expect((await checkLinks([a!, b!], trees, emptyTree(), executor.linkRecord, ledger)).filter((f) => f.includes('replaced'))).toEqual([]);
  });

  // Chaos --links seed 72070: dev-c's user made a link at b/photos/a, and with it the folder
  // b/photos, which dev-c synced; dev-b had a link at b. The server's b/photos read as made
  // through dev-b's link, though dev-c's user made it.
  it('chaos --links seed 72070: the folders a link is made in are its user\'s, not read through another device\'s link', async () => {
    const [a, b] = devices();
    const ledger = new Ledger();
    const executor = new Executor([a!, b!], ledger);
    await executor.run({ kind: 'symlink', device: 0, path: 'b', to: 'loop' }, 1);
    await executor.run({ kind: 'symlink', device: 1, path: 'b/photos/a', to: 'outside-dir' }, 2);
    expect(lstatSync(path.join(b!.root, 'b/photos')).isDirectory()).toBe(true);
    const server = emptyTree();
    server.dirs.add('b');
    server.dirs.add('b/photos');
    const trees = [await localTree(a!.root), await localTree(b!.root)];
    expect(await checkLinks([a!, b!], trees, server, executor.linkRecord, ledger)).toEqual([]);
    // What nobody made there still fails.
    server.dirs.add('b/elsewhere');
    expect(await checkLinks([a!, b!], trees, server, executor.linkRecord, ledger)).toEqual(['[8] the server holds "b/elsewhere" at or below dev-a\'s link "b", which no other device wrote: read through the link']);
  });

  // Chaos --links --kinds seed 71078: dev-b's link at b/photos/Ärger made b/photos, which dev-b
  // synced; dev-a then turned the folder b into a file, which met it and was kept as a conflict
  // copy. Read as a spurious copy: nothing of dev-b's was known there.
  it('chaos --links --kinds seed 71078: a folder turned into a file meets the folders another device made a link in', async () => {
    const [a, b] = devices();
    const ledger = new Ledger();
    const executor = new Executor([a!, b!], ledger);
    await executor.run({ kind: 'symlink', device: 1, path: 'b/photos/Ärger', to: 'outside-dir' }, 1);
    ledger.kindChanged('dev-a', 'b', 'dir');
    expect(ledger.kindChangeMetOther('b')).toBe(true);
    expect(ledger.kindChangeMetOther('elsewhere')).toBe(false);
  });

  // Chaos seed 72005 (--links --ops 120): the rename probe renamed a folder dev-b had a link under
  // the name of; dev-b had never held what was in it, and downloaded it (2 block requests).
  it('chaos seed 72005: the rename probe leaves alone a folder another device has a link under the name of', async () => {
    const [a, b] = devices();
    mkdirSync(path.join(a!.root, 'Ärger'));
    mkdirSync(path.join(a!.root, 'ü'));
    symlinkSync('nowhere', path.join(b!.root, 'Ärger'));
    expect(probeTarget(a!.root, [b!.root])?.name).toBe('ü');
    expect(probeTarget(a!.root, [])?.name).toBe('Ärger');
  });
});

const emptyTree = (): Tree => ({ files: new Map(), dirs: new Set(), nfcClashes: [], temps: [], links: [] });
