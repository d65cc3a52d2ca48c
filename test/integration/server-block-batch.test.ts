import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ABSENT_BLOCK, BLOCK_FRAMES_TYPE, MAX_BLOCK_BATCH_BYTES, PutBlocksReply, decodeBlockFrames, encodeBlockFrames } from '../../protocol';
import { TEST_BACKEND } from '../helpers/backends';
import { sha256, startTestServer, upsert, type TestServer } from '../helpers/server-harness';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.close());

const block = (content: Buffer | string) => {
  const data = Buffer.from(content);
  return { hash: sha256(data), data };
};

const postFrames = (body: Buffer) => t.request('POST', '/v1/blocks/batch', { raw: body, headers: { 'content-type': BLOCK_FRAMES_TYPE } });

async function fetchRaw(hashes: string[]): Promise<{ status: number; type: string | null; body: Buffer }> {
  const res = await fetch(`${t.server.url}/v1/blocks/fetch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ hashes }),
  });
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}

describe('POST /v1/blocks/batch', () => {
  it('stores every block of a framed body in one pack, once per distinct hash, readable by GET and fetch', async () => {
    const a = block(randomBytes(4096));
    const b = block(`b ${randomUUID()}`);
    const empty = block('');
    const res = await postFrames(encodeBlockFrames([a, b, a, empty]));
    expect(res.status).toBe(200);
    expect(PutBlocksReply.parse(res.body).blocks).toEqual([
      { hash: a.hash, size: 4096, stored: true },
      { hash: b.hash, size: b.data.length, stored: true },
      { hash: empty.hash, size: 0, stored: true },
    ]);
    for (const x of [a, b, empty]) {
      const res = await fetch(`${t.server.url}/v1/blocks/${x.hash}`, { headers: { authorization: `Bearer ${t.server.token}` } });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(x.data);
    }
    if (TEST_BACKEND === 'postgres') {
      // The bucket holds each block as an object of its own, whole.
      for (const x of [a, b, empty]) expect(await t.storedBlock(x.hash)).toEqual(x.data);
    } else {
      // One pack holds the batch (no file per block).
      const packs = await fs.readdir(path.join(t.dataDir, 'blocks', 'packs'));
      const packBytes = await Promise.all(packs.map((p) => fs.readFile(path.join(t.dataDir, 'blocks', 'packs', p))));
      expect(packBytes.some((p) => p.equals(Buffer.concat([a.data, b.data])))).toBe(true);
      await expect(fs.access(path.join(t.dataDir, 'blocks', a.hash.slice(0, 2), a.hash.slice(2, 4), a.hash))).rejects.toThrow();
    }
    // No temp file of the upload is left behind.
    expect(await t.uploadLeftovers()).toEqual([]);
    // A repeat is harmless: nothing new is stored.
    const again = await postFrames(encodeBlockFrames([a, b]));
    expect(again.body.blocks.map((x: { stored: boolean }) => x.stored)).toEqual([false, false]);
  });

  it('refuses a batch with a wrong block with 422 naming its hash, storing none of it', async () => {
    const good = block(`good ${randomUUID()}`);
    const bad = { hash: sha256(`claimed ${randomUUID()}`), data: Buffer.from('other bytes') };
    const res = await postFrames(encodeBlockFrames([good, bad]));
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'hash_mismatch', hash: bad.hash });
    expect(res.body.message).toContain(bad.hash);
    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes: [good.hash, bad.hash] } })).body.missing).toEqual([good.hash, bad.hash]);
  });

  it('refuses a truncated or malformed frame with 400', async () => {
    const a = block(`trunc ${randomUUID()}`);
    const whole = encodeBlockFrames([a]);
    for (const body of [whole.subarray(0, whole.length - 1), whole.subarray(0, 30), Buffer.concat([Buffer.from('Z'.repeat(64)), whole.subarray(64)])]) {
      const res = await postFrames(body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('invalid_request');
    }
    const absentFrame = Buffer.alloc(68);
    absentFrame.write(a.hash, 0, 'latin1');
    absentFrame.writeUInt32BE(ABSENT_BLOCK, 64);
    expect((await postFrames(absentFrame)).status).toBe(400);
    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes: [a.hash] } })).body.missing).toEqual([a.hash]);
  });

  it('answers 413 to a body over the batch limit', async () => {
    const res = await postFrames(Buffer.alloc(MAX_BLOCK_BATCH_BYTES + 1));
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('payload_too_large');
  });

  it('keeps no idempotency record: the same tracking id serves another request afterwards', async () => {
    const id = randomUUID();
    const a = block(`idem ${randomUUID()}`);
    expect((await t.request('POST', '/v1/blocks/batch', { raw: encodeBlockFrames([a]), trackingId: id })).status).toBe(200);
    expect((await t.request('POST', '/v1/blocks/batch', { raw: encodeBlockFrames([block(`other ${randomUUID()}`)]), trackingId: id })).status).toBe(200);
  });

  it('blocks uploaded in a batch can be committed and read back after a restart', async () => {
    const a = block(`commit ${randomUUID()}`);
    expect((await postFrames(encodeBlockFrames([a]))).status).toBe(200);
    await t.request('PUT', '/v1/folders/batchcommit');
    const res = await t.request('POST', '/v1/folders/batchcommit/sync', { body: { operations: [upsert('k', 'a.txt', a, null)] } });
    expect(res.body.results.k.ok).toBe(true);
    await t.restart();
    const fetched = await fetchRaw([a.hash]);
    const decoded = decodeBlockFrames(fetched.body, { allowAbsent: true, maxFrames: 1 });
    expect(decoded).toEqual({ ok: true, frames: [{ hash: a.hash, data: a.data }] });
  });
});

describe('POST /v1/blocks/fetch', () => {
  it('answers the requested blocks in order, marking unknown ones absent', async () => {
    const a = block(randomBytes(3000));
    const b = block(`fetch b ${randomUUID()}`);
    await postFrames(encodeBlockFrames([a, b]));
    const unknown = sha256(`unknown ${randomUUID()}`);
    const res = await fetchRaw([b.hash, unknown, a.hash]);
    expect(res.status).toBe(200);
    expect(res.type).toBe(BLOCK_FRAMES_TYPE);
    expect(decodeBlockFrames(res.body, { allowAbsent: true, maxFrames: 3 })).toEqual({
      ok: true,
      frames: [
        { hash: b.hash, data: b.data },
        { hash: unknown, data: null },
        { hash: a.hash, data: a.data },
      ],
    });
  });

  it('refuses malformed requests with 400', async () => {
    expect((await t.request('POST', '/v1/blocks/fetch', { body: { hashes: [] } })).status).toBe(400);
    expect((await t.request('POST', '/v1/blocks/fetch', { body: { hashes: ['xyz'] } })).body.code).toBe('invalid_request');
    expect((await t.request('POST', '/v1/blocks/fetch', { body: { hashes: [sha256('x')], more: 1 } })).status).toBe(400);
  });

  it('stops a reply at the size cap; the rest is asked for again', async () => {
    const big = [0, 1, 2, 3, 4].map((i) => block(Buffer.alloc(4 * 1024 * 1024, i)));
    for (const b of big) expect((await t.request('PUT', `/v1/blocks/${b.hash}`, { raw: b.data })).status).toBeLessThan(300);
    const res = await fetchRaw(big.map((b) => b.hash));
    const decoded = decodeBlockFrames(res.body, { allowAbsent: true, maxFrames: 5 });
    if (!decoded.ok) throw new Error(decoded.reason);
    expect(decoded.frames.map((f) => f.hash)).toEqual(big.slice(0, 4).map((b) => b.hash));
    expect(res.body.length).toBeLessThanOrEqual(MAX_BLOCK_BATCH_BYTES + 4 * 68);
  });
});
