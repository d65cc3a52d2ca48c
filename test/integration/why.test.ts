import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { SyncApiClient } from '../../main/remote';
import { startServer, type RunningServer } from '../../server/main';
import { FaultProxy } from '../fakes/fault-proxy';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Issue 17, "why": for any path the agent says what it knows and why it is not in sync, each
// reason reached here through the real condition: an ignore rule (from .ferryignore and from
// the settings), a server that fails, a pause, a bulk delete held, a conflict with another
// device. Refused: a path outside every folder. A real agent, the real server behind a proxy.
describe('why a path is not in sync', () => {
  const tmp = makeTempDir('ferry-why-');
  const folder = path.join(tmp.dir, 'Docs');
  let server: RunningServer;
  let proxy: FaultProxy;
  let agent: Agent;
  let other: SyncApiClient;

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    proxy = await FaultProxy.start({ target: server.url });
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, '.ferryignore'), '*.log\n');
    agent = await createAgent({
      dataDir: path.join(tmp.dir, 'data'),
      deviceName: 'laptop',
      settings: testSettings(proxy.url, server.token, [{ localPath: folder, remoteId: 'docs' }], { ignoreRules: ['*.bak'], retryLimit: 10 }),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 50 }, pull: { pollTimeoutSec: 1 }, push: { backoffBaseMs: 200, backoffCapMs: 400 } },
    });
    await agent.start();
    other = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'desktop-2' });
  }, 30_000);

  afterAll(async () => {
    await agent.stop();
    other.close();
    await proxy.close();
    await server.close();
    tmp.cleanup();
  });

  const why = (p: string) => agent.handlers.explainPath({ path: p, folderId: 'docs' });
  const codes = async (p: string) => (await why(p)).reasons.map((r) => r.code);
  const queued = (p: string) => agent.handlers.listQueue({ folderId: 'docs', offset: 0, limit: 1000 }).then((q) => q.items.find((i) => i.path === p));
  const settled = (p: string) => waitFor(async () => (await queued(p))?.state === 'done', { timeoutMs: 15_000, message: `${p} synced` });

  it('in sync: the revision this device has; by absolute path too', async () => {
    writeFileSync(path.join(folder, 'notes.txt'), 'hello');
    await settled('notes.txt');
    const answer = await why('notes.txt');
    expect(answer).toMatchObject({ inSync: true, local: { exists: true, kind: 'file', size: 5 }, synced: { size: 5 } });
    // The writer by name: this device, as its agent is called.
    expect(answer.reasons[0]!.message).toMatch(/^In sync: this device has the server's revision \d+, written by laptop$/);
    expect((await agent.handlers.explainPath({ path: path.join(folder, 'notes.txt') })).path).toBe('notes.txt');
  });

  it('ignored: names the rule and where it comes from', async () => {
    writeFileSync(path.join(folder, 'debug.log'), 'x');
    writeFileSync(path.join(folder, 'old.bak'), 'x');
    expect((await why('debug.log')).reasons).toEqual([{ code: 'ignored', message: 'Ignored by the rule "*.log" from .ferryignore' }]);
    expect((await why('old.bak')).reasons).toEqual([{ code: 'ignored', message: 'Ignored by the rule "*.bak" from the settings' }]);
  });

  it('unknown, and a path outside every folder is refused', async () => {
    expect(await codes('never/was.txt')).toEqual(['unknown']);
    await expect(agent.handlers.explainPath({ path: path.join(tmp.dir, 'elsewhere.txt') })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('waiting to retry while the server fails, with the attempt and the error', async () => {
    const heal = proxy.add({ method: 'POST', path: /\/sync$/, times: Infinity, action: { kind: 'status', status: 500, code: 'internal', message: 'disk on fire' } });
    try {
      writeFileSync(path.join(folder, 'draft.txt'), 'draft');
      await waitFor(async () => (await queued('draft.txt'))?.state === 'retry_wait', { timeoutMs: 15_000, message: 'draft.txt waits to retry' });
      const answer = await why('draft.txt');
      expect(answer.inSync).toBe(false);
      expect(answer.reasons[0]).toMatchObject({ code: 'retry_wait', message: expect.stringMatching(/^Its upload waits to retry \(attempt \d+, next try .+\): internal/) });
    } finally {
      heal();
    }
    await settled('draft.txt');
    expect(await codes('draft.txt')).toEqual(['in_sync']);
  });

  it('pending while paused says it waits for the resume', async () => {
    await agent.handlers.pause({});
    try {
      writeFileSync(path.join(folder, 'later.txt'), 'later');
      await waitFor(async () => (await queued('later.txt'))?.state === 'pending', { timeoutMs: 10_000, message: 'later.txt queued' });
      const answer = await why('later.txt');
      // And the server has nothing of it yet.
      expect(answer.reasons.map((r) => r.code)).toEqual(['pending', 'paused', 'not_on_server']);
      expect(answer.reasons[0]!.message).toContain('waiting for you to resume');
    } finally {
      await agent.handlers.resume({});
    }
    await settled('later.txt');
  });

  it('a conflict names the other device and where this device’s version went', async () => {
    writeFileSync(path.join(folder, 'shared.txt'), 'base');
    await settled('shared.txt');
    await agent.handlers.pause({});
    writeFileSync(path.join(folder, 'shared.txt'), 'mine');
    await waitFor(async () => (await queued('shared.txt'))?.state === 'pending', { timeoutMs: 10_000, message: 'local edit queued' });
    const revision = (await why('shared.txt')).synced!.revision;
    const theirs = Buffer.from('theirs');
    const hash = (await import('node:crypto')).createHash('sha256').update(theirs).digest('hex');
    await other.putBlock(hash, theirs);
    await other.submitBatch('docs', [{ key: 'k', action: 'upsert', path: 'shared.txt', size: theirs.length, mtime: Date.now(), blocks: [hash], baseRevision: revision }]);
    await agent.handlers.resume({});
    await agent.handlers.syncNow({});
    const copy = await waitFor(() => readdirSync(folder).find((f) => f.startsWith('shared (conflict')), { timeoutMs: 15_000, message: 'conflict copy' });
    await waitFor(() => readFileSync(path.join(folder, 'shared.txt'), 'utf8') === 'theirs', { timeoutMs: 15_000 });
    await waitFor(async () => (await codes('shared.txt')).includes('conflict'), { timeoutMs: 10_000, message: 'conflict reason' });
    const answer = await why('shared.txt');
    expect(answer.reasons.find((r) => r.code === 'conflict')!.message).toBe(
      `Changed here and on desktop-2 at the same time: desktop-2's version is here, this device's was kept as ${copy}`,
    );
    expect((await why(copy!)).reasons.map((r) => r.code)).toContain('conflict');
    // Settled by the user (the copy removed): no longer said.
    unlinkSync(path.join(folder, copy!));
    expect(await codes('shared.txt')).not.toContain('conflict');
  });

  it('on the server at revision R written by another device, by its name, while this device has not applied it', async () => {
    writeFileSync(path.join(folder, 'plan.txt'), 'first');
    await settled('plan.txt');
    const mine = (await why('plan.txt')).synced!.revision;
    // A device with a random id, named by its digest: why names it, never by its id.
    const deviceId = '3f2a9c1b-0000-4000-8000-000000000001';
    const desktop = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId });
    try {
      await desktop.reportDevice('docs', { name: 'desktop-3', version: 'ferry/test', pending: 0, failedCount: 0, failures: [] });
      await agent.handlers.pause({});
      const write = async (p: string, text: string, base: string | null) => {
        const bytes = Buffer.from(text);
        const hash = (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex');
        await desktop.putBlock(hash, bytes);
        const reply = await desktop.submitBatch('docs', [{ key: 'k', action: 'upsert', path: p, size: bytes.length, mtime: Date.now(), blocks: [hash], baseRevision: base }]);
        const result = 'results' in reply ? reply.results.k : undefined;
        if (!result?.ok) throw new Error(`the other device's write failed: ${JSON.stringify(result)}`);
        return result.revision;
      };
      const edited = await write('plan.txt', 'second', mine);
      const fresh = await write('theirs-only.txt', 'new there', null);

      const changed = await why('plan.txt');
      expect(changed.inSync).toBe(false);
      expect(changed.reasons[0]).toEqual({ code: 'on_server', message: `On the server at revision ${edited} written by desktop-3; this device has revision ${mine}: the next pull brings it here` });
      const absent = await why('theirs-only.txt');
      expect(absent.inSync).toBe(false);
      expect(absent.reasons).toEqual([{ code: 'on_server', message: `On the server at revision ${fresh} written by desktop-3; this device has not got it: the next pull brings it here` }]);
      // Its history names the writer the same way (the id stays beside it).
      const versions = await agent.handlers.getHistory({ folderId: 'docs', path: 'plan.txt' });
      expect(versions.map((v) => v.deviceName)).toEqual(['desktop-3', 'laptop']);
      expect(versions[0]!.device).toBe(deviceId);

      // Not on the server yet: a new file here, held by the pause.
      writeFileSync(path.join(folder, 'unsent.txt'), 'only here');
      await waitFor(async () => (await queued('unsent.txt'))?.state === 'pending', { timeoutMs: 10_000, message: 'unsent.txt queued' });
      const unsent = await why('unsent.txt');
      expect(unsent.reasons.map((r) => r.code)).toEqual(['pending', 'paused', 'not_on_server']);
      expect(unsent.reasons[2]!.message).toBe('Not on the server yet');
    } finally {
      desktop.close();
      await agent.handlers.resume({});
    }
    await waitFor(() => existsSync(path.join(folder, 'theirs-only.txt')), { timeoutMs: 15_000, message: 'pulled after the resume' });
    await settled('unsent.txt');
    await waitFor(async () => (await why('theirs-only.txt')).inSync, { timeoutMs: 10_000, message: 'in sync once pulled' });
    expect((await why('theirs-only.txt')).reasons[0]!.message).toMatch(/written by desktop-3$/);
  });

  it('held: a delete waiting in a bulk delete the user has not answered', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `bulk-${i}.txt`);
    for (const n of names) writeFileSync(path.join(folder, n), n);
    for (const n of names) await settled(n);
    for (const n of names) unlinkSync(path.join(folder, n));
    await waitFor(() => agent.status().folders[0]?.state === 'paused_mass_delete', { timeoutMs: 15_000, message: 'held' });
    await waitFor(async () => (await codes('bulk-0.txt')).includes('held'), { timeoutMs: 10_000, message: 'held reason' });
    const answer = await why('bulk-0.txt');
    expect(answer.reasons[0]).toEqual({ code: 'held', message: 'Its delete is held with a bulk delete on this computer until you confirm or cancel it' });
    expect(answer.local.exists).toBe(false);
    await agent.handlers.cancelMassDelete({ folderId: 'docs' });
    await waitFor(() => names.every((n) => existsSync(path.join(folder, n))), { timeoutMs: 20_000, message: 'restored' });
  });
});
