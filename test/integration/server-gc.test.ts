import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistoryPage, Task, encodeBlockFrames, type BatchCompletedReply } from '../../protocol';
import { runServerGc } from '../../main/control/commands/server-gc';
import { parseServerArgs } from '../../server/cli';
import { TEST_BACKEND } from '../helpers/backends';
import { commitBatch, newFolder, serversPerTest, sha256, type TestFile, type TestServer, upsert, waitUntil } from '../helpers/server-harness';

// Retention and garbage collection (docs/sync-api.md, "Retention and garbage collection"),
// on the real server and its real block store: on disk, and (vitest project `postgres`) in an
// S3 bucket. Packs are the disk store's own: test/integration/server-gc-packs.test.ts.

const servers = serversPerTest();
const MiB = 1024 * 1024;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const file = (data: Buffer): TestFile => ({ data, hash: sha256(data) });

const folder = (t: TestServer) => newFolder(t, 'g');
const commit = commitBatch;

/** A file of several blocks: its upsert and the blocks to upload. */
function multiBlock(key: string, p: string, blocks: Buffer[], base: string | null) {
  const hashes = blocks.map((b) => sha256(b));
  return { op: { key, action: 'upsert', path: p, size: blocks.reduce((s, b) => s + b.length, 0), mtime: 1_700_000_000_000, blocks: hashes, baseRevision: base }, blocks: blocks.map((data, i) => ({ hash: hashes[i]!, data })) };
}

/**
 * Makes blocks just uploaded older than the grace period as GC sees them. On disk their files'
 * times are set back; a bucket object's time cannot be, so there the grace period is short and
 * the test waits for it to pass: after the upload (the bucket store marks what it writes, as
 * recent as a block reported present) and after each object's LastModified.
 */
async function pastGrace(t: TestServer, hashes: string[], graceMs: number, uploadedAt: number): Promise<void> {
  if (TEST_BACKEND === 'sqlite') {
    const old = new Date(Date.now() - 2 * graceMs);
    for (const h of hashes) await fs.utimes(path.join(t.dataDir, 'blocks', h.slice(0, 2), h.slice(2, 4), h), old, old);
    return;
  }
  await waitUntil(
    async () => {
      const cutoff = Date.now() - graceMs;
      if (uploadedAt >= cutoff) return false;
      const written = await Promise.all(hashes.map((h) => t.storedBlockWrittenAt(h)));
      return written.every((at) => at !== null && at < cutoff);
    },
    graceMs + 10_000,
    'the blocks older than the grace period',
  );
}

async function history(t: TestServer, folderId: string, p: string) {
  return HistoryPage.parse((await t.request('GET', `/v1/folders/${folderId}/history?path=${encodeURIComponent(p)}`)).body).items;
}

describe('retention', () => {
  it('keeps every revision of the last hour, one an hour for a day, one a day after, none past the period', async () => {
    // Buckets are clock hours and days (UTC): half past keeps each group of ages inside one.
    let now = Date.UTC(2030, 0, 31, 12, 30, 0);
    const t = await servers.started({ clock: () => now, keepVersionsMs: 10 * DAY, gcIntervalMs: 0, gcGraceMs: 0 });
    const id = await folder(t);
    const start = now;
    // Revisions at fixed ages: 4 in the last hour, 3 in one hour 5 h ago, 2 in one day 3 days ago, 2 twenty days ago.
    const ages = [20 * DAY + 5000, 20 * DAY, 3 * DAY + 2000, 3 * DAY, 5 * HOUR + 1000, 5 * HOUR + 500, 5 * HOUR, 50 * 60_000, 30 * 60_000, 10 * 60_000, 5 * 60_000];
    let base: string | null = null;
    const revs: string[] = [];
    for (const [i, age] of ages.entries()) {
      now = start - age;
      const content = file(Buffer.from(`version ${i}`));
      expect((await t.request('PUT', `/v1/blocks/${content.hash}`, { raw: content.data })).status).toBe(201);
      const result: BatchCompletedReply['results'][string] = (await commit(t, id, [upsert('k', 'a.txt', content, base, 1000 + i)])).k!;
      if (!result.ok) throw new Error(JSON.stringify(result));
      base = result.revision;
      revs.push(result.revision);
    }
    now = start;
    const report = await t.server.collectGarbage();
    const kept = (await history(t, id, 'a.txt')).map((h) => h.revision);
    // Newest first: the last hour whole (current + 3), the newest of the 5 h bucket, the newest of the day 3 days ago.
    expect(kept).toEqual([revs[10], revs[9], revs[8], revs[7], revs[6], revs[3]]);
    expect(report.prunedVersions).toBe(ages.length - kept.length);
    expect(report.blocksCollected).toBe(ages.length - kept.length);
  });

  it('keeps the last live revision of a deleted file for the whole period, then drops the deletion with it', async () => {
    let now = Date.UTC(2030, 0, 31, 12, 0, 0);
    const t = await servers.started({ clock: () => now, keepVersionsMs: 2 * DAY, tokenTtlMs: 30 * DAY, gcIntervalMs: 0, gcGraceMs: 0 });
    const id = await folder(t);
    const a = file(Buffer.from('a'));
    const b = file(Buffer.from('bb'));
    for (const f of [a, b]) await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data });
    const r1 = (await commit(t, id, [upsert('k', 'x.txt', a, null)])).k as { revision: string };
    now += 10;
    const r2 = (await commit(t, id, [upsert('k', 'x.txt', b, r1.revision)])).k as { revision: string };
    now += 10;
    await commit(t, id, [{ key: 'k', action: 'delete', path: 'x.txt', baseRevision: r2.revision }]);
    now += DAY;
    await t.server.collectGarbage();
    const deleted = (await t.request('GET', `/v1/folders/${id}/deleted`)).body.items;
    expect(deleted).toHaveLength(1);
    expect(deleted[0].lastLive.revision).toBe(r2.revision);
    expect(await t.request('GET', `/v1/blocks/${b.hash}`).then((r) => r.status)).toBe(200);
    now += 2 * DAY;
    const report = await t.server.collectGarbage();
    expect(report.prunedTombstones).toBe(1);
    expect((await t.request('GET', `/v1/folders/${id}/deleted`)).body.items).toEqual([]);
    expect(await history(t, id, 'x.txt')).toEqual([]);
    expect(await t.request('GET', `/v1/blocks/${b.hash}`).then((r) => r.status)).toBe(404);
  });
});

