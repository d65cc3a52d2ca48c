import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { startServer, type RunningServer } from '../../server/main';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Settings apply without restarting the engine: changing a mass-delete threshold while an
// upload is in flight must not abandon it (what is refused: a new push run, the upload
// started over). Only a new server or token builds a new engine.
describe('settings changes apply in place', () => {
  const tmp = makeTempDir('ferry-settings-live-');
  const folder = path.join(tmp.dir, 'Docs');
  let server: RunningServer;
  let agent: Agent;

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    mkdirSync(folder);
    agent = await createAgent({
      dataDir: path.join(tmp.dir, 'agent'),
      // 256 KiB/s: the 3 MiB file below stays in flight for seconds.
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId: 'docs' }], { bandwidthLimit: 256 * 1024 }),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 30 } },
    });
    await agent.start();
  }, 30_000);

  afterAll(async () => {
    await agent.stop();
    await server.close();
    tmp.cleanup();
  });

  const settingsNow = async () => {
    const { hasToken: _h, tokenProtection: _t, ...current } = await agent.handlers.getSettings({});
    return current;
  };

  /** Waits until `finished`, noting the name of every push run seen meanwhile. */
  async function runsUntil(finished: () => Promise<boolean>, message: string): Promise<string[]> {
    const runs = new Set<string>();
    await waitFor(
      async () => {
        const name = agent.status().run?.name;
        if (name) runs.add(name);
        return finished();
      },
      { timeoutMs: 45_000, intervalMs: 20, message },
    );
    return [...runs];
  }

  it('changes the mass-delete thresholds while an upload is in flight: the same run carries it to the end', async () => {
    writeFileSync(path.join(folder, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 1));
    const inFlight = async () => (await agent.handlers.listQueue({ state: 'in_flight', offset: 0, limit: 10 })).items[0];
    await waitFor(async () => (await inFlight()) !== undefined && agent.status().run !== null, { timeoutMs: 20_000 });
    const runBefore = agent.status().run?.name;
    expect(runBefore).toBeTruthy();

    const view = await agent.handlers.updateSettings({ ...(await settingsNow()), massDeletePercent: 90, massDeleteCount: 50 });
    expect(view).toMatchObject({ massDeletePercent: 90, massDeleteCount: 50 });
    // The change landed while the upload was still going.
    expect(await inFlight()).toBeDefined();

    const runs = await runsUntil(async () => (await agent.handlers.listQueue({ state: 'done', offset: 0, limit: 10 })).total === 1, 'big.bin uploaded');
    expect(runs).toEqual([runBefore]);
  }, 60_000);

  it('lifts the bandwidth limit and raises concurrency while an upload is in flight: the same upload speeds up and finishes', async () => {
    // 32 KiB/s: the 3 MiB file below would need over 90 seconds at this limit.
    await agent.handlers.updateSettings({ ...(await settingsNow()), bandwidthLimit: 32 * 1024 });
    writeFileSync(path.join(folder, 'slow.bin'), Buffer.alloc(3 * 1024 * 1024, 2));
    const slow = async () => (await agent.handlers.listQueue({ offset: 0, limit: 10 })).items.find((i) => i.path === 'slow.bin');
    await waitFor(async () => (await slow())?.state === 'in_flight' && agent.status().run !== null, { timeoutMs: 20_000 });
    const runBefore = agent.status().run?.name;

    const view = await agent.handlers.updateSettings({ ...(await settingsNow()), bandwidthLimit: 0, concurrency: 8 });
    expect(view).toMatchObject({ bandwidthLimit: 0, concurrency: 8 });
    expect((await slow())?.state).toBe('in_flight');

    // Done well inside the time the old limit needed: the new limit reached the upload in
    // flight. What is refused: the old limit still throttling it, or a new engine and run.
    const runs = await runsUntil(async () => (await slow())?.state === 'done', 'slow.bin uploaded once the limit was lifted');
    expect(runs).toEqual([runBefore]);
    expect((await slow())?.attempts).toBe(1);
  }, 90_000);

  it('adds a folder while an upload is in flight: the upload carries on in the same run, and the new folder syncs', async () => {
    await agent.handlers.updateSettings({ ...(await settingsNow()), bandwidthLimit: 256 * 1024 });
    writeFileSync(path.join(folder, 'third.bin'), Buffer.alloc(3 * 1024 * 1024, 3));
    const third = async () => (await agent.handlers.listQueue({ offset: 0, limit: 20 })).items.find((i) => i.path === 'third.bin');
    await waitFor(async () => (await third())?.state === 'in_flight' && agent.status().run !== null, { timeoutMs: 20_000 });
    const runBefore = agent.status().run?.name;

    const photos = path.join(tmp.dir, 'Photos');
    mkdirSync(photos);
    writeFileSync(path.join(photos, 'cat.txt'), 'a new folder with a file');
    const current = await settingsNow();
    await agent.handlers.updateSettings({ ...current, folders: [...current.folders, { localPath: photos, remoteId: 'photos' }] });
    // What is refused: the upload in flight abandoned for the new folder (started over, a new run).
    expect((await third())?.state).toBe('in_flight');

    const runs = await runsUntil(async () => (await third())?.state === 'done', 'third.bin uploaded');
    expect(runs).toContain(runBefore);
    expect((await third())?.attempts).toBe(1);
    await waitFor(async () => (await agent.handlers.listQueue({ folderId: 'photos', state: 'done', offset: 0, limit: 10 })).total === 1, { timeoutMs: 20_000, message: 'cat.txt uploaded' });
    expect(agent.status().folders.map((f) => f.id).sort()).toEqual(['docs', 'photos']);
  }, 90_000);
});
