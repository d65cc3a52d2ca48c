import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_SIZE, PutBlockReply } from '../../protocol';
import { sha256, startTestServer, testFile, type TestServer } from '../helpers/server-harness';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ maxBodyBytes: 64 * 1024 });
});
afterAll(async () => t.close());

describe('authentication and headers', () => {
  it('answers 401 to a missing or wrong token on every route, leaking nothing', async () => {
    for (const [method, url] of [
      ['GET', '/v1/folders'],
      ['GET', '/v1/no/such/route'],
      ['PUT', `/v1/blocks/${'0'.repeat(64)}`],
      ['GET', '/v1/tasks/whatever'],
    ] as const) {
      for (const token of [null, 'wrong-token', t.server.token + 'x']) {
        const res = await t.request(method, url, { token, raw: method === 'PUT' ? 'data' : undefined });
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ code: 'unauthorized', message: 'Missing or invalid token' });
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    }
  });

  it('echoes X-Tracking-Id and makes one up when none is sent', async () => {
    const id = randomUUID();
    const res = await t.request('GET', '/v1/folders', { trackingId: id });
    expect(res.headers.get('x-tracking-id')).toBe(id);
    const other = await t.request('GET', '/v1/folders');
    expect(other.headers.get('x-tracking-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses malformed correlation headers', async () => {
    expect((await t.request('GET', '/v1/folders', { headers: { 'x-tracking-id': 'bad id with spaces' } })).status).toBe(400);
    expect((await t.request('GET', '/v1/folders', { headers: { 'x-ferry-device': 'x'.repeat(200) } })).body.code).toBe('invalid_request');
  });

  it('answers 404 for unknown endpoints and 405 for a wrong method', async () => {
    expect((await t.request('GET', '/v2/folders')).body.code).toBe('not_found');
    expect((await t.request('DELETE', '/v1/folders')).status).toBe(405);
  });
});

describe('blocks', () => {
  it('stores a block once, reads it back and reports what is missing', async () => {
    const f = testFile(`block ${randomUUID()}`);
    const absent = sha256('never uploaded ' + randomUUID());
    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes: [f.hash, absent] } })).body).toEqual({ missing: [f.hash, absent] });

    const first = await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data });
    expect(first.status).toBe(201);
    expect(PutBlockReply.parse(first.body)).toEqual({ hash: f.hash, size: f.data.length, stored: true });
    const again = await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data });
    expect(again.status).toBe(200);
    expect(again.body.stored).toBe(false);

    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes: [f.hash, absent] } })).body).toEqual({ missing: [absent] });
    const res = await fetch(`${t.server.url}/v1/blocks/${f.hash}`, { headers: { authorization: `Bearer ${t.server.token}` } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(f.data);
    // Stored under its hash (a sharded folder, or the bucket), complete, with no temp file left behind.
    expect(await t.storedBlock(f.hash)).toEqual(f.data);
    expect(await t.uploadLeftovers()).toEqual([]);
  });

  it('refuses content that does not match its hash, leaving nothing stored', async () => {
    const f = testFile('the real content');
    const res = await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: 'something else' });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('hash_mismatch');
    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes: [f.hash] } })).body.missing).toEqual([f.hash]);
    expect(await t.storedBlock(f.hash)).toBeNull();
    expect(await t.uploadLeftovers()).toEqual([]);
  });

  it('refuses blocks over 4 MiB with 413', async () => {
    const big = Buffer.alloc(BLOCK_SIZE + 1, 7);
    const res = await t.request('PUT', `/v1/blocks/${sha256(big)}`, { raw: big });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('payload_too_large');
  });

  it('refuses malformed block addresses and answers 404 for unknown blocks', async () => {
    expect((await t.request('GET', '/v1/blocks/not-a-hash')).status).toBe(400);
    expect((await t.request('GET', `/v1/blocks/${'A'.repeat(64)}`)).status).toBe(400);
    expect((await t.request('GET', `/v1/blocks/${sha256('nope' + randomUUID())}`)).status).toBe(404);
    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes: ['xyz'] } })).status).toBe(400);
    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes: [], more: true } })).body.code).toBe('invalid_request');
  });

  it('answers a repeated block PUT as success without an idempotency record (content-addressed)', async () => {
    const f = testFile(`replayed ${randomUUID()}`);
    const id = randomUUID();
    const first = await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data, trackingId: id });
    const second = await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data, trackingId: id });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ hash: f.hash, size: f.data.length, stored: false });
    // The same tracking id stays free for other requests: blocks keep no record of it.
    expect((await t.request('PUT', '/v1/folders/after-block-put', { trackingId: id })).status).toBe(201);
  });
});

describe('folders', () => {
  it('creates a folder once and lists it', async () => {
    const created = await t.request('PUT', '/v1/folders/photos', { body: { label: 'Photos' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'photos', label: 'Photos' });
    const again = await t.request('PUT', '/v1/folders/photos', { body: { label: 'Ignored' } });
    expect(again.status).toBe(200);
    expect(again.body.label).toBe('Photos');
    const empty = await t.request('PUT', '/v1/folders/music');
    expect(empty.status).toBe(201);
    const list = await t.request('GET', '/v1/folders');
    expect(list.body.folders.map((f: { id: string }) => f.id)).toEqual(expect.arrayContaining(['music', 'photos']));
    expect((await t.request('GET', '/v1/folders/photos')).body.id).toBe('photos');
    expect((await t.request('GET', '/v1/folders/unknown')).status).toBe(404);
  });

  it('refuses bad folder ids, unknown fields and bad JSON', async () => {
    expect((await t.request('PUT', '/v1/folders/.hidden')).status).toBe(400);
    expect((await t.request('PUT', '/v1/folders/has%20space')).status).toBe(400);
    expect((await t.request('PUT', '/v1/folders/%E0%A4%A')).status).toBe(400);
    expect((await t.request('PUT', '/v1/folders/ok', { body: { label: 'x', owner: 'me' } })).body.code).toBe('invalid_request');
    expect((await t.request('PUT', '/v1/folders/ok', { raw: '{not json', headers: { 'content-type': 'application/json' } })).status).toBe(400);
  });

  it('answers 413 to a JSON body over the limit', async () => {
    const res = await t.request('POST', '/v1/blocks/missing', { raw: JSON.stringify({ hashes: [], pad: 'x'.repeat(70 * 1024) }) });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('payload_too_large');
  });

  it('refuses a tracking id reused for a different request', async () => {
    const id = randomUUID();
    expect((await t.request('PUT', '/v1/folders/reuse-a', { trackingId: id })).status).toBe(201);
    const res = await t.request('PUT', '/v1/folders/reuse-b', { trackingId: id });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('tracking_id_reused');
    expect((await t.request('GET', '/v1/folders/reuse-b')).status).toBe(404);
  });
});
