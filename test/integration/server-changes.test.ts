import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangesPage, syncTokenFromHref, type ChangeItem } from '../../protocol';
import { del, startTestServer, testFile, upsert, type TestServer, type TestFile } from '../helpers/server-harness';

const DAY = 24 * 3600 * 1000;
let now = Date.UTC(2030, 0, 1);
let t: TestServer;
const files = Array.from({ length: 4 }, (_, i) => testFile(`content ${i}`));

beforeAll(async () => {
  t = await startTestServer({ clock: () => now, tokenTtlMs: 30 * DAY });
  for (const f of files) await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data });
});
afterAll(async () => t.close());

async function folder(): Promise<string> {
  const id = `c-${randomUUID().slice(0, 8)}`;
  await t.request('PUT', `/v1/folders/${id}`);
  return id;
}

async function apply(folderId: string, operations: unknown[]): Promise<Record<string, { ok: boolean; revision: string }>> {
  const res = await t.request('POST', `/v1/folders/${folderId}/sync?mode=sync`, { body: { operations } });
  expect(res.status).toBe(200);
  return res.body.results;
}

async function write(folderId: string, p: string, f: TestFile, base: string | null = null): Promise<string> {
  const r = (await apply(folderId, [upsert('k', p, f, base)])).k;
  expect(r?.ok).toBe(true);
  return r!.revision;
}

async function page(url: string) {
  const res = await t.request('GET', url);
  expect(res.status).toBe(200);
  return ChangesPage.parse(res.body);
}

/** Follows next links to the end; returns the items and the new sync token. */
async function readAll(folderId: string, syncToken?: string, limit = 1000, between?: (pageNo: number) => Promise<void>) {
  let url = `/v1/folders/${folderId}/changes?syncModifications=true&limit=${limit}` + (syncToken ? `&syncToken=${syncToken}` : '');
  const items: ChangeItem[] = [];
  for (let pageNo = 0; ; pageNo++) {
    const p = await page(url);
    items.push(...p.items);
    if (p._links.next) {
      await between?.(pageNo);
      url = p._links.next.href;
      continue;
    }
    return { items, token: syncTokenFromHref(p._links['upcoming-modifications']!.href)!, pages: pageNo + 1 };
  }
}

/** Applies items in order (the newest wins), as a client does. */
function replay(items: ChangeItem[], state = new Map<string, ChangeItem>()): Map<string, ChangeItem> {
  for (const item of items) {
    if (item.deleted) state.delete(item.path);
    else state.set(item.path, item);
  }
  return state;
}

