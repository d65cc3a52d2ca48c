import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE, DeviceReportReply, FetchBlocksRequest, decodeBlockFrames } from '../../protocol';
import { runAccountsCommand } from '../../server/accounts-cli';
import { LOOK_AGAIN_MS } from '../../server/lost-blocks';
import { commitBatch, del, newFolder, serversPerTest, sha256, tableRows, testFile, upsert, type TestServer } from '../helpers/server-harness';

// Lost blocks (docs/sync-api.md, "Lost blocks"): a block a version refers to whose bytes are
// gone from the store is noticed by the read that misses it, and named to every device reporting
// on a folder that refers to it, until one uploads it again. On disk and (vitest project
// `postgres`) in an S3 bucket; a lost pack of the disk store: server-gc-pack-race.test.ts.

const servers = serversPerTest();
const DEVICE = 'a1b2c3d4-0000-4000-8000-00000000000a';
const report = { name: 'laptop', version: 'ferry/test', pending: 0, failedCount: 0, failures: [] };

async function reportOn(t: TestServer, folderId: string): Promise<DeviceReportReply> {
  const res = await t.request('PUT', `/v1/folders/${folderId}/devices/${DEVICE}`, { body: report, headers: { 'x-ferry-device': DEVICE } });
  expect(res.status).toBe(200);
  return DeviceReportReply.parse(res.body);
}

async function fetchBlocks(t: TestServer, hashes: string[]): Promise<Array<Buffer | null>> {
  const res = await fetch(`${t.server.url}/v1/blocks/fetch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.server.token}`, 'content-type': 'application/json', 'x-ferry-device': DEVICE, 'x-ferry-run': 'test;2024-01-01T00:00:00Z' },
    body: JSON.stringify(FetchBlocksRequest.parse({ hashes })),
  });
  expect(res.status).toBe(200);
  const decoded = decodeBlockFrames(Buffer.from(await res.arrayBuffer()), { allowAbsent: true, maxFrames: hashes.length });
  if (!decoded.ok) throw new Error(decoded.reason);
  return decoded.frames.map((f) => (f.data === null ? null : Buffer.from(f.data)));
}

/** `ferry_blocks_lost` on /metrics: what an operator alerts on. */
async function lostGauge(t: TestServer): Promise<number> {
  const text = await (await fetch(`${t.server.url}/metrics`)).text();
  return Number(/^ferry_blocks_lost (\d+)$/m.exec(text)?.[1]);
}

/** A folder with `name` committed, its block uploaded whole (a block file, or a bucket object). */
async function committed(t: TestServer, name: string, content: string) {
  const folderId = await newFolder(t, 'lost');
  const file = testFile(content);
  expect((await t.request('PUT', `/v1/blocks/${file.hash}`, { raw: file.data })).status).toBe(201);
  const result = (await commitBatch(t, folderId, [upsert('k', name, file, null)])).k!;
  if (!result.ok) throw new Error(JSON.stringify(result));
  return { folderId, file, revision: result.revision };
}

/** `ferry server lost-blocks` against this server's database, as an operator runs it. */
async function lostBlocksCli(t: TestServer, ...flags: string[]): Promise<string> {
  let out = '';
  const code = await runAccountsCommand(['lost-blocks', ...flags, ...t.accountFlags], { out: (s) => void (out += s), err: (s) => void (out += s) });
  expect(code, out).toBe(0);
  return out;
}

