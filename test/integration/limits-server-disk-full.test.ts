import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { encodeBlockFrames } from '../../protocol/blocks';
import { startServer, type RunningServer } from '../../server/main';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs';
import { startTestServer, testFile, upsert } from '../helpers/server-harness';
import { waitFor } from '../helpers/wait';

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Every file under dir, relative. */
function filesUnder(dir: string, rel = ''): string[] {
  if (!existsSync(path.join(dir, rel))) return [];
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((d) => {
    const child = rel ? `${rel}/${d.name}` : d.name;
    return d.isDirectory() ? filesUnder(dir, child) : [child];
  });
}

// Issue 21, the server's disk full: the real server with its data directory on a small real
// tmpfs, filled by the test, and real agents over loopback. What is refused: a partial block
// kept, an answer other than a retryable 507 with Retry-After, an upload failed for good.
describe('server disk full', () => {
  const tmp = makeTempDir('ferry-server-full-');
  let mount: Tmpfs;
  let server: RunningServer;
  const agents: Agent[] = [];
  let filler: string | null = null;
  let n = 0;

  beforeAll(async () => {
    mount = mountTmpfs(path.join(tmp.dir, 'mnt'), 24 * MiB);
    server = await startServer({ dataDir: path.join(mount.dir, 'server'), port: 0, storageRetryAfterSec: 1 });
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    if (filler) rmSync(filler, { force: true });
    filler = null;
  });
  afterAll(async () => {
    try {
      await server?.close();
    } finally {
      mount.unmount();
      tmp.cleanup();
    }
  });

  const request = (method: string, url: string, body?: Uint8Array, type = 'application/octet-stream') =>
    fetch(server.url + url, {
      method,
      headers: { authorization: `Bearer ${server.token}`, 'x-ferry-device': 'test-device', 'x-ferry-run': 'test;2024-01-01T00:00:00Z', 'content-type': type },
      ...(body ? { body: new Uint8Array(body) } : {}),
    });

  async function agentOn(remoteId: string): Promise<{ agent: Agent; folder: string }> {
    const folder = path.join(tmp.dir, `folder-${++n}`);
    mkdirSync(folder, { recursive: true });
    const agent = await createAgent({
      dataDir: path.join(tmp.dir, `data-${n}`),
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 30 }, pull: { pollTimeoutSec: 1 }, push: { backoffBaseMs: 100, backoffCapMs: 1000 } },
    });
    agents.push(agent);
    await agent.start();
    return { agent, folder };
  }

  it('answers block uploads with a retryable 507 and Retry-After, and keeps no partial block', async () => {
    filler = mount.fill();
    const big = randomBytes(2 * MiB);
    const put = await request('PUT', `/v1/blocks/${sha256(big)}`, big);
    expect(put.status).toBe(507);
    expect(put.headers.get('retry-after')).toBe('1');
    expect(await put.json()).toMatchObject({ code: 'insufficient_storage' });

    const small = Array.from({ length: 40 }, () => randomBytes(64 * 1024));
    const batch = await request('POST', '/v1/blocks/batch', encodeBlockFrames(small.map((data) => ({ hash: sha256(data), data }))), 'application/vnd.ferry.blocks');
    expect(batch.status).toBe(507);
    expect(batch.headers.get('retry-after')).toBe('1');

    // Nothing half-written stays: no temp file, and none of the blocks reads as stored.
    expect(filesUnder(path.join(mount.dir, 'server', 'blocks', 'tmp'))).toEqual([]);
    const missing = await request('POST', '/v1/blocks/missing', Buffer.from(JSON.stringify({ hashes: [sha256(big), ...small.map(sha256)] })), 'application/json');
    expect(missing.status).toBe(200);
    expect(((await missing.json()) as { missing: string[] }).missing).toHaveLength(41);

    rmSync(filler);
    filler = null;
    const again = await request('PUT', `/v1/blocks/${sha256(big)}`, big);
    expect(again.status).toBe(201);
  }, 60_000);

  it('an agent waits through a full server disk without failing anything, and its queue goes up once space frees', async () => {
    const { agent: sender, folder: senderDir } = await agentOn('server-full');
    writeFileSync(path.join(senderDir, 'first.txt'), 'before the disk filled');
    await waitFor(() => sender.status().counts.done >= 1 && sender.status().state === 'idle', { timeoutMs: 15_000, message: 'first.txt uploaded' });

    filler = mount.fill();
    const files = new Map(Array.from({ length: 12 }, (_, i) => [`f${i}.bin`, randomBytes(i % 2 ? 300_000 : 3000)] as const));
    for (const [name, data] of files) writeFileSync(path.join(senderDir, name), data);
    const waiting = async () => (await sender.handlers.listQueue({ offset: 0, limit: 100 })).items.filter((i) => i.lastErrorCode === 'insufficient_storage');
    await waitFor(async () => (await waiting()).length > 0, { timeoutMs: 20_000, message: 'uploads waiting on insufficient_storage' });
    // Retried well past the retry limit (3), one Retry-After apart: still waiting, none failed.
    await waitFor(async () => (await waiting()).some((i) => i.attempts > 5), { timeoutMs: 30_000, message: 'more than 5 attempts' });
    expect(sender.status().counts.failed).toBe(0);
    // The agent says why nothing goes up, not "syncing": its folder waits for the server's
    // disk, and the overall state (status, tray, the UI's pill) carries that reason.
    const said = await waitFor(() => (sender.status().folders[0]?.state === 'disk_full' ? sender.status() : undefined), { timeoutMs: 10_000, message: 'folder in disk_full' });
    expect(said.state).toBe('error');
    expect(said.reason).toMatch(/server's disk is full/);
    expect(said.folders[0]!.error).toMatch(/server's disk is full/);
    // No temp file outlives its write: one seen now belongs to an upload in flight (the agent
    // retries every second) and is gone once that attempt fails. A leaked one would stay.
    const tmpDir = path.join(mount.dir, 'server', 'blocks', 'tmp');
    const seen = filesUnder(tmpDir);
    await waitFor(() => seen.every((name) => !existsSync(path.join(tmpDir, name))), { timeoutMs: 10_000, message: `temp files removed: ${seen.join(', ')}` });

    rmSync(filler);
    filler = null;
    await waitFor(() => sender.status().counts.done >= files.size + 1 && sender.status().state === 'idle', { timeoutMs: 30_000, message: 'everything uploaded once space freed' });
    expect(sender.status().counts.failed).toBe(0);
    // Resumed by itself: the folder no longer says the server is full.
    expect(sender.status().folders[0]).toMatchObject({ state: 'ok', error: null });

    // What the server holds is whole: a second device pulls every file, byte for byte.
    const { folder: receiverDir } = await agentOn('server-full');
    for (const [name, data] of files) {
      await waitFor(() => existsSync(path.join(receiverDir, name)) && readFileSync(path.join(receiverDir, name)).equals(data), { timeoutMs: 20_000, message: `${name} pulled whole` });
    }
  }, 120_000);
});