describe('garbage collection', () => {
  // 64 MiB of versions written and overwritten (the 1 GiB figure belongs to a benchmark).
  it('after 64 MiB of overwrites, brings the block store within 10% of the live data, every live block intact', async () => {
    let now = Date.UTC(2030, 0, 1);
    const t = await servers.started({ clock: () => now, keepVersionsMs: 1000, gcIntervalMs: 0, gcGraceMs: 0 });
    const id = await folder(t);
    const revisions = new Map<string, string | null>(Array.from({ length: 8 }, (_, i) => [`f${i}.bin`, null]));
    const live = new Map<string, string[]>();
    let written = 0;
    const round = async (paths: string[]) => {
      const packed = paths.filter((p) => Number(/\d/.exec(p)![0]) >= 4);
      const loose = paths.filter((p) => !packed.includes(p));
      const ops: unknown[] = [];
      const frames: Array<{ hash: string; data: Buffer }> = [];
      for (const p of loose) {
        const data = randomBytes(MiB);
        const f = file(data);
        expect((await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data })).status).toBe(201);
        ops.push(upsert(p, p, f, revisions.get(p)!));
        live.set(p, [f.hash]);
        written += data.length;
      }
      for (const p of packed) {
        const m = multiBlock(p, p, Array.from({ length: 4 }, () => randomBytes(MiB / 4)), revisions.get(p)!);
        frames.push(...m.blocks);
        ops.push(m.op);
        live.set(p, m.op.blocks);
        written += MiB;
      }
      if (frames.length) {
        const res = await t.request('POST', '/v1/blocks/batch', { raw: encodeBlockFrames(frames), headers: { 'content-type': 'application/vnd.ferry.blocks' } });
        expect(res.status).toBe(200);
      }
      const results = await commit(t, id, ops);
      for (const [key, r] of Object.entries(results)) {
        if (!r.ok) throw new Error(`${key}: ${JSON.stringify(r)}`);
        revisions.set(key, r.revision);
      }
      now += 10;
    };
    // f4-f7 go up as one block batch (a pack on disk, an object per block in a bucket).
    for (let r = 0; r < 8; r++) await round([...revisions.keys()]);
    const sizeOfLive = 8 * MiB;
    const before = await t.storedBytes();
    expect(written).toBe(64 * MiB);
    expect(before).toBeGreaterThanOrEqual(written);

    now += 10_000;
    const report = await t.server.collectGarbage();
    const after = await t.storedBytes();
    expect(after).toBeGreaterThanOrEqual(sizeOfLive);
    expect(after).toBeLessThanOrEqual(sizeOfLive * 1.1);
    expect(report.prunedVersions).toBe(7 * 8);
    // The blocks of the 7 older rounds: 4 loose and 4 x 4 batched each.
    expect(report.blocksCollected).toBe(7 * 20);
    for (const [, hashes] of live) {
      for (const h of hashes) {
        const res = await fetch(`${t.server.url}/v1/blocks/${h}`, { headers: { authorization: `Bearer ${t.server.token}` } });
        expect(res.status).toBe(200);
        expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(h);
      }
    }
  });

  it('never collects a block reported present to a client within the grace period', async () => {
    const graceMs = TEST_BACKEND === 'postgres' ? 2000 : HOUR;
    const t = await servers.started({ gcIntervalMs: 0, gcGraceMs: graceMs });
    const reported = file(randomBytes(5000));
    const unasked = file(randomBytes(5000));
    for (const f of [reported, unasked]) expect((await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data })).status).toBe(201);
    await pastGrace(t, [reported.hash, unasked.hash], graceMs, Date.now());
    // Written before the grace period, referenced by nothing: garbage, unless a client was just told it is here.
    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes: [reported.hash] } })).body.missing).toEqual([]);
    const report = await t.server.collectGarbage();
    expect((await t.request('GET', `/v1/blocks/${reported.hash}`)).status).toBe(200);
    // Its twin, as old and never asked about, was garbage.
    expect((await t.request('GET', `/v1/blocks/${unasked.hash}`)).status).toBe(404);
    expect(report.blocksCollected).toBe(1);
  });

  it('a commit that starts while GC runs waits for it, and answers missing_blocks for a block it collected (never a version without its block)', async () => {
    let release!: () => void;
    let marked!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const atMark = new Promise<void>((resolve) => (marked = resolve));
    const t = await servers.started({
      gcIntervalMs: 0,
      gcGraceMs: 0,
      gcAfterMark: async () => {
        marked();
        await held;
      },
    });
    const id = await folder(t);
    const orphan = file(randomBytes(5000));
    await t.request('PUT', `/v1/blocks/${orphan.hash}`, { raw: orphan.data });
    const gc = t.server.collectGarbage();
    await atMark;
    // The block is garbage as GC saw it; a batch that refers to it now must not commit before GC is done.
    const accepted = await t.request('POST', `/v1/folders/${id}/sync?mode=async`, { body: { operations: [upsert('k', 'late.bin', orphan, null)] } });
    expect(accepted.status).toBe(202);
    const taskUrl = `/v1/tasks/${accepted.body.taskId}`;
    await waitUntil(async () => Task.parse((await t.request('GET', taskUrl)).body).status === 'Processing', 5000, 'task processing');
    release();
    const report = await gc;
    expect(report.blocksCollected).toBe(1);
    const task = await waitUntil(async () => {
      const body = Task.parse((await t.request('GET', taskUrl)).body);
      return body.status === 'Completed' ? body : undefined;
    }, 5000, 'task done');
    expect(task.results?.k).toMatchObject({ ok: false, code: 'missing_blocks', missing: [orphan.hash] });
    // The client uploads it again, as on any missing_blocks, and the commit goes through.
    await t.request('PUT', `/v1/blocks/${orphan.hash}`, { raw: orphan.data });
    expect((await commit(t, id, [upsert('k', 'late.bin', orphan, null)])).k).toMatchObject({ ok: true });
    await t.server.collectGarbage();
    expect((await t.request('GET', `/v1/blocks/${orphan.hash}`)).status).toBe(200);
  });

  it('runs from POST /v1/maintenance/gc and reports what it did', async () => {
    const t = await servers.started({ gcIntervalMs: 0 });
    const res = await t.request('POST', '/v1/maintenance/gc');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ blocksCollected: 0, prunedVersions: 0, liveBlocks: 0 });
    expect((await t.request('POST', '/v1/maintenance/gc', { token: 'wrong-token-xyz' })).status).toBe(401);
  });
});

