import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server-harness';

// Issue 23 item 9 against the real server: hostile spellings are refused as invalid_path and
// nothing is stored; case twins and names only Windows refuses are stored as sent.
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  await t.request('PUT', '/v1/folders/docs');
});
afterAll(async () => {
  await t.close();
});

const dir = (key: string, path: string) => ({ key, action: 'upsert', kind: 'dir', path, mtime: 1, baseRevision: null });

describe('paths on the wire (issue 23 item 9)', () => {
  it.each(['c1\u0085', 'csi\u009b', 'rlo\u202eexe.txt', '.ferry.', '.ferry ', '.ferry:x'])('refuses %j with invalid_path and stores nothing', async (p) => {
    const res = await t.request('POST', '/v1/folders/docs/sync', { body: { operations: [dir('k', p)] } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_path');
    const items = (await t.request('GET', '/v1/folders/docs/changes')).body.items as Array<{ path: string }>;
    expect(items.map((i) => i.path)).not.toContain(p);
  });

  it('stores case twins of one batch and names Windows cannot hold, each as sent', async () => {
    const paths = ['Twin', 'twin', 'CON', 'nul.txt', 'dot.', 'note:stream'];
    const res = await t.request('POST', '/v1/folders/docs/sync', { body: { operations: paths.map((p, i) => dir(`k${i}`, p)) } });
    expect(res.status).toBe(200);
    expect(Object.values(res.body.results).every((r) => (r as { ok: boolean }).ok)).toBe(true);
    const items = (await t.request('GET', '/v1/folders/docs/changes')).body.items as Array<{ path: string }>;
    expect(items.map((i) => i.path).sort()).toEqual([...paths].sort());
  });
});
