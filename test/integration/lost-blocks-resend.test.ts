import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LostBlockResender } from '../../main/engine/push/resend-lost';
import { realTimers } from '../../main/engine/timers';
import { createLogger } from '../../main/logging';
import { SyncApiClient } from '../../main/remote';
import { openStore } from '../../main/store';
import { BLOCK_SIZE } from '../../protocol';
import { startServer, type RunningServer } from '../../server/main';
import { startTestAgent } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { sha256 } from '../helpers/server-harness';
import { waitFor } from '../helpers/wait';

// Lost blocks (docs/sync-api.md, "Lost blocks"): the server lost bytes a version refers to
// (a pack and a block file removed behind its back). Another device cannot download the file
// until a device holding the bytes uploads them again, which it does when its next report's
// reply names them. Real agents, the real server over loopback, real folders.
describe('blocks the server lost come back from a device that holds them', () => {
  const tmp = makeTempDir('ferry-lost-');
  let server: RunningServer;
  const serverDir = path.join(tmp.dir, 'server');

  beforeAll(async () => {
    server = await startServer({ dataDir: serverDir, port: 0 });
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  const readOr = (file: string): Buffer | null => {
    try {
      return readFileSync(file);
    } catch {
      return null;
    }
  };

  it('a new device gets every file whole once the device that uploaded them sends the lost blocks again', async () => {
    const aFolder = path.join(tmp.dir, 'a');
    const bFolder = path.join(tmp.dir, 'b');
    mkdirSync(aFolder);
    mkdirSync(bFolder);
    const big = randomBytes(BLOCK_SIZE + 1000);
    const note = Buffer.from('minutes of the meeting\n');
    writeFileSync(path.join(aFolder, 'big.bin'), big);
    writeFileSync(path.join(aFolder, 'note.txt'), note);
    const a = await startTestAgent(path.join(tmp.dir, 'a-data'), server, [{ localPath: aFolder, remoteId: 'shared' }]);
    let b: Awaited<ReturnType<typeof startTestAgent>> | null = null;
    try {
      const probe = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'probe' });
      await waitFor(async () => (await probe.missingBlocks([sha256(big.subarray(0, BLOCK_SIZE)), sha256(big.subarray(BLOCK_SIZE)), sha256(note)])).length === 0 && (await a.handlers.getStatus()).counts.pending === 0, {
        timeoutMs: 20_000,
        message: 'A uploaded both files',
      });
      probe.close();
      // The server loses them: every pack (the small blocks) and the big block's file.
      const packs = path.join(serverDir, 'blocks', 'packs');
      for (const pack of readdirSync(packs)) rmSync(path.join(packs, pack));
      const first = sha256(big.subarray(0, BLOCK_SIZE));
      rmSync(path.join(serverDir, 'blocks', first.slice(0, 2), first.slice(2, 4), first));

      b = await startTestAgent(path.join(tmp.dir, 'b-data'), server, [{ localPath: bFolder, remoteId: 'shared' }]);
      // B asks for the blocks and is told they are not there: it cannot have the files yet.
      const why = () => b!.handlers.explainPath({ folderId: 'shared', path: 'note.txt' });
      await waitFor(async () => (await why()).reasons.some((r) => r.code === 'pull_failed') || readOr(path.join(bFolder, 'note.txt')) !== null, {
        timeoutMs: 20_000,
        message: 'B tried to download',
      });
      expect(readOr(path.join(bFolder, 'note.txt'))).toBeNull();
      // `ferry why` on B says what is wrong and what brings it back.
      expect((await why()).reasons.find((r) => r.code === 'pull_failed')?.message).toMatch(/is not on the server \(lost there: it comes back once a device holding the file sends it again\)/);
      // A's next report (after this edit's push) is answered with the lost blocks; A sends them.
      writeFileSync(path.join(aFolder, 'later.txt'), 'a later edit');
      await waitFor(() => readOr(path.join(bFolder, 'note.txt'))?.equals(note) === true && readOr(path.join(bFolder, 'big.bin'))?.equals(big) === true, {
        timeoutMs: 60_000,
        message: 'B has both files whole',
      });
    } finally {
      await b?.stop();
      await a.stop();
    }
  }, 120_000);

  it('sends only bytes that still hash to the lost block: a file changed since it was indexed is not a source', async () => {
    const folder = path.join(tmp.dir, 'c');
    mkdirSync(folder);
    const store = openStore(path.join(tmp.dir, 'c.db'));
    const client = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'c-device' });
    try {
      store.folders.add({ id: 'c', localRoot: folder, remoteId: 'c' });
      const kept = Buffer.from('kept as indexed');
      const changed = Buffer.from('changed after it was indexed');
      const tail = randomBytes(500);
      const twoBlocks = Buffer.concat([randomBytes(BLOCK_SIZE), tail]);
      writeFileSync(path.join(folder, 'kept.txt'), kept);
      writeFileSync(path.join(folder, 'changed.txt'), 'something else now');
      writeFileSync(path.join(folder, 'two.bin'), twoBlocks);
      const put = (p: string, data: Buffer, blocks: string[]) =>
        store.index.putLocal({ folderId: 'c', path: p, kind: 'file', size: data.length, mtimeMs: 1, inode: null, contentHash: sha256(data), blocks });
      put('kept.txt', kept, [sha256(kept)]);
      put('changed.txt', changed, [sha256(changed)]);
      put('two.bin', twoBlocks, [sha256(twoBlocks.subarray(0, BLOCK_SIZE)), sha256(tail)]);
      const resender = new LostBlockResender({ store, remote: () => client, timers: realTimers, log: createLogger('test:lost-blocks') });

      const wanted = [sha256(kept), sha256(changed), sha256(tail)];
      expect(await resender.resend('c', wanted)).toEqual({ sent: 2, notHere: 1 });
      // The second block of two.bin is read from its place in the file.
      expect(await client.missingBlocks(wanted)).toEqual([sha256(changed)]);
      // Not looked for again at once: the folder's rows were all read for it, and what went is on the server.
      expect(await resender.resend('c', wanted)).toEqual({ sent: 0, notHere: 0 });
    } finally {
      client.close();
      store.close();
    }
  });
});
