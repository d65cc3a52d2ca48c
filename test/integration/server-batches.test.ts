import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchCompletedReply, PATH_LOCKED_MESSAGE, Task } from '../../protocol';
import { TEST_BACKEND } from '../helpers/backends';
import { TaskGate, del, startTestServer, testFile, upsert, waitUntil, type TestServer, type TestFile } from '../helpers/server-harness';

let t: TestServer;
const gate = new TaskGate();
const hello = testFile('hello');
const world = testFile('world!');
/** While true, tasks that start are held by the gate until a test releases them. */
let holdNewTasks = false;

beforeAll(async () => {
  t = await startTestServer({
    workers: 4,
    // Short, so the 504 test (its task held by the gate) is quick; on PostgreSQL a batch costs more round trips.
    syncBudgetMs: TEST_BACKEND === 'postgres' ? 3000 : 300,
    hooks: { beforeApply: async (taskId, signal) => (holdNewTasks ? gate.hook(taskId, signal) : undefined) },
  });
  for (const f of [hello, world]) await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data });
});
afterAll(async () => {
  gate.release();
  await t.close();
});

async function folder(): Promise<string> {
  const id = `f-${randomUUID().slice(0, 8)}`;
  expect((await t.request('PUT', `/v1/folders/${id}`)).status).toBe(201);
  return id;
}

async function syncBatch(folderId: string, operations: unknown[], options: { trackingId?: string; headers?: Record<string, string> } = {}) {
  return t.request('POST', `/v1/folders/${folderId}/sync?mode=sync`, { body: { operations }, ...options });
}

async function put(folderId: string, p: string, file: TestFile, base: string | null): Promise<string> {
  const res = await syncBatch(folderId, [upsert('k', p, file, base)]);
  expect(res.status).toBe(200);
  const result = BatchCompletedReply.parse(res.body).results.k;
  if (!result?.ok) throw new Error(`upsert failed: ${JSON.stringify(result)}`);
  return result.revision;
}

async function changes(folderId: string) {
  return (await t.request('GET', `/v1/folders/${folderId}/changes?syncModifications=true`)).body.items as Array<{ path: string; revision: string; deleted: boolean }>;
}

