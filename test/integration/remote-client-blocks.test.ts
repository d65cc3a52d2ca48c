import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_FRAME_HEADER_BYTES, BLOCK_FRAMES_TYPE, BlockFrameWriter, FerryError, encodeBlockFrames } from '../../protocol';
import { SyncApiClient } from '../../main/remote';
import { sha256, startTestServer, type TestServer } from '../helpers/server-harness';

let t: TestServer;
let client: SyncApiClient;
let hostileServer: Server;
let hostile: SyncApiClient;
let reply: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();

beforeAll(async () => {
  t = await startTestServer();
  client = new SyncApiClient({ baseUrl: t.server.url, token: t.server.token, deviceId: 'laptop-1', runName: 'tests' });
  hostileServer = createServer((req, res) => {
    req.resume();
    req.on('end', () => reply(req, res));
  });
  await new Promise<void>((resolve) => hostileServer.listen(0, '127.0.0.1', resolve));
  hostile = new SyncApiClient({ baseUrl: `http://127.0.0.1:${(hostileServer.address() as AddressInfo).port}`, token: 't', deviceId: 'd' });
});
afterAll(async () => {
  client.close();
  hostile.close();
  await new Promise((resolve) => hostileServer.close(resolve));
  await t.close();
});

async function failure(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FerryError);
    return error as FerryError;
  }
  throw new Error('expected a failure');
}

const block = (data: Buffer | string) => ({ hash: sha256(Buffer.from(data)), data: Buffer.from(data) });
const frames = (body: Buffer) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': BLOCK_FRAMES_TYPE, 'content-length': body.length });
  res.end(body);
};

describe('batched block transfer against the reference server', () => {
  it('uploads many blocks in one request and fetches them back verified, absent ones as null', async () => {
    const blocks = Array.from({ length: 300 }, () => block(randomBytes(1000 + Math.floor(Math.random() * 5000))));
    const put = await client.putBlocks(blocks);
    expect(put.blocks).toHaveLength(300);
    expect(put.blocks.every((b) => b.stored)).toBe(true);
    expect(await client.missingBlocks(blocks.map((b) => b.hash))).toEqual([]);
    const unknown = sha256(`unknown ${randomUUID()}`);
    const got = await client.fetchBlocks([...blocks.map((b) => b.hash), unknown]);
    expect(got.size).toBe(301);
    for (const b of blocks) expect(got.get(b.hash)).toEqual(b.data);
    expect(got.get(unknown)).toBeNull();
  });

  it('uploads frames written in place (BlockFrameWriter): a frame left without keep() is written over and never sent', async () => {
    const blocks = Array.from({ length: 50 }, () => block(randomBytes(100 + Math.floor(Math.random() * 4000))));
    const dropped = block(randomBytes(3000));
    const writer = new BlockFrameWriter(Buffer.alloc(blocks.reduce((n, b) => n + BLOCK_FRAME_HEADER_BYTES + b.data.length, 0)));
    for (const [i, b] of blocks.entries()) {
      if (i === 10) writer.slot(dropped.data.length).set(dropped.data); // read, then found changed: not kept
      writer.slot(b.data.length).set(b.data);
      writer.keep(b.hash, b.data.length);
    }
    expect(writer.body().equals(encodeBlockFrames(blocks))).toBe(true);
    expect(() => writer.slot(1)).toThrow(RangeError);
    const put = await client.putBlocks(writer);
    expect(put.blocks.map((b) => b.hash)).toEqual(blocks.map((b) => b.hash));
    expect(await client.missingBlocks(blocks.map((b) => b.hash))).toEqual([]);
    expect(await client.missingBlocks([dropped.hash])).toEqual([dropped.hash]);
  });

  it('asks again for what a capped reply left out', async () => {
    const big = [5, 6, 7, 8, 9].map((i) => block(Buffer.alloc(4 * 1024 * 1024, i)));
    for (const b of big) await client.putBlock(b.hash, b.data);
    const got = await client.fetchBlocks(big.map((b) => b.hash));
    expect([...got.keys()]).toEqual(big.map((b) => b.hash));
    // Buffer.equals: a deep toEqual walks 4 MiB element by element (seconds under load).
    expect(big.every((b) => got.get(b.hash)?.equals(b.data))).toBe(true);
  });

  it('turns a wrong block in an upload into a non-retryable hash_mismatch naming it', async () => {
    const bad = { hash: sha256('what it should be'), data: Buffer.from('what it is') };
    const e = await failure(client.putBlocks([block(`ok ${randomUUID()}`), bad]));
    expect(e).toMatchObject({ code: 'hash_mismatch', status: 422, retryable: false });
    expect(e.details).toMatchObject({ hash: bad.hash });
  });
});

describe('batched fetch from a hostile server', () => {
  const a = block('block a');
  const b = block('block b');

  it('refuses a reply whose bytes do not match their hash (retryable hash_mismatch)', async () => {
    reply = frames(encodeBlockFrames([{ hash: a.hash, data: Buffer.from('not a') }]));
    expect(await failure(hostile.fetchBlocks([a.hash]))).toMatchObject({ code: 'hash_mismatch', retryable: true });
  });

  it('refuses truncated, reordered, foreign or empty replies as retryable malformed_reply', async () => {
    const whole = encodeBlockFrames([a, b]);
    for (const body of [whole.subarray(0, whole.length - 2), whole.subarray(0, 70), encodeBlockFrames([b, a]), encodeBlockFrames([a, block('c')]), Buffer.alloc(0)]) {
      reply = frames(body);
      expect(await failure(hostile.fetchBlocks([a.hash, b.hash]))).toMatchObject({ code: 'malformed_reply', retryable: true });
    }
    reply = frames(encodeBlockFrames([a, b, b]));
    expect(await failure(hostile.fetchBlocks([a.hash, b.hash]))).toMatchObject({ code: 'malformed_reply' });
  });

  it('passes HTTP errors through with their code (404 from a server without the extension)', async () => {
    reply = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'not_found', message: 'No such endpoint' }));
    };
    expect(await failure(hostile.fetchBlocks([a.hash]))).toMatchObject({ code: 'not_found', status: 404, retryable: false });
    expect(await failure(hostile.putBlocks([a]))).toMatchObject({ code: 'not_found', status: 404 });
  });
});
