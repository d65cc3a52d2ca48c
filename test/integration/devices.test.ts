import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { SyncApiClient } from '../../main/remote';
import { deviceStateParts } from '../../shared/device-words';
import { startServer, type RunningServer } from '../../server/main';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Issue 17, device digests: every device says what it applied of a folder, and anyone syncing
// it sees each device up to date or N changes behind, with when it was last seen. Two real
// agents (in-process) on the real server over loopback, real temp folders.
describe('device digests', () => {
  const tmp = makeTempDir('ferry-devices-');
  let server: RunningServer;
  let now = Date.now();

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0, clock: () => now });
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  async function startAgent(name: string, remoteId: string): Promise<{ agent: Agent; folder: string }> {
    const folder = path.join(tmp.dir, `${name}-${remoteId}`);
    mkdirSync(folder, { recursive: true });
    const agent = await createAgent({
      dataDir: path.join(tmp.dir, `${name}-${remoteId}-data`),
      deviceName: name,
      clientVersion: 'ferry/test',
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 50 }, pull: { pollTimeoutSec: 1 } },
    });
    await agent.start();
    return { agent, folder };
  }

  const devicesSeenBy = async (agent: Agent) => (await agent.handlers.listDevices({}))[0]!;

  it('shows B up to date once it applied A’s change, then one change behind while stopped, last seen at the stop', async () => {
    const a = await startAgent('laptop', 'shared');
    const b = await startAgent('desktop', 'shared');
    try {
      writeFileSync(path.join(a.folder, 'plan.txt'), 'v1');
      await waitFor(() => readFileOr(path.join(b.folder, 'plan.txt')) === 'v1', { timeoutMs: 15_000, message: 'B has plan.txt' });
      await waitFor(
        async () => {
          const seen = await devicesSeenBy(a.agent);
          const desktop = seen.devices.find((d) => d.name === 'desktop');
          return desktop?.upToDate === true && seen.devices.find((d) => d.self)?.name === 'laptop';
        },
        { timeoutMs: 5_000, message: 'A sees B up to date' },
      );
      const seen = await devicesSeenBy(a.agent);
      expect(seen.error).toBeNull();
      expect(seen.devices.find((d) => d.name === 'desktop')).toMatchObject({ self: false, behind: 0, version: 'ferry/test', pending: 0, failedCount: 0 });

      await b.agent.stop();
      const stoppedAt = now;
      now += 60_000;
      writeFileSync(path.join(a.folder, 'plan.txt'), 'v2');
      await waitFor(
        async () => (await devicesSeenBy(a.agent)).devices.find((d) => d.name === 'desktop')?.behind === 1,
        { timeoutMs: 10_000, message: 'A sees B one change behind' },
      );
      const desktop = (await devicesSeenBy(a.agent)).devices.find((d) => d.name === 'desktop')!;
      expect(desktop).toMatchObject({ upToDate: false, behind: 1 });
      // On this computer's clock (the server's is the test's `now`): seen a minute ago by the server's.
      expect(Date.parse(desktop.lastSeen)).toBeLessThanOrEqual(Date.now() - (now - stoppedAt));
    } finally {
      await a.agent.stop();
      await b.agent.stop();
    }
  }, 60_000);

  // Noted in a closing note: "not reporting" compared the server's `lastSeen` with this computer's
  // clock, so a server ten minutes behind read every running device as silent.
  it("reads another device's last report by the server's clock: a server ten minutes behind is no silence", async () => {
    const saved = now;
    now = Date.now() - 10 * 60_000;
    const a = await startAgent('slow-a', 'skew');
    const b = await startAgent('slow-b', 'skew');
    try {
      const other = await waitFor(async () => (await devicesSeenBy(a.agent)).devices.find((d) => d.name === 'slow-b'), { timeoutMs: 10_000, message: 'A sees B' });
      expect(Math.abs(Date.parse(other.lastSeen) - Date.now())).toBeLessThan(60_000);
      expect(deviceStateParts({ ...other, self: false }, String, Date.now()).parts).not.toContain('not reporting (stopped, or cannot reach the server)');
    } finally {
      await a.agent.stop();
      await b.agent.stop();
      now = saved;
    }
  }, 30_000);

  // A new-user try read "14 changes behind" on a stopped device for one folder of 6 files renamed:
  // each move counted twice, its new path and its old path's tombstone.
  it('counts a folder renamed while a device was stopped once per path moved, not twice', async () => {
    const a = await startAgent('mover', 'renames');
    const b = await startAgent('resting', 'renames');
    try {
      mkdirSync(path.join(a.folder, 'project'));
      writeFileSync(path.join(a.folder, 'project', 'f1.txt'), 'one');
      writeFileSync(path.join(a.folder, 'project', 'f2.txt'), 'two');
      await waitFor(() => readFileOr(path.join(b.folder, 'project', 'f2.txt')) === 'two', { timeoutMs: 15_000, message: 'project on the resting device' });
      await waitFor(async () => (await devicesSeenBy(a.agent)).devices.find((d) => d.name === 'resting')?.upToDate === true, { timeoutMs: 10_000, message: 'resting up to date' });
      await b.agent.stop();
      renameSync(path.join(a.folder, 'project'), path.join(a.folder, 'project-2026'));
      // The folder and its two files moved: three changes, not six.
      await waitFor(async () => (await devicesSeenBy(a.agent)).devices.find((d) => d.name === 'resting')?.behind === 3, { timeoutMs: 15_000, message: 'resting 3 behind' });
    } finally {
      await a.agent.stop();
      await b.agent.stop();
    }
  }, 60_000);

  // Found by a new-user try: `ferry agent --device-name laptop`, then a start without the flag,
  // came up as the host name, and the history named this device's versions after it.
  it("a device's name, given once, is kept by its next start", async () => {
    const { agent, folder } = await startAgent('named-once', 'names');
    expect(agent.status().deviceName).toBe('named-once');
    await agent.stop();
    const again = await createAgent({
      dataDir: path.join(tmp.dir, 'named-once-names-data'),
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId: 'names' }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
    });
    try {
      expect(again.status().deviceName).toBe('named-once');
    } finally {
      await again.stop();
    }
  });

  // Found by review: a restore is recorded under the device that asked for it, and its own
  // changes are not counted against it (echoes), so it read "up to date" before it had the
  // restored bytes.
  it("a device's own restore counts as a change it is behind until it pulls it", async () => {
    const client = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'restorer' });
    try {
      await client.createFolder('restores');
      const put = async (bytes: string, base: string | null) => {
        const data = Buffer.from(bytes);
        const hash = createHash('sha256').update(data).digest('hex');
        await client.putBlock(hash, data);
        const reply = await client.submitBatch('restores', [{ key: 'k', action: 'upsert', path: 'a.txt', size: data.length, mtime: 1, blocks: [hash], baseRevision: base }]);
        const result = 'results' in reply ? reply.results.k : undefined;
        if (!result?.ok) throw new Error('upload refused');
        return result.revision;
      };
      const first = await put('first', null);
      const second = await put('second', first);
      const token = async () => new URL((await client.changesPage('restores'))._links['upcoming-modifications']!.href, server.url).searchParams.get('syncToken')!;
      const report = { name: 'r', version: 'ferry/test', pending: 0, failedCount: 0, failures: [], syncToken: await token() };
      expect(await client.reportDevice('restores', report)).toMatchObject({ behind: 0, upToDate: true });
      await client.submitBatch('restores', [{ key: 'r', action: 'restore', path: 'a.txt', revision: first, baseRevision: second }]);
      // Its own upload would be an echo (still 0); its own restore is not. Refused: "up to date".
      expect(await client.reportDevice('restores', report)).toMatchObject({ behind: 1, upToDate: false });
      expect(await client.reportDevice('restores', { ...report, syncToken: await token() })).toMatchObject({ behind: 0, upToDate: true });
    } finally {
      client.close();
    }
  });

  // Found by a new-user try: B's synced folder deleted, B still read "up to date" on A (and on B).
  it('a device whose folder is in error is seen so by the others, and no longer once it syncs again', async () => {
    const a = await startAgent('laptop', 'in-error');
    const b = await startAgent('desktop', 'in-error');
    try {
      writeFileSync(path.join(a.folder, 'x.txt'), 'x');
      await waitFor(() => readFileOr(path.join(b.folder, 'x.txt')) === 'x', { timeoutMs: 15_000, message: 'B has x.txt' });
      const desktopOnA = async () => (await devicesSeenBy(a.agent)).devices.find((d) => d.name === 'desktop');
      renameSync(b.folder, `${b.folder}.away`);
      await b.agent.handlers.syncNow({}).catch(() => undefined);
      await waitFor(async () => (await desktopOnA())?.folderError === 'folder_root_missing', { timeoutMs: 15_000, message: "A sees B's folder in error" });
      expect(deviceStateParts((await desktopOnA())!).parts[0]).toBe('not syncing: the folder is missing there');
      renameSync(`${b.folder}.away`, b.folder);
      await waitFor(async () => (await desktopOnA())?.folderError === undefined, { timeoutMs: 15_000, message: "A sees B's folder syncing again" });
    } finally {
      await a.agent.stop();
      await b.agent.stop();
    }
  }, 60_000);

  // Found by a new-user try: a device with names that cannot be synced read "up to date" to the others.
  it('a device with a name that cannot be synced is seen so by the others, not up to date and not failing', async () => {
    const a = await startAgent('laptop', 'bad-names');
    const b = await startAgent('desktop', 'bad-names');
    try {
      const laptopOnB = async () => (await devicesSeenBy(b.agent)).devices.find((d) => d.name === 'laptop');
      await waitFor(async () => (await laptopOnB())?.upToDate === true, { timeoutMs: 15_000, message: 'B sees A up to date' });
      writeFileSync(path.join(a.folder, 'tab\there.txt'), 'never leaves');
      // Reported once the scan found it, not with the next minute's heartbeat (a new-user try read
      // "up to date" on the others for a minute).
      await waitFor(async () => (await laptopOnB())?.failedCount === 1, { timeoutMs: 10_000, message: "B sees A's name that cannot be synced" });
      // Refused: "1 failing", for a name its user is to rename there.
      expect(deviceStateParts((await laptopOnB())!)).toEqual({ parts: ['1 name that cannot be synced'], inSync: false });
      expect((await laptopOnB())!.unsyncableCount).toBe(1);
      // Its path is not one the wire takes: counted, not listed.
      expect((await laptopOnB())!.failures).toEqual([]);
      // Deleted (which queues nothing: it was never synced): no longer reported, as soon.
      rmSync(path.join(a.folder, 'tab\there.txt'));
      await waitFor(async () => (await laptopOnB())?.failedCount === 0, { timeoutMs: 10_000, message: 'B no longer sees the name' });
    } finally {
      await a.agent.stop();
      await b.agent.stop();
    }
  }, 90_000);

  // Found by a new-user try: a device its user paused read "up to date" on the others.
  it('a device its user paused is seen paused by the others, and no longer once it resumes', async () => {
    const a = await startAgent('laptop', 'paused-one');
    const b = await startAgent('desktop', 'paused-one');
    try {
      const desktopOnA = async () => (await devicesSeenBy(a.agent)).devices.find((d) => d.name === 'desktop');
      await waitFor(async () => (await desktopOnA())?.behind === 0, { timeoutMs: 15_000, message: 'A sees B up to date' });
      expect((await desktopOnA())!.paused).toBeUndefined();
      await b.agent.handlers.pause({});
      await waitFor(async () => (await desktopOnA())?.paused === true, { timeoutMs: 15_000, message: 'A sees B paused' });
      expect(deviceStateParts((await desktopOnA())!)).toEqual({ parts: ['paused'], inSync: false });
      await b.agent.handlers.resume({});
      await waitFor(async () => (await desktopOnA())?.paused === undefined, { timeoutMs: 15_000, message: 'A sees B syncing again' });
    } finally {
      await a.agent.stop();
      await b.agent.stop();
    }
  }, 60_000);

  // Found by a new-user try: while A's bulk delete waited for its user, B read "15 changes not sent yet" for A, as lag.
  it('a device whose bulk delete waits for its user is seen so by the others, and no longer once it is answered', async () => {
    const a = await startAgent('laptop', 'held-one');
    const b = await startAgent('desktop', 'held-one');
    try {
      const names = Array.from({ length: 10 }, (_, i) => `n${i}.txt`);
      for (const name of names) writeFileSync(path.join(a.folder, name), name);
      await waitFor(() => names.every((n) => readFileOr(path.join(b.folder, n)) === n), { timeoutMs: 20_000, message: 'B has the files' });
      // Deleted while paused, so that the guard weighs them at once.
      await a.agent.handlers.pause({});
      for (const name of names.slice(0, 8)) rmSync(path.join(a.folder, name));
      await waitFor(() => a.agent.status().counts.pending >= 8, { timeoutMs: 10_000, message: 'the deletes queued' });
      await a.agent.handlers.resume({});
      await waitFor(() => a.agent.status().folders[0]?.state === 'paused_mass_delete', { timeoutMs: 10_000, message: 'A holds the delete' });
      const laptopOnB = async () => (await devicesSeenBy(b.agent)).devices.find((d) => d.name === 'laptop');
      await waitFor(async () => (await laptopOnB())?.massDeleteHeld === true, { timeoutMs: 10_000, message: 'B sees A waiting for its user' });
      expect(deviceStateParts((await laptopOnB())!).parts).toEqual(['a bulk delete there waits for its user', '8 changes not sent yet']);
      await a.agent.handlers.cancelMassDelete({ folderId: 'held-one' });
      await waitFor(async () => (await laptopOnB())?.massDeleteHeld === undefined, { timeoutMs: 10_000, message: 'B no longer sees it waiting' });
      expect(names.every((n) => readFileOr(path.join(b.folder, n)) === n)).toBe(true);
    } finally {
      await a.agent.stop();
      await b.agent.stop();
    }
  }, 90_000);

  it('refuses a report for another device, a malformed one, and forgets a device after 30 days', async () => {
    const client = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'reporter' });
    try {
      await client.createFolder('expiry');
      const report = { name: 'r', version: 'ferry/test', pending: 2, failedCount: 1, failures: [{ path: 'a.txt', code: 'local_io' }] };
      const state = await client.reportDevice('expiry', report);
      // Never pulled: how far behind it is cannot be known.
      expect(state).toMatchObject({ device: 'reporter', behind: null, upToDate: false, pending: 2, failures: [{ path: 'a.txt', code: 'local_io' }] });

      const put = (device: string, body: unknown) =>
        fetch(`${server.url}/v1/folders/expiry/devices/${device}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json', 'x-ferry-device': 'reporter' },
          body: JSON.stringify(body),
        });
      const other = await put('someone-else', report);
      expect(other.status).toBe(400);
      expect(await other.json()).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('reports only for itself') });
      expect((await put('reporter', { ...report, failures: [{ path: '../up', code: 'x' }] })).status).toBe(400);
      expect((await put('reporter', { ...report, pending: -1 })).status).toBe(400);
      expect((await put('reporter', { ...report, folderError: 'Not A Code' })).status).toBe(400);
      expect((await put('reporter', { ...report, paused: 'yes' })).status).toBe(400);
      expect(await client.reportDevice('expiry', { ...report, paused: true })).toMatchObject({ paused: true });
      // Refused: more names that cannot be synced than failing paths, and a count of 0 (absent says it).
      const tooMany = await put('reporter', { ...report, unsyncableCount: 2 });
      expect(tooMany.status).toBe(400);
      expect(await tooMany.json()).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('unsyncableCount') });
      expect((await put('reporter', { ...report, unsyncableCount: 0 })).status).toBe(400);
      expect(await client.reportDevice('expiry', { ...report, unsyncableCount: 1 })).toMatchObject({ failedCount: 1, unsyncableCount: 1 });
      expect((await client.listDevices('expiry'))[0]).toMatchObject({ failedCount: 1, unsyncableCount: 1 });
      expect((await client.reportDevice('expiry', report)).unsyncableCount).toBeUndefined();
      expect(await client.reportDevice('expiry', { ...report, folderError: 'folder_marker_missing' })).toMatchObject({ folderError: 'folder_marker_missing' });
      expect((await client.reportDevice('expiry', report)).folderError).toBeUndefined();
      // A forged token is no position at all.
      const forged = await client.reportDevice('expiry', { ...report, syncToken: 'abc.def' });
      expect(forged.behind).toBeNull();

      now += 31 * 24 * 3600 * 1000;
      expect(await client.listDevices('expiry')).toEqual([]);
    } finally {
      client.close();
    }
  });
});

function readFileOr(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
