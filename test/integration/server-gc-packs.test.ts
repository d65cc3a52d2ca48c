import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeBlockFrames } from '../../protocol';
import { commitBatch, newFolder, serversPerTest, sha256, type TestFile, type TestServer, upsert } from '../helpers/server-harness';

// Garbage collection of the disk store's packs (a block batch goes to one pack file under
// <dataDir>/blocks/packs): whole packs of garbage removed, packs that are mostly garbage
// rewritten. Disk only: a bucket keeps each block as an object of its own, and the rest of
// garbage collection (test/integration/server-gc.test.ts) runs on both backends.

const servers = serversPerTest();
const file = (data: Buffer): TestFile => ({ data, hash: sha256(data) });

const folder = (t: TestServer) => newFolder(t, 'p');
const commit = commitBatch;

/** Files of one block each, uploaded as one block batch (one pack) and committed. */
async function packed(t: TestServer, folderId: string, sizes: number[]) {
  const files = sizes.map((size) => file(randomBytes(size)));
  const res = await t.request('POST', '/v1/blocks/batch', { raw: encodeBlockFrames(files), headers: { 'content-type': 'application/vnd.ferry.blocks' } });
  expect(res.status).toBe(200);
  const results = await commit(t, folderId, files.map((f, i) => upsert(`k${i}`, `p${i}.bin`, f, null)));
  return files.map((f, i) => ({ ...f, revision: (results[`k${i}`] as { revision: string }).revision }));
}

/** Overwrites files with loose blocks (one PUT each), so their packed blocks become garbage. */
async function overwrite(t: TestServer, folderId: string, which: Array<{ index: number; revision: string }>) {
  const ops = [];
  for (const { index, revision } of which) {
    const f = file(randomBytes(1000));
    expect((await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data })).status).toBe(201);
    ops.push(upsert(`k${index}`, `p${index}.bin`, f, revision));
  }
  await commit(t, folderId, ops);
}

const packDir = (t: TestServer) => path.join(t.dataDir, 'blocks', 'packs');

describe('garbage collection of packs (disk store)', () => {
  it('deletes a pack whose blocks are all garbage', async () => {
    let now = Date.UTC(2030, 0, 1);
    const t = await servers.started({ clock: () => now, keepVersionsMs: 1000, gcIntervalMs: 0, gcGraceMs: 0 });
    const id = await folder(t);
    const files = await packed(t, id, [64 * 1024, 32 * 1024, 16 * 1024]);
    expect(await fs.readdir(packDir(t))).toHaveLength(1);
    await overwrite(t, id, files.map((f, index) => ({ index, revision: f.revision })));
    now += 10_000;
    const report = await t.server.collectGarbage();
    expect(report.packsDeleted).toBe(1);
    expect(report.packsCompacted).toBe(0);
    expect(report.blocksCollected).toBe(3);
    expect(report.bytesFreed).toBe(112 * 1024);
    expect(await fs.readdir(packDir(t))).toEqual([]);
  });

  it('rewrites a pack that is mostly garbage, keeping its live blocks readable', async () => {
    let now = Date.UTC(2030, 0, 1);
    const t = await servers.started({ clock: () => now, keepVersionsMs: 1000, gcIntervalMs: 0, gcGraceMs: 0 });
    const id = await folder(t);
    const files = await packed(t, id, [64 * 1024, 64 * 1024, 64 * 1024, 64 * 1024]);
    // p1-p3 are overwritten with loose blocks: 3/4 of the pack becomes garbage.
    await overwrite(t, id, [1, 2, 3].map((index) => ({ index, revision: files[index]!.revision })));
    now += 10_000;
    const packsBefore = await fs.readdir(packDir(t));
    const report = await t.server.collectGarbage();
    const packsAfter = await fs.readdir(packDir(t));
    expect(report.packsCompacted).toBe(1);
    expect(packsAfter).toHaveLength(1);
    expect(packsAfter[0]).not.toBe(packsBefore[0]);
    expect((await fs.stat(path.join(packDir(t), packsAfter[0]!))).size).toBe(64 * 1024);
    const kept = files[0]!;
    const res = await fetch(`${t.server.url}/v1/blocks/${kept.hash}`, { headers: { authorization: `Bearer ${t.server.token}` } });
    expect(Buffer.from(await res.arrayBuffer()).equals(kept.data)).toBe(true);
  });
});
