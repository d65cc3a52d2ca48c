import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { SyncApiClient } from '../../main/remote';
import { startServer, type RunningServer } from '../../server/main';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// README, "Deletes are guarded": a pull or scan that would delete more than a threshold pauses
// the folder and asks.
// This is the scan side: files vanishing from disk (an emptied folder, a half-unmounted disk).
describe('a local mass delete is held until the user answers', () => {
  const tmp = makeTempDir('ferry-mass-delete-');
  const folder = path.join(tmp.dir, 'Docs');
  const names = Array.from({ length: 10 }, (_, i) => `doc-${i}.txt`);
  let server: RunningServer;
  let agent: Agent;
  let remote: SyncApiClient;

  const remotePaths = async () => {
    const page = await remote.changesPage('docs', { limit: 1000 });
    return page.items.filter((i) => !i.deleted).map((i) => i.path).sort();
  };
  const folderState = () => agent.status().folders[0]!;
  /**
   * The watcher reports a burst of deletes in slices; with syncing paused none goes out before
   * the last one is queued, so the guard weighs them all at once (deletes spread over minutes
   * are not a mass delete: each goes out on its own).
   */
  const deleteWhilePaused = async (gone: string[]) => {
    await agent.handlers.pause({});
    for (const name of gone) rmSync(path.join(folder, name));
    await waitFor(() => agent.status().counts.pending >= gone.length, { timeoutMs: 10_000 });
    await agent.handlers.resume({});
  };

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    remote = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'observer' });
    mkdirSync(folder);
    for (const name of names) writeFileSync(path.join(folder, name), `content of ${name}`);
    agent = await createAgent({
      dataDir: path.join(tmp.dir, 'agent'),
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId: 'docs' }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 30 } },
    });
    await agent.start();
    await waitFor(async () => (await remotePaths()).length === names.length, { timeoutMs: 15_000 });
  }, 30_000);

  afterAll(async () => {
    await agent.stop();
    remote.close();
    await server.close();
    tmp.cleanup();
  });

  it('pauses the folder instead of deleting 8 of 10 files on the server, and Cancel restores them', async () => {
    await deleteWhilePaused(names.slice(0, 8));
    await waitFor(() => folderState().state === 'paused_mass_delete', { timeoutMs: 10_000 });
    expect(folderState().pendingDelete).toMatchObject({ count: 8, total: 10, side: 'scan', sample: names.slice(0, 8) });
    expect(agent.status().state).toBe('waiting');
    expect(await remotePaths()).toEqual(names);

    await agent.handlers.cancelMassDelete({ folderId: 'docs' });
    await waitFor(() => names.every((n) => existsSync(path.join(folder, n))), { timeoutMs: 15_000 });
    await waitFor(() => agent.status().state === 'idle', { timeoutMs: 10_000 });
    expect(folderState().state).toBe('ok');
    expect(agent.status().counts.pending).toBe(0);
    expect(await remotePaths()).toEqual(names);
  });

  it('deletes on the server once the user confirms', async () => {
    await deleteWhilePaused(names.slice(0, 8));
    await waitFor(() => folderState().state === 'paused_mass_delete', { timeoutMs: 10_000 });
    expect(await remotePaths()).toEqual(names);

    await agent.handlers.confirmMassDelete({ folderId: 'docs' });
    await waitFor(async () => (await remotePaths()).length === 2, { timeoutMs: 15_000 });
    expect(await remotePaths()).toEqual(names.slice(8));
    expect(folderState().state).toBe('ok');
    expect(readdirSync(folder).filter((f) => f !== '.ferry').sort()).toEqual(names.slice(8));
  });

  it('lets a small delete through without asking', async () => {
    rmSync(path.join(folder, names[8]!));
    await waitFor(async () => (await remotePaths()).length === 1, { timeoutMs: 15_000 });
    expect(folderState().state).toBe('ok');
  });
});
