import { existsSync, mkdirSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPuller, type Puller } from '../../main/engine/pull';
import { writeMarker } from '../../main/engine/folder-marker';
import { SyncApiClient } from '../../main/remote';
import { startHostileServer, type HostileServer } from '../fakes/hostile-server';
import { makeTestFolder, type TestFolder } from '../helpers/local-folder';

/** Every entry under dir (recursively), for "nothing else changed" checks. */
function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('pull from a hostile server', () => {
  let hostile: HostileServer;
  let folder: TestFolder;
  let client: SyncApiClient;
  let puller: Puller;
  let outsideBefore: string[];

  const start = async (mode: Parameters<typeof startHostileServer>[0]) => {
    hostile = await startHostileServer(mode);
    client = new SyncApiClient({ baseUrl: hostile.url, token: hostile.token, deviceId: 'victim' });
    puller = createPuller({ store: folder.store, remote: client, device: { id: 'victim', name: 'victim' } });
  };

  beforeEach(() => {
    folder = makeTestFolder('fb');
    folder.store.folders.setMarkerId('fb', writeMarker(folder.root));
    // Siblings of the root a traversal would reach.
    mkdirSync(path.join(folder.base, 'outside'));
    writeFileSync(path.join(folder.base, 'outside', 'precious.txt'), 'keep me');
    outsideBefore = listAll(folder.base).filter((p) => !p.startsWith('root/') && p !== 'root' && !p.startsWith('state.db'));
  });
  afterEach(async () => {
    await puller?.stop();
    client?.close();
    await hostile?.close();
    const outsideAfter = listAll(folder.base).filter((p) => !p.startsWith('root/') && p !== 'root' && !p.startsWith('state.db'));
    // Whatever happened, nothing outside the folder changed.
    expect(outsideAfter).toEqual(outsideBefore);
    expect(readFileSync(path.join(folder.base, 'outside', 'precious.txt'), 'utf8')).toBe('keep me');
    folder.cleanup();
  });

  it('skips and reports traversal, absolute, drive, NUL and reserved paths; applies the valid one', async () => {
    await start({
      kind: 'items',
      items: [
        { path: '../outside/precious.txt', content: 'owned' },
        { path: '../escape.txt', content: 'x1' },
        { path: '/tmp/abs.txt', content: 'x2' },
        { path: 'a/../../escape2.txt', content: 'x3' },
        { path: 'C:/windows.txt', content: 'x4' },
        { path: 'nul\u0000byte.txt', content: 'x5' },
        { path: '.ferry/tmp/planted', content: 'x6' },
        { path: '.ferry/folder-id', content: 'x7' },
        { path: 'ok/fine.txt', content: 'fine' },
        { path: '../outside/precious.txt', content: '', deleted: true },
      ],
    });
    const skipped: string[] = [];
    puller.events.on('skipped', (e) => skipped.push(e.path));
    const s = await puller.pullNow('fb');
    expect(s).toMatchObject({ downloaded: 1, tokenStored: true });
    expect(skipped).toHaveLength(8);
    expect(readFileSync(folder.abs('ok/fine.txt'), 'utf8')).toBe('fine');
    expect(listAll(folder.root).filter((p) => !p.startsWith('.ferry'))).toEqual(['ok', 'ok/fine.txt']);
    expect(existsSync(path.join(folder.base, 'escape.txt'))).toBe(false);
    // The device name in the feed is sanitised before it reaches a file name; no conflict happened here.
    expect(folder.store.activity.recent({ kind: 'pull_skipped' }).map((e) => e.message).join('\n')).toMatch(/'\.\.' segment/);
  });

  it('a block with the wrong hash is an error and nothing of that file is written', async () => {
    await start({ kind: 'items', items: [{ path: 'good.txt', content: 'good' }, { path: 'bad.txt', content: 'expected', served: 'tampered' }] });
    const errors: string[] = [];
    puller.events.on('error', (e) => errors.push(e.error.code));
    await expect(puller.pullNow('fb')).rejects.toMatchObject({ code: 'hash_mismatch', retryable: true });
    expect(errors).toEqual(['hash_mismatch']);
    expect(existsSync(folder.abs('bad.txt'))).toBe(false);
    expect(readdirSync(path.join(folder.root, '.ferry', 'tmp'))).toEqual([]);
    expect(folder.store.tokens.get('fb')).toBeUndefined();
    // The good file was applied on its own and is recorded, so a retry skips it.
    expect(readFileSync(folder.abs('good.txt'), 'utf8')).toBe('good');
  });

  it.each([
    ['garbage', 'this is not json {'],
    ['truncated JSON', '{"items":[{"path":"a.txt","revision":"1"'],
    ['missing fields', JSON.stringify({ items: [{ path: 'a.txt' }], _links: { 'upcoming-modifications': { href: '/x?syncToken=t' } } })],
    ['wrong types', JSON.stringify({ items: 'nope', _links: {} })],
    ['a bad hash in the list', JSON.stringify({ items: [{ path: 'a.txt', revision: '1', deleted: false, size: 1, mtime: 1, blocks: ['zz'], modificationDate: '2025-01-01T00:00:00Z', device: 'd' }], _links: { 'upcoming-modifications': { href: '/x?syncToken=t' } } })],
    ['no token link', JSON.stringify({ items: [], _links: { 'upcoming-modifications': { href: '/x' } } })],
  ])('%s fails the pull with a clear error and writes nothing', async (_name, body) => {
    await start({ kind: 'raw', body });
    const rootBefore = listAll(folder.root);
    const error = await puller.pullNow('fb').then(
      () => null,
      (e: unknown) => e as { code: string; retryable: boolean; message: string },
    );
    expect(error).not.toBeNull();
    expect(error!.code).toBe('malformed_reply');
    expect(error!.retryable).toBe(true);
    expect(error!.message.length).toBeGreaterThan(10);
    expect(listAll(folder.root).filter((p) => !p.startsWith('.ferry/tmp'))).toEqual(rootBefore.filter((p) => !p.startsWith('.ferry/tmp')));
    expect(folder.store.tokens.get('fb')).toBeUndefined();
    expect(folder.store.index.count('fb')).toBe(0);
  });
});