// A batch task the full disk stops: the fault is injected at the task runner's test seam
// (beforeApply throws ENOSPC, as a write of the task would), because whether SQLite's WAL
// still has room for one more transaction on a filled tmpfs is not something a test can fix.
// What is refused: the task marked failed, anything of it applied, or an answer but 507.
describe('a batch stopped by a full server disk', () => {
  it('answers 507 with its taskId, applies nothing, and runs once resubmitted', async () => {
    let full = true;
    const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const t = await startTestServer({ syncBudgetMs: 5000, storageRetryAfterSec: 60, hooks: { beforeApply: async () => (full ? Promise.reject(enospc()) : undefined) } });
    try {
      const file = testFile('kept whole');
      await t.request('PUT', `/v1/blocks/${file.hash}`, { raw: file.data });
      expect((await t.request('PUT', '/v1/folders/full-batch')).status).toBe(201);
      const operations = [upsert('a', 'a.txt', file, null), upsert('b', 'b.txt', file, null)];
      const first = await t.request('POST', '/v1/folders/full-batch/sync?mode=sync', { body: { operations }, trackingId: 'batch-on-full-disk' });
      expect(first.status).toBe(507);
      expect(first.headers.get('retry-after')).toBe('60');
      expect(first.body).toMatchObject({ code: 'insufficient_storage', taskId: expect.any(String) });
      const task = await t.request('GET', `/v1/tasks/${first.body.taskId as string}`);
      expect(task.body.status).not.toBe('Failed');
      expect((await t.request('GET', '/v1/folders/full-batch/changes?syncModifications=true')).body.items).toEqual([]);

      full = false;
      const again = await t.request('POST', '/v1/folders/full-batch/sync?mode=sync', { body: { operations }, trackingId: 'batch-on-full-disk' });
      expect(again.status).toBe(200);
      expect(again.body.taskId).toBe(first.body.taskId);
      expect(Object.values(again.body.results as Record<string, { ok: boolean }>).every((r) => r.ok)).toBe(true);
    } finally {
      await t.close();
    }
  }, 30_000);
});