describe('sync mode', () => {
  it('applies upserts and deletes and answers every key', async () => {
    const id = await folder();
    const res = await syncBatch(id, [upsert('a', 'docs/a.txt', hello, null), upsert('b', 'b.txt', world, null), upsert('empty', 'empty', testFile(''), null)]);
    expect(res.status).toBe(200);
    const reply = BatchCompletedReply.parse(res.body);
    expect(Object.keys(reply.results).sort()).toEqual(['a', 'b', 'empty']);
    expect(Object.values(reply.results).every((r) => r.ok)).toBe(true);
    const revB = reply.results.b?.ok ? reply.results.b.revision : '';
    const deleted = await syncBatch(id, [del('d', 'b.txt', revB)]);
    expect(deleted.body.results.d.ok).toBe(true);
    const items = await changes(id);
    expect(items.map((i) => i.path).sort()).toEqual(['docs/a.txt', 'empty']);
  });

  it('gives a stale base revision a conflict with the current revision, never overwriting', async () => {
    const id = await folder();
    const r1 = await put(id, 'x.txt', hello, null);
    const r2 = await put(id, 'x.txt', world, r1);
    const stale = await syncBatch(id, [upsert('k', 'x.txt', hello, r1)]);
    expect(stale.body.results.k).toMatchObject({ ok: false, code: 'conflict', currentRevision: r2 });
    const asNew = await syncBatch(id, [upsert('k', 'x.txt', hello, null)]);
    expect(asNew.body.results.k).toMatchObject({ ok: false, code: 'conflict', currentRevision: r2 });
    const staleDelete = await syncBatch(id, [del('k', 'x.txt', r1)]);
    expect(staleDelete.body.results.k).toMatchObject({ ok: false, code: 'conflict' });
    const items = await changes(id);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ path: 'x.txt', revision: r2, deleted: false });
  });

  it('reports missing blocks and size mismatches per operation; a delete of an unknown path is done', async () => {
    const id = await folder();
    const ghost = testFile(`never uploaded ${randomUUID()}`);
    const res = await syncBatch(id, [
      upsert('missing', 'm.txt', ghost, null),
      { ...upsert('size', 's.txt', hello, null), size: 4 },
      del('gone', 'never-existed.txt', null),
      upsert('fine', 'fine.txt', hello, null),
    ]);
    expect(res.body.results.missing).toMatchObject({ ok: false, code: 'missing_blocks', missing: [ghost.hash] });
    expect(res.body.results.size).toMatchObject({ ok: false, code: 'invalid_request' });
    // Absent is what the delete asks for: done (a tombstone gives it a revision).
    expect(res.body.results.gone).toMatchObject({ ok: true, revision: expect.stringMatching(/^[1-9]\d*$/) });
    expect(res.body.results.fine.ok).toBe(true);
  });

  it('does not create a new revision for an identical upsert', async () => {
    const id = await folder();
    const r1 = await put(id, 'same.txt', hello, null);
    expect(await put(id, 'same.txt', hello, r1)).toBe(r1);
  });

  it('applies a single-operation batch all or nothing', async () => {
    const id = await folder();
    const r0 = await put(id, 'held.txt', world, null);
    const r1 = await put(id, 'held.txt', hello, r0);
    const res = await syncBatch(id, [upsert('new', 'new.txt', hello, null), upsert('stale', 'held.txt', world, r0)], { headers: { 'single-operation': '1' } });
    expect(res.status).toBe(200);
    expect(res.body.results.stale).toMatchObject({ ok: false, code: 'conflict', currentRevision: r1 });
    expect(res.body.results.new).toMatchObject({ ok: false, code: 'aborted' });
    expect((await changes(id)).map((i) => i.path)).toEqual(['held.txt']);
    const ok = await syncBatch(id, [upsert('new', 'new.txt', hello, null), upsert('held', 'held.txt', world, r1)], { headers: { 'single-operation': '1' } });
    expect(Object.values(ok.body.results).every((r) => (r as { ok: boolean }).ok)).toBe(true);
    expect((await syncBatch(id, [upsert('x', 'y', hello, null)], { headers: { 'single-operation': 'yes' } })).status).toBe(400);
  });

  it('answers 504 past the budget and finishes the work as a task under the same tracking id', async () => {
    const id = await folder();
    const trackingId = randomUUID();
    const body = { operations: [upsert('k', 'slow.txt', hello, null)] };
    holdNewTasks = true;
    const first = await t.request('POST', `/v1/folders/${id}/sync?mode=sync`, { body, trackingId });
    holdNewTasks = false;
    expect(first.status).toBe(504);
    expect(first.body.code).toBe('timeout');
    const taskId = first.body.taskId as string;
    expect(gate.held.has(taskId)).toBe(true);

    const resubmitted = await t.request('POST', `/v1/folders/${id}/sync?mode=async`, { body, trackingId });
    expect(resubmitted.status).toBe(202);
    expect(resubmitted.body).toEqual({ taskId, status: 'Processing' });
    gate.release(taskId);
    const done = await waitUntil(async () => {
      const task = Task.parse((await t.request('GET', `/v1/tasks/${taskId}`)).body);
      return task.status === 'Completed' ? task : undefined;
    });
    expect(done.results?.k?.ok).toBe(true);
    const again = await t.request('POST', `/v1/folders/${id}/sync?mode=sync`, { body, trackingId });
    expect(again.status).toBe(200);
    expect(again.body.results).toEqual(done.results);
    expect(await changes(id)).toHaveLength(1);
  });
});

describe('async mode and tasks', () => {
  it('answers 202 at once and completes the task', async () => {
    const id = await folder();
    const res = await t.request('POST', `/v1/folders/${id}/sync?mode=async`, { body: { operations: [upsert('k', 'a.txt', hello, null)] } });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('Queued');
    const task = await waitUntil(async () => {
      const body = Task.parse((await t.request('GET', `/v1/tasks/${res.body.taskId}`)).body);
      return body.status === 'Completed' ? body : undefined;
    });
    expect(task.results?.k?.ok).toBe(true);
    expect(task.operationCount).toBe(1);
    expect((await t.request('GET', '/v1/tasks/unknown-task')).status).toBe(404);
    expect((await t.request('GET', '/v1/tasks/bad%20id')).status).toBe(400);
  });

  it('fails the later of two tasks on one path with path_locked, and reruns it on resubmission', async () => {
    const id = await folder();
    holdNewTasks = true;
    const a = await t.request('POST', `/v1/folders/${id}/sync?mode=async`, { body: { operations: [upsert('k', 'p.txt', hello, null)] } });
    await waitUntil(() => gate.held.has(a.body.taskId), 5000, 'first task processing');
    holdNewTasks = false;
    const trackingId = randomUUID();
    const bBody = { operations: [upsert('other', 'q.txt', world, null), upsert('k', 'p.txt', world, null)] };
    const b = await t.request('POST', `/v1/folders/${id}/sync?mode=async`, { body: bBody, trackingId });
    const failed = await waitUntil(async () => {
      const task = Task.parse((await t.request('GET', `/v1/tasks/${b.body.taskId}`)).body);
      return task.status === 'Failed' ? task : undefined;
    });
    expect(failed.error).toEqual({ code: 'path_locked', message: PATH_LOCKED_MESSAGE });
    // Sync mode answers the lock as a retryable 423.
    const c = await t.request('POST', `/v1/folders/${id}/sync?mode=sync`, { body: { operations: [upsert('k', 'p.txt', world, null)] } });
    expect(c.status).toBe(423);
    expect(c.body.code).toBe('path_locked');
    expect(c.headers.get('retry-after')).toBe('1');

    gate.release(a.body.taskId);
    await waitUntil(async () => (await t.request('GET', `/v1/tasks/${a.body.taskId}`)).body.status === 'Completed');
    const rerun = await t.request('POST', `/v1/folders/${id}/sync?mode=sync`, { body: bBody, trackingId });
    expect(rerun.status).toBe(200);
    expect(rerun.body.taskId).toBe(b.body.taskId);
    expect(rerun.body.results.other.ok).toBe(true);
    expect(rerun.body.results.k).toMatchObject({ ok: false, code: 'conflict' });
  });

  it('refuses a tracking id reused with a different batch', async () => {
    const id = await folder();
    const trackingId = randomUUID();
    expect((await syncBatch(id, [upsert('k', 'a', hello, null)], { trackingId })).status).toBe(200);
    const res = await syncBatch(id, [upsert('k', 'b', hello, null)], { trackingId });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('tracking_id_reused');
  });
});

