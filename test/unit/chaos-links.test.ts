import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLinks } from '../chaos/invariants';
import { Ledger } from '../chaos/ledger';
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

  it('a user op never goes through a link: a write below one is skipped, the folder outside untouched', async () => {
    const [a, b] = devices();
    const ledger = new Ledger();
    const executor = new Executor([a!, b!], ledger);
    await executor.run({ kind: 'symlink', device: 0, path: 'docs', to: 'outside-dir' }, 1);
    await executor.run({ kind: 'write', device: 0, path: 'docs/x.txt', size: 10, content: 1 }, 2);
    await executor.run({ kind: 'mkdir', device: 0, path: 'docs/deep' }, 3);
    expect(executor.stats.skipped).toBe(2);
    expect(ledger.live).toEqual([]);
    expect(await checkLinks([a!, b!], emptyTree())).toEqual([]);
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

  it('invariant 7 fails when the folder outside changed, or the server holds a canary', async () => {
    const [a, b] = devices();
    const executor = new Executor([a!, b!], new Ledger());
    await executor.run({ kind: 'symlink', device: 0, path: 'docs', to: 'outside-dir' }, 1);
    writeFileSync(path.join(outsideOf(a!), 'x.txt'), 'written through the link');
    writeFileSync(path.join(outsideOf(a!), CANARY), 'changed');
    const server = emptyTree();
    server.files.set('docs/canary.txt', { size: 1, blocks: ['h'], hash: sha256Of(canaryBytes(a!)) });
    mkdirSync(outsideOf(b!));
    writeFileSync(path.join(outsideOf(b!), CANARY), canaryBytes(b!));
    expect(await checkLinks([a!, b!], server)).toEqual([
      '[7] dev-a: the folder its links point into holds ["canary.txt","x.txt"], not its canary alone',
      '[7] dev-a: its canary outside the synced folder was changed',
      `[7] the server holds dev-a's canary at "docs/canary.txt": read through a link and uploaded`,
    ]);
  });
});

const emptyTree = (): Tree => ({ files: new Map(), dirs: new Set(), nfcClashes: [], temps: [], links: [] });
