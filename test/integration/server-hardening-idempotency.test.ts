import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testFile, upsert, type TestServer } from '../helpers/server-harness';

// Issue 23 items 7 and 8: one idempotency store for every kind of idempotent request, keyed
// on what the request means (decoded path parameters, parsed body), and operation keys that
// are always data.

let t: TestServer;
const hello = testFile('hello');
beforeAll(async () => {
  t = await startTestServer();
  await t.request('PUT', `/v1/blocks/${hello.hash}`, { raw: hello.data });
});
afterAll(async () => {
  await t.close();
});

async function folder(): Promise<string> {
  const id = `f-${randomUUID().slice(0, 8)}`;
  expect((await t.request('PUT', `/v1/folders/${id}`)).status).toBe(201);
  return id;
}

describe('tracking ids across request kinds (issue 23 item 7)', () => {
  it('refuses a batch that reuses the tracking id of a folder PUT', async () => {
    const id = await folder();
    const trackingId = randomUUID();
    expect((await t.request('PUT', '/v1/folders/other-1', { trackingId })).status).toBe(201);
    const batch = await t.request('POST', `/v1/folders/${id}/sync`, { body: { operations: [upsert('k', 'a.txt', hello, null)] }, trackingId });
    expect(batch.status).toBe(422);
    expect(batch.body.code).toBe('tracking_id_reused');
    // Nothing was applied.
    expect((await t.request('GET', `/v1/folders/${id}/changes`)).body.items).toEqual([]);
  });

  it('refuses a folder PUT that reuses the tracking id of a batch', async () => {
    const id = await folder();
    const trackingId = randomUUID();
    expect((await t.request('POST', `/v1/folders/${id}/sync`, { body: { operations: [upsert('k', 'a.txt', hello, null)] }, trackingId })).status).toBe(200);
    const put = await t.request('PUT', '/v1/folders/other-2', { trackingId });
    expect(put.status).toBe(422);
    expect(put.body.code).toBe('tracking_id_reused');
    expect((await t.request('GET', '/v1/folders/other-2')).status).toBe(404);
  });

  it('replays a folder PUT whose folder id is percent-encoded differently, or whose JSON is spelled differently', async () => {
    const trackingId = randomUUID();
    const first = await t.request('PUT', '/v1/folders/t4', { raw: '{"label":"Four"}', trackingId });
    expect(first.status).toBe(201);
    const encoded = await t.request('PUT', '/v1/folders/t%34', { raw: '{ "label" :\n "Four" }', trackingId });
    expect(encoded.status).toBe(201); // the first answer again, not 422
    expect(encoded.body).toEqual(first.body);
    const different = await t.request('PUT', '/v1/folders/t4', { raw: '{"label":"Five"}', trackingId });
    expect(different.status).toBe(422);
  });

  it('finds the same task for a batch resent with other whitespace, key order or mode', async () => {
    const id = await folder();
    const trackingId = randomUUID();
    const op = upsert('k', 'b.txt', hello, null);
    const first = await t.request('POST', `/v1/folders/${id}/sync`, { raw: JSON.stringify({ operations: [op] }), trackingId });
    expect(first.status).toBe(200);
    const reordered = Object.fromEntries(Object.entries(op).reverse());
    const again = await t.request('POST', `/v1/folders/${id}/sync?mode=async`, { raw: `{ "operations" : [ ${JSON.stringify(reordered, null, 2)} ] }`, trackingId });
    expect(again.status).toBe(202);
    expect(again.body.taskId).toBe(first.body.taskId);
    const single = await t.request('POST', `/v1/folders/${id}/sync`, { raw: JSON.stringify({ operations: [op] }), trackingId, headers: { 'single-operation': '1' } });
    expect(single.status).toBe(422);
  });
});

describe('operation keys (issue 23 item 8)', () => {
  it('refuses __proto__, lone surrogates and control characters, and answers every accepted key under its own name', async () => {
    const id = await folder();
    for (const key of ['__proto__', 'a\ud800', 'a\udc00', 'tab\there', 'nel\u0085', '', 'x'.repeat(257)]) {
      const res = await t.request('POST', `/v1/folders/${id}/sync`, { body: { operations: [upsert(key, `k-${randomUUID()}.txt`, hello, null)] } });
      expect({ key, status: res.status, code: res.body.code }).toEqual({ key, status: 400, code: 'invalid_request' });
    }
    expect((await t.request('GET', `/v1/folders/${id}/changes`)).body.items).toEqual([]);
    const keys = ['a', 'constructor', 'toString', 'hasOwnProperty', '1.2.u', 'op:9_x-y', 'dir-0-a/b', 'a b', 'ключ', 'emoji-\u{1f600}', '_proto_'];
    const res = await t.request('POST', `/v1/folders/${id}/sync`, { body: { operations: keys.map((k, i) => upsert(k, `p${i}.txt`, hello, null)) } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.results).sort()).toEqual([...keys].sort());
    for (const k of keys) expect(Object.prototype.hasOwnProperty.call(res.body.results, k) && res.body.results[k].ok).toBe(true);
  });
});