describe('lost blocks', () => {
  // Chaos seed 233 (--backend postgres): s3rver truncates an object when it is written again and
  // kept a partial one; a commit naming it was refused as invalid_request for ever (its size did
  // not add up). A damaged block is named missing, and its upload writes it whole.
  it('a block stored at the wrong size is named missing by the commit and written whole by its upload (chaos seed 233)', async () => {
    const t = await servers.started();
    const folderId = await newFolder(t, 'damaged');
    const data = randomBytes(BLOCK_SIZE + 1000);
    const blocks = [data.subarray(0, BLOCK_SIZE), data.subarray(BLOCK_SIZE)].map((d) => ({ data: Buffer.from(d), hash: sha256(d) }));
    for (const b of blocks) expect((await t.request('PUT', `/v1/blocks/${b.hash}`, { raw: b.data })).status).toBe(201);
    await t.truncateStoredBlock(blocks[1]!.hash, 500);
    const op = { key: 'k', action: 'upsert', path: 'a.tar.gz', size: data.length, mtime: 1_700_000_000_000, blocks: blocks.map((b) => b.hash), baseRevision: null };

    // Refused as invalid_request no more: the damaged block is missing, the whole one is not.
    expect((await commitBatch(t, folderId, [op])).k).toMatchObject({ ok: false, code: 'missing_blocks', missing: [blocks[1]!.hash] });
    expect((await t.request('PUT', `/v1/blocks/${blocks[1]!.hash}`, { raw: blocks[1]!.data })).status).toBe(201);
    expect((await commitBatch(t, folderId, [op])).k).toMatchObject({ ok: true });
    expect(await fetchBlocks(t, [blocks[1]!.hash])).toEqual([blocks[1]!.data]);
    // Blocks that check out: a size that does not add up is the device's mistake.
    expect((await commitBatch(t, folderId, [{ ...op, key: 'bad', path: 'other.gz', size: data.length - 10 }])).bad).toMatchObject({ ok: false, code: 'invalid_request' });
  });


  it('a block read and found gone is named in the report replies of its folder until it is uploaded again, then never again', async () => {
    let now = Date.now();
    const t = await servers.started({ clock: () => now });
    const { folderId, file } = await committed(t, 'report.pdf', 'the quarterly report');
    const other = await committed(t, 'other.txt', 'another folder, not affected');
    expect((await reportOn(t, folderId)).wantedBlocks).toBeUndefined();

    await t.removeStoredBlock(file.hash);
    // The batch fetch misses it: absent in the reply, and the server takes note.
    expect(await fetchBlocks(t, [file.hash, other.file.hash])).toEqual([null, other.file.data]);
    expect((await reportOn(t, folderId)).wantedBlocks).toEqual([file.hash]);
    expect(await lostGauge(t)).toBe(1);
    // Only the folders that refer to it ask for it.
    expect((await reportOn(t, other.folderId)).wantedBlocks).toBeUndefined();
    // The store says it is missing, so an upload stores it.
    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes: [file.hash] } })).body.missing).toEqual([file.hash]);

    expect((await t.request('PUT', `/v1/blocks/${file.hash}`, { raw: file.data })).status).toBe(201);
    // The store is asked again about a block still missing at most every LOOK_AGAIN_MS.
    now += LOOK_AGAIN_MS;
    expect((await reportOn(t, folderId)).wantedBlocks).toBeUndefined();
    expect(await lostGauge(t)).toBe(0);
    expect(await fetchBlocks(t, [file.hash])).toEqual([file.data]);
    expect((await reportOn(t, folderId)).wantedBlocks).toBeUndefined();
  });

  // Last session's note: a lost block no running device holds stayed lost with no way to see
  // which files it takes down. The operator's listing names them, so they can be restored.
  it('ferry server lost-blocks names each lost block with the live files that need it, and nothing once it is back', async () => {
    let now = Date.now();
    const t = await servers.started({ clock: () => now });
    const { folderId, file, revision } = await committed(t, 'report.pdf', 'the quarterly report');
    const copy = (await commitBatch(t, folderId, [upsert('c', 'old/copy.pdf', file, null)])).c!;
    if (!copy.ok) throw new Error(JSON.stringify(copy));
    expect(await lostBlocksCli(t)).toBe('No lost blocks\n');

    await t.removeStoredBlock(file.hash);
    expect(await fetchBlocks(t, [file.hash])).toEqual([null]);
    const text = await lostBlocksCli(t);
    expect(text).toMatch(/^1 block lost\. Each comes back once a device that holds the same bytes reports on its folder/);
    expect(text).toMatch(/^BLOCK\s+NOTICED\s+FILES$/m);
    expect(text).toContain(`${file.hash.slice(0, 16)}  `);
    expect(text).toContain(`${folderId}/old/copy.pdf (revision ${copy.revision}), ${folderId}/report.pdf (revision ${revision})`);
    // A file deleted since no longer needs it; the listing says so in JSON too.
    const gone = (await commitBatch(t, folderId, [del('d', 'old/copy.pdf', copy.revision)])).d!;
    expect(gone.ok).toBe(true);
    expect(JSON.parse(await lostBlocksCli(t, '--json'))).toEqual([
      { hash: file.hash, noticedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), files: [{ folderId, path: 'report.pdf', revision }] },
    ]);

    // Uploaded again, and looked at again by the next report: not lost any more.
    expect((await t.request('PUT', `/v1/blocks/${file.hash}`, { raw: file.data })).status).toBe(201);
    now += LOOK_AGAIN_MS;
    expect((await reportOn(t, folderId)).wantedBlocks).toBeUndefined();
    expect(await lostBlocksCli(t)).toBe('No lost blocks\n');
  });

  it('a single block read (GET /v1/blocks/{hash}) that misses it notices it the same way: 404 not_found', async () => {
    const t = await servers.started();
    const { folderId, file } = await committed(t, 'photo.jpg', 'a photo');
    await t.removeStoredBlock(file.hash);
    const res = await t.request('GET', `/v1/blocks/${file.hash}`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
    expect((await reportOn(t, folderId)).wantedBlocks).toEqual([file.hash]);
  });

  it('records nothing for a hash no version ever referred to', async () => {
    const t = await servers.started();
    const { folderId } = await committed(t, 'a.txt', 'a');
    const never = testFile('never uploaded, never committed');
    expect(await fetchBlocks(t, [never.hash])).toEqual([null]);
    expect(await tableRows(t, ['lost_blocks'])).toEqual([[]]);
    expect((await reportOn(t, folderId)).wantedBlocks).toBeUndefined();
  });

  it('garbage collection forgets a lost block no retained version refers to any more: nobody needs it back', async () => {
    let now = Date.now();
    const t = await servers.started({ clock: () => now, keepVersionsMs: 1000, gcIntervalMs: 0, gcGraceMs: 0 });
    const { folderId, file, revision } = await committed(t, 'draft.txt', 'a draft');
    await t.removeStoredBlock(file.hash);
    expect(await fetchBlocks(t, [file.hash])).toEqual([null]);
    expect((await reportOn(t, folderId)).wantedBlocks).toEqual([file.hash]);
    // Deleted, and its versions past retention: nothing refers to the block.
    expect((await commitBatch(t, folderId, [del('d', 'draft.txt', revision)])).d?.ok).toBe(true);
    now += 10_000;
    await t.server.collectGarbage();
    expect((await reportOn(t, folderId)).wantedBlocks).toBeUndefined();
  });
});