describe('changes feed', () => {
  it('lists the full state without a token, then only what changed since', async () => {
    const id = await folder();
    const empty = await readAll(id);
    expect(empty.items).toEqual([]);
    const ra = await write(id, 'a.txt', files[0]!);
    await write(id, 'b.txt', files[1]!);
    const full = await readAll(id);
    expect(full.items.map((i) => i.path)).toEqual(['a.txt', 'b.txt']);
    expect(full.items[0]).toMatchObject({ size: files[0]!.data.length, blocks: [files[0]!.hash], deleted: false, device: 'test-device', mtime: 1_700_000_000_000 });
    expect(new Date(full.items[0]!.modificationDate).getTime()).toBe(now);

    const incrementalFromEmpty = await readAll(id, empty.token);
    expect(incrementalFromEmpty.items.map((i) => i.path)).toEqual(['a.txt', 'b.txt']);

    await write(id, 'a.txt', files[2]!, ra);
    await apply(id, [del('d', 'b.txt', full.items[1]!.revision)]);
    const since = await readAll(id, full.token);
    expect(since.items.map((i) => [i.path, i.deleted])).toEqual([
      ['a.txt', false],
      ['b.txt', true],
    ]);
    expect((await readAll(id, since.token)).items).toEqual([]);
    // A fresh full listing does not show deletions that happened before it started.
    expect((await readAll(id)).items.map((i) => i.path)).toEqual(['a.txt']);
  });

  it('pages with opaque cursors; a path changed between pages reappears with newer data', async () => {
    const id = await folder();
    const revs: Record<string, string> = {};
    for (let i = 0; i < 7; i++) revs[`f${i}`] = await write(id, `f${i}`, files[i % 2]!);
    const seenBefore = await readAll(id);
    const result = await readAll(id, undefined, 3, async (pageNo) => {
      if (pageNo === 0) {
        await write(id, 'f0', files[3]!, revs.f0!); // already listed on page 1: moves behind the cursor
        await apply(id, [del('d', 'f1', revs.f1!)]); // listed too: its tombstone must follow
        await write(id, 'new', files[2]!);
      }
    });
    expect(result.pages).toBeGreaterThanOrEqual(3);
    const state = replay(result.items);
    expect([...state.keys()].sort()).toEqual(['f0', 'f2', 'f3', 'f4', 'f5', 'f6', 'new']);
    expect(state.get('f0')?.blocks).toEqual([files[3]!.hash]);
    expect(result.items.filter((i) => i.path === 'f0')).toHaveLength(2);
    // Nothing left over: the token covers everything seen.
    expect((await readAll(id, result.token)).items).toEqual([]);
    expect(seenBefore.items).toHaveLength(7);
  });

  it('refuses garbled, forged and foreign tokens and cursors with 400', async () => {
    const id = await folder();
    const other = await folder();
    await write(id, 'a', files[0]!);
    const { token } = await readAll(id);
    const [payload, mac] = token.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ f: id, a: 0, s: 0, t: now })).toString('base64url') + '.' + mac;
    for (const bad of ['garbage', `${payload}.`, forged, `${payload}.${mac.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`, '%ZZ']) {
      const res = await t.request('GET', `/v1/folders/${id}/changes?syncModifications=true&syncToken=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.code).toBe('invalid_token');
    }
    const foreign = await t.request('GET', `/v1/folders/${other}/changes?syncToken=${token}`);
    expect(foreign.body.code).toBe('invalid_token');
    const tokenAsCursor = await t.request('GET', `/v1/folders/${id}/changes?cursor=${token}`);
    expect(tokenAsCursor.body.code).toBe('invalid_token');
    expect((await t.request('GET', `/v1/folders/${id}/changes?limit=0`)).body.code).toBe('invalid_request');
    expect((await t.request('GET', `/v1/folders/${id}/changes?limit=10001`)).status).toBe(400);
    expect((await t.request('GET', `/v1/folders/${id}/changes?syncToken=${token}&cursor=${token}`)).status).toBe(400);
    expect((await t.request('GET', `/v1/folders/${id}/changes?syncModifications=false`)).status).toBe(400);
    expect((await t.request('GET', `/v1/folders/missing-folder/changes`)).status).toBe(404);
  });

  it('expires tokens with 410 once they outlive the ttl or a tombstone they need is pruned', async () => {
    const id = await folder();
    const rev = await write(id, 'doomed.txt', files[0]!);
    const before = await readAll(id);
    await apply(id, [del('d', 'doomed.txt', rev)]);
    now += 10 * DAY;
    const recent = await readAll(id); // issued after the delete: still fine once it is pruned
    now += 21 * DAY; // the tombstone is now 31 days old and gets pruned
    const expired = await t.request('GET', `/v1/folders/${id}/changes?syncToken=${before.token}`);
    expect(expired.status).toBe(410);
    expect(expired.body.code).toBe('sync_token_expired');
    const stillValid = await readAll(id, recent.token);
    expect(stillValid.items).toEqual([]);
    now += 30 * DAY;
    expect((await t.request('GET', `/v1/folders/${id}/changes?syncToken=${recent.token}`)).status).toBe(410);
    const wait = await t.request('GET', `/v1/folders/${id}/changes/wait?syncToken=${recent.token}&timeout=0`);
    expect(wait.status).toBe(410);
  });
});

describe('long poll', () => {
  it('answers at once when the token is stale, false at its timeout, true as soon as a change lands', async () => {
    const id = await folder();
    const { token } = await readAll(id);
    const idle = await t.request('GET', `/v1/folders/${id}/changes/wait?syncToken=${token}&timeout=0`);
    expect(idle.body).toEqual({ changes: false });
    const started = Date.now();
    const timedOut = await t.request('GET', `/v1/folders/${id}/changes/wait?syncToken=${token}&timeout=1`);
    expect(timedOut.body).toEqual({ changes: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);

    const waiting = t.request('GET', `/v1/folders/${id}/changes/wait?syncToken=${token}&timeout=20`);
    const writeStarted = Date.now();
    await write(id, 'wake.txt', files[1]!);
    const woken = await waiting;
    expect(woken.body).toEqual({ changes: true });
    expect(Date.now() - writeStarted).toBeLessThan(5000);
    const stale = await t.request('GET', `/v1/folders/${id}/changes/wait?syncToken=${token}&timeout=20`);
    expect(stale.body).toEqual({ changes: true });
  });

  it('validates its query', async () => {
    const id = await folder();
    expect((await t.request('GET', `/v1/folders/${id}/changes/wait?timeout=1`)).status).toBe(400);
    expect((await t.request('GET', `/v1/folders/${id}/changes/wait?syncToken=x.y&timeout=1`)).body.code).toBe('invalid_token');
    const { token } = await readAll(id);
    expect((await t.request('GET', `/v1/folders/${id}/changes/wait?syncToken=${token}&timeout=100000`)).status).toBe(400);
  });
});