describe('ferry server gc and the retention flags', () => {
  it('asks the running server to collect now and prints the report', async () => {
    const t = await servers.started({ gcIntervalMs: 0 });
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (x: string) => void out.push(x), err: (x: string) => void err.push(x) };
    expect(await runServerGc(['--url', t.server.url, '--data', t.dataDir, '--json'], io, {}), err.join('\n')).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ blocksCollected: 0, prunedVersions: 0 });
    expect(await runServerGc(['--url', t.server.url], io, {})).toBe(2);
    expect(await runServerGc(['--url', t.server.url, '--token-file', path.join(t.dataDir, 'server-secret')], io, {})).toBe(1);
    expect(err.at(-1)).toMatch(/unauthorized/);
    // With --json each failure is one error object, not a line.
    expect(await runServerGc(['--url', t.server.url, '--token-file', path.join(t.dataDir, 'server-secret'), '--json'], io, {})).toBe(1);
    expect(JSON.parse(err.at(-1)!)).toMatchObject({ error: { code: 'unauthorized', retryable: false } });
    expect(await runServerGc(['--url', t.server.url, '--json'], io, {})).toBe(2);
    expect(JSON.parse(err.at(-1)!)).toMatchObject({ error: { code: 'usage', message: expect.stringContaining('give --url and a token') } });
  });

  it('parses --keep-versions, --gc-interval and --gc-grace as durations', () => {
    const parsed = parseServerArgs(['--data', 'd', '--keep-versions', '30d', '--gc-interval', '6h', '--gc-grace', '90m'], {});
    expect(parsed.help ? null : parsed.options).toMatchObject({ keepVersionsMs: 30 * DAY, gcIntervalMs: 6 * HOUR, gcGraceMs: 90 * 60_000 });
    expect(() => parseServerArgs(['--data', 'd', '--keep-versions', 'soon'], {})).toThrow(/Invalid duration/);
  });
});
