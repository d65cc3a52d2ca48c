import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_HASH, Ledger } from '../chaos/ledger';
import { Executor, sha256 } from '../chaos/workload';
import { makeTempDir } from '../helpers/local-temp';

// What the chaos harness's user operations record in the ledger, run on real folders: the
// ledger's view of a move must match the product's three-way view of the bytes at each name.
describe('chaos executor', () => {
  const temps: Array<() => void> = [];
  afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));

  function twoDevices(beforeRenameLands?: (to: string) => Promise<void>) {
    const { dir, cleanup } = makeTempDir('ferry-chaos-exec-');
    temps.push(cleanup);
    const devices = ['dev-a', 'dev-b'].map((name) => ({ name, root: path.join(dir, name) }));
    for (const d of devices) mkdirSync(d.root);
    const ledger = new Ledger();
    return { devices, ledger, executor: new Executor(devices, ledger, undefined, { beforeRenameLands }) };
  }
  /** What a pull does: a's file, byte for byte, at the same name on b. */
  const sync = (devices: Array<{ root: string }>, rel: string) => {
    mkdirSync(path.dirname(path.join(devices[1]!.root, rel)), { recursive: true });
    copyFileSync(path.join(devices[0]!.root, rel), path.join(devices[1]!.root, rel));
  };

  // Chaos seed 3022 (npm run chaos -- --seed 3022 --ops 60 --devices 2): b moved an empty
  // docs/naïve résumé.pdf over its synced empty naïve résumé.pdf just as a's delete of that path
  // arrived; the pull found the bytes of the synced revision there (unchanged, D4) and removed
  // them. The ledger had recorded the move as a new version of b's and reported it lost.
  it('records a file moved over the same bytes as no new version at the new name (chaos seed 3022)', async () => {
    const { devices, ledger, executor } = twoDevices();
    const name = 'naïve résumé.pdf';
    await executor.run({ kind: 'write', device: 0, path: name, size: 0, content: 1 }, 1);
    sync(devices, name);
    // b edits the synced empty file; the pull puts a's version back (b's went to a copy).
    await executor.run({ kind: 'write', device: 1, path: name, size: 713, content: 2 }, 2);
    sync(devices, name);
    await executor.run({ kind: 'write', device: 0, path: `docs/${name}`, size: 0, content: 3 }, 3);
    sync(devices, `docs/${name}`);

    await executor.run({ kind: 'rename', device: 1, from: `docs/${name}`, to: name }, 4);
    expect(executor.stats.executed).toBe(4);
    // b knowingly replaced both empty versions, and the bytes at the new name did not change:
    // a's delete that then removes them there (the product's D4) loses nothing.
    expect(ledger.live.filter((v) => v.hash === EMPTY_HASH)).toEqual([]);
    expect(ledger.live.map((v) => `${v.device}:${v.step}`)).toEqual(['dev-b:2']);
  });

  // Chaos seed 7001: dev-a edited Ärger/deep/IMG_0001.JPG (its edit reached the server), then
  // dev-b, still holding the synced bytes, renamed the folder Ärger to ärger. The server moved
  // dev-a's edit with the folder, and dev-b's pull rightly replaced the unedited bytes it had
  // renamed (U5). Those bytes were the base of dev-a's edit, not a version of dev-b's.
  it('a folder renamed with bytes another device edited records them as that edit\'s base (chaos seed 7001)', async () => {
    const { devices, ledger, executor } = twoDevices();
    await executor.run({ kind: 'write', device: 1, path: 'Ärger/deep/IMG_0001.JPG', size: 64, content: 1 }, 1);
    await executor.run({ kind: 'write', device: 1, path: 'Ärger/deep/other.txt', size: 32, content: 2 }, 2);
    // a has b's synced photo and edits it.
    mkdirSync(path.join(devices[0]!.root, 'Ärger', 'deep'), { recursive: true });
    copyFileSync(path.join(devices[1]!.root, 'Ärger/deep/IMG_0001.JPG'), path.join(devices[0]!.root, 'Ärger/deep/IMG_0001.JPG'));
    await executor.run({ kind: 'write', device: 0, path: 'Ärger/deep/IMG_0001.JPG', size: 80, content: 3 }, 3);
    await executor.run({ kind: 'rename-dir', device: 1, from: 'Ärger', to: 'ärger' }, 4);
    const photo = ledger.live.filter((v) => v.path.endsWith('IMG_0001.JPG'));
    expect(photo.map((v) => `${v.device}:${v.step}`)).toEqual(['dev-a:3']);
    // a's edit may be where the rename took it; b's other file, nobody else's, is b's version at the new name.
    expect([...ledger.pathsOf(photo[0]!)]).toContain('ärger/deep/IMG_0001.JPG');
    expect(ledger.live.filter((v) => v.path === 'ärger/deep/other.txt').map((v) => v.device)).toEqual(['dev-b']);
  });

  it('records a file moved over other bytes as a version at the new name', async () => {
    const { devices, ledger, executor } = twoDevices();
    await executor.run({ kind: 'write', device: 0, path: 'x', size: 0, content: 1 }, 1);
    sync(devices, 'x');
    writeFileSync(path.join(devices[1]!.root, 'y'), 'b wrote y');
    await executor.run({ kind: 'rename', device: 1, from: 'y', to: 'x' }, 2);
    // Over synced bytes: an edit of x (it follows another device's move of x, M2).
    expect(ledger.live).toEqual([{ device: 'dev-b', path: 'x', hash: sha256(Buffer.from('b wrote y')), step: 2, edited: true }]);
  });

  // Chaos seed 17870 (npm run chaos -- --seed 17870 --ops 60 --devices 2): b renamed
  // img_0001.jpg back onto IMG_0001.JPG just as its pull put a's edit of IMG_0001.JPG there
  // (U3: a remote edit of a file b had renamed away comes back). The harness had looked at the
  // new name (nothing there) before renaming, so the ledger thought b replaced nothing and kept
  // a's edit as a version nobody replaced: "lost". The rename now records what it replaced.
  it('a download landing at the new name during a rename is what the rename replaced (chaos seed 17870)', async () => {
    let landed = false;
    const { devices, ledger, executor } = twoDevices(async (to) => {
      copyFileSync(path.join(devices[0]!.root, 'IMG_0001.JPG'), to);
      landed = true;
    });
    await executor.run({ kind: 'write', device: 0, path: 'IMG_0001.JPG', size: 300, content: 1 }, 1);
    await executor.run({ kind: 'write', device: 1, path: 'img_0001.jpg', size: 200, content: 2 }, 2);
    const bBytes = readFileSync(path.join(devices[1]!.root, 'img_0001.jpg'));

    await executor.run({ kind: 'rename', device: 1, from: 'img_0001.jpg', to: 'IMG_0001.JPG' }, 3);
    expect(landed).toBe(true);
    expect(executor.stats.executed).toBe(3);
    // On disk: b's bytes at the new name, nothing at the old one, no aside file left.
    expect(readFileSync(path.join(devices[1]!.root, 'IMG_0001.JPG'))).toEqual(bBytes);
    expect(readdirSync(devices[1]!.root)).toEqual(['IMG_0001.JPG']);
    // b knowingly replaced a's version there: only b's moved file is a live version.
    expect(ledger.live.map((v) => `${v.device}:${v.path}`)).toEqual(['dev-b:IMG_0001.JPG']);
  });

  it('a rename whose file is gone does nothing and records nothing', async () => {
    const { devices, ledger, executor } = twoDevices();
    await executor.run({ kind: 'write', device: 1, path: 'x', size: 10, content: 1 }, 1);
    await executor.run({ kind: 'rename', device: 1, from: 'y', to: 'x' }, 2);
    expect(executor.stats).toMatchObject({ executed: 1, skipped: 1 });
    expect(readdirSync(devices[1]!.root)).toEqual(['x']);
    expect(ledger.live.map((v) => `${v.device}:${v.path}`)).toEqual(['dev-b:x']);
  });
});