describe('idempotent resubmission', () => {
  it('never applies a batch twice, whatever mode the repeat uses', async () => {
    const id = await folder();
    const trackingId = randomUUID();
    const first = await syncBatch(id, [upsert('k', 'once.txt', hello, null)], { trackingId });
    const second = await syncBatch(id, [upsert('k', 'once.txt', hello, null)], { trackingId });
    expect(second.body).toEqual(first.body);
    const third = await t.request('POST', `/v1/folders/${id}/sync?mode=async`, { body: { operations: [upsert('k', 'once.txt', hello, null)] }, trackingId });
    expect(third.body).toEqual({ taskId: first.body.taskId, status: 'Completed' });
    const items = await changes(id);
    expect(items).toHaveLength(1);
    expect(items[0]?.revision).toBe(first.body.results.k.revision);
  });
});

describe('racing clients', () => {
  it('lets one of two writers of a new path win; the other gets a conflict and no write is lost', async () => {
    const id = await folder();
    const submit = async (file: TestFile) => {
      // A writer retries path_locked, as the engine does.
      for (;;) {
        const res = await syncBatch(id, [upsert('k', 'race.txt', file, null)], { trackingId: randomUUID() });
        if (res.status !== 423) return res;
      }
    };
    const [a, b] = await Promise.all([submit(hello), submit(world)]);
    const results = [a.body.results.k, b.body.results.k];
    const winners = results.filter((r) => r.ok);
    const losers = results.filter((r) => !r.ok);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0]).toMatchObject({ code: 'conflict', currentRevision: winners[0].revision });
    // The loser rebases on the current revision: both writes are in the history.
    const loserFile = a.body.results.k.ok ? world : hello;
    const rev = await put(id, 'race.txt', loserFile, winners[0].revision);
    const items = await changes(id);
    expect(items).toEqual([expect.objectContaining({ path: 'race.txt', revision: rev })]);
  });
});

describe('validation', () => {
  it.each([
    ['../escape.txt'],
    ['/abs/path'],
    ['a\\b'],
    ['C:/x'],
    ['nul\u0000.txt'],
    ['a//b'],
    ['.ferry/x'],
    ['n'.repeat(256)],
  ])('refuses hostile path %j with invalid_path', async (p) => {
    const id = await folder();
    const res = await syncBatch(id, [upsert('k', p, hello, null)]);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_path');
    expect(await changes(id)).toEqual([]);
  });

  it('refuses unknown fields, bad modes, oversized batches and unknown folders', async () => {
    const id = await folder();
    expect((await syncBatch(id, [{ ...upsert('k', 'a', hello, null), owner: 'root' }])).body.code).toBe('invalid_request');
    expect((await t.request('POST', `/v1/folders/${id}/sync?mode=sync`, { body: { operations: [upsert('k', 'a', hello, null)], force: true } })).status).toBe(400);
    expect((await t.request('POST', `/v1/folders/${id}/sync?mode=later`, { body: { operations: [upsert('k', 'a', hello, null)] } })).status).toBe(400);
    expect((await syncBatch(id, [upsert('k', 'a', hello, 'abc')])).status).toBe(400);
    expect((await syncBatch(id, [])).status).toBe(400);
    const many = Array.from({ length: 10_001 }, (_, i) => del(`k${i}`, `f${i}`, null));
    const tooMany = await syncBatch(id, many);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.message).toContain('operations');
    expect((await syncBatch('no-such-folder', [upsert('k', 'a', hello, null)])).status).toBe(404);
  });
});
