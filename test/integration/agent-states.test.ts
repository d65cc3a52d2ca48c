import { createHash, randomBytes } from 'node:crypto';
import { REVOKED_REASON } from '../../main/engine/agent/connection';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { SyncApiClient } from '../../main/remote';
import { BLOCK_SIZE } from '../../protocol/constants';
import type { FolderSettings, Settings } from '../../shared/ui-contract';
import { startServer, type RunningServer } from '../../server/main';
import { FaultProxy } from '../fakes/fault-proxy';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Issue 24 items 2 to 6: the agent's state tells the truth within seconds, names its reason,
// and recovers on its own. A real agent (in-process), the real server behind a real proxy
// that can go offline, real temp folders.
describe('agent states follow reality', () => {
  const tmp = makeTempDir('ferry-agent-states-');
  let server: RunningServer;
  let proxy: FaultProxy;
  let agent: Agent | undefined;
  let n = 0;

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    proxy = await FaultProxy.start({ target: server.url });
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await proxy.goOnline();
  });

  afterAll(async () => {
    await proxy.close();
    await server.close();
    tmp.cleanup();
  });

  async function start(options: { url?: string; token?: string; folders?: FolderSettings[]; settings?: Partial<Settings>; dataDir?: string; pullRetryMs?: number } = {}): Promise<{ agent: Agent; folder: string; dataDir: string }> {
    const folder = path.join(tmp.dir, `folder-${++n}`);
    mkdirSync(folder, { recursive: true });
    const dataDir = options.dataDir ?? path.join(tmp.dir, `data-${n}`);
    const folders = options.folders ?? [{ localPath: folder, remoteId: `states-${n}` }];
    const started = await createAgent({
      dataDir,
      settings: testSettings(options.url ?? proxy.url, options.token ?? server.token, folders, options.settings),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 50, rootCheckMs: 200 }, pull: { pollTimeoutSec: 1, retryBaseMs: options.pullRetryMs ?? 100, retryMaxMs: options.pullRetryMs ?? 1000 }, push: { offlineProbeBaseMs: 100, offlineProbeCapMs: 1000 } },
    });
    agent = started;
    await started.start();
    return { agent: started, folder, dataDir };
  }

  const settingsOf = async (a: Agent, change: Partial<Settings>) => {
    const view = await a.handlers.getSettings({});
    const { hasToken: _h, tokenProtection: _t, ...rest } = view;
    return { ...rest, ...change };
  };

  it('names a refused token as such (not offline), and clears within seconds once the token is corrected', async () => {
    const { agent: a, folder } = await start({ token: 'wrong-token' });
    writeFileSync(path.join(folder, 'a.txt'), 'hello');
    await waitFor(() => a.status().state === 'auth_failed', { timeoutMs: 10_000, message: 'state auth_failed' });
    expect(a.status().reason).toMatch(/refused the token/);

    await a.handlers.updateSettings(await settingsOf(a, { token: server.token }));
    await waitFor(() => a.status().state === 'idle' && a.status().counts.done >= 1, { timeoutMs: 10_000, message: 'idle with a.txt uploaded' });
    expect(a.status().reason ?? null).toBeNull();
  }, 30_000);

  // A new-user try: nothing in Activity said the computer had been signed out, and Activity's
  // lines are what remains once the state has moved on.
  it('says in Activity when the server refuses this computer, and when it takes it again', async () => {
    const { agent: a, folder } = await start();
    await waitFor(() => a.status().state === 'idle', { timeoutMs: 10_000 });
    const refuse = proxy.add({ name: 'refused', times: Infinity, action: { kind: 'status', status: 401, code: 'device_revoked', message: 'revoked by the test' } });
    writeFileSync(path.join(folder, 'while-out.txt'), 'waits');
    await waitFor(() => a.status().state === 'auth_failed', { timeoutMs: 10_000, message: 'state auth_failed' });
    // "Sync now" meanwhile says nothing can sync, and why (a new-user try read "Sync requested.").
    await expect(a.handlers.syncNow({})).rejects.toMatchObject({ code: 'auth_failed', message: expect.stringMatching(/^Nothing can sync: This device was signed out of the sync server/) });
    refuse();
    await waitFor(() => a.status().state === 'idle' && a.status().counts.done >= 1, { timeoutMs: 10_000, message: 'idle with the file uploaded' });
    const lines = (await a.handlers.listActivity({ limit: 50 })).filter((l) => l.kind === 'signed_out' || l.kind === 'signed_in').reverse();
    // Online again, "Sync now" is answered ok.
    await expect(a.handlers.syncNow({})).resolves.toEqual({ ok: true });
    expect(lines.map((l) => `${l.kind}: ${l.message}`)).toEqual([
      `signed_out: Signed out: ${REVOKED_REASON}`,
      'signed_in: The sync server accepts this computer again: syncing goes on',
    ]);
  }, 30_000);

  // A new-user try: with no folder yet, nothing asked the server anything, and the agent said
  // "idle" with nothing listening at its server's address.
  it('with no folder, says offline when nothing answers at the server address', async () => {
    await proxy.goOffline();
    const { agent: a } = await start({ folders: [] });
    await waitFor(() => a.status().state === 'offline', { timeoutMs: 10_000, message: 'state offline' });
    await proxy.goOnline();
    await waitFor(() => a.status().state === 'idle', { timeoutMs: 10_000, message: 'idle once it answers' });
  }, 30_000);

  it('leaves offline within seconds after a wrong server URL is corrected (it stayed offline until a restart)', async () => {
    await proxy.goOffline();
    const { agent: a } = await start();
    await waitFor(() => a.status().state === 'offline', { timeoutMs: 10_000, message: 'state offline' });
    expect(a.status().reason).toMatch(/unreachable|ECONNREFUSED/);
    // A new address takes its token with it (the stored one is never sent to another host).
    await a.handlers.updateSettings(await settingsOf(a, { serverUrl: server.url, token: server.token }));
    await waitFor(() => a.status().state === 'idle', { timeoutMs: 10_000, message: 'idle after the URL was corrected' });
  }, 30_000);

  it('turns offline when pulls fail with nothing to upload, and back when the server returns', async () => {
    const { agent: a } = await start();
    await waitFor(() => a.status().state === 'idle', { timeoutMs: 10_000 });
    await proxy.goOffline();
    await waitFor(() => a.status().state === 'offline', { timeoutMs: 8_000, message: 'offline while only pulls fail' });
    await expect(a.handlers.syncNow({})).rejects.toMatchObject({ code: 'offline', message: expect.stringMatching(/^The sync server cannot be reached \(.+\): Ferry syncs by itself as soon as it answers$/) });
    await proxy.goOnline();
    await waitFor(() => a.status().state === 'idle', { timeoutMs: 8_000, message: 'idle once the server answers' });
    // Activity says it went and came back, once each way, and no pull failure for it.
    const lines = (await a.handlers.listActivity({ limit: 50 })).map((e) => `${e.kind}: ${e.message}`).reverse();
    expect(lines.filter((l) => /^(offline|online):/.test(l))).toEqual([expect.stringMatching(/^offline: The sync server cannot be reached \(.+\): Ferry syncs by itself as soon as it answers$/), 'online: The sync server answers again: syncing goes on']);
    expect(lines.filter((l) => l.startsWith('pull_failed:'))).toEqual([]);
  }, 30_000);

  it('shows the reason of a missing folder where the state is, and recovers when the folder appears', async () => {
    const missing = path.join(tmp.dir, 'not-yet-there');
    const { agent: a } = await start({ folders: [{ localPath: missing, remoteId: 'later' }] });
    // Waiting for it, not in error: a folder not made yet is accepted with a warning (a new user's
    // try found the whole agent in "error", its folder's pulls failing with folder_root_missing).
    await waitFor(() => a.status().state === 'waiting', { timeoutMs: 10_000 });
    expect(a.status().reason).toContain('later');
    expect(a.status().folders[0]!.pullError).toBeNull();
    expect(a.status().folders[0]!.error).toContain(missing);
    // Never seen here: its reason says it is not made yet, not that a disk went away.
    expect(a.status().folders[0]!.error).toContain('does not exist yet: it syncs on its own once it is created');
    expect(a.status().folders[0]!.error).not.toContain('unmounted');

    mkdirSync(missing);
    writeFileSync(path.join(missing, 'first.txt'), 'now it exists');
    await waitFor(() => a.status().state === 'idle' && a.status().counts.done >= 1, { timeoutMs: 10_000, message: 'folder recovered and synced' });
    expect(a.status().folders[0]!.state).toBe('ok');
    // Activity says it is there, not "back": it never was.
    const activity = await a.handlers.listActivity({ limit: 50 });
    expect(activity.map((e) => e.message)).toContain('The folder is there now: it syncs');
  }, 30_000);

  it("a folder made after it was added gets the server's files at once, not when its failed pulls' backoff ends", async () => {
    const { agent: first, folder: shared } = await start();
    writeFileSync(path.join(shared, 'from-elsewhere.txt'), 'on the server already');
    await waitFor(() => first.status().state === 'idle' && first.status().counts.done >= 1, { timeoutMs: 10_000, message: 'uploaded by the first device' });
    const remoteId = first.status().folders[0]!.remoteId;
    await first.stop();

    // A minute of backoff after each failed pull: the wait below is far shorter.
    const later = path.join(tmp.dir, 'made-later');
    const { agent: b } = await start({ folders: [{ localPath: later, remoteId }], pullRetryMs: 60_000 });
    const folderId = b.status().folders[0]!.id;
    await waitFor(async () => b.status().state === 'waiting' && (await b.handlers.explainPath({ path: 'from-elsewhere.txt', folderId })).lastPullError?.code === 'folder_root_missing', {
      timeoutMs: 10_000,
      message: 'a pull failed on the missing folder',
    });
    mkdirSync(later);
    await waitFor(() => existsSync(path.join(later, 'from-elsewhere.txt')), { timeoutMs: 8_000, message: "the server's file pulled once the folder exists" });
    expect(readFileSync(path.join(later, 'from-elsewhere.txt'), 'utf8')).toBe('on the server already');
  }, 40_000);

  /** An idle agent with a folder, and another device's client writing to that folder on the server. */
  /** Another device's file of two blocks: a whole one that comes at once, and a last one whose answer the proxy holds 4 s ('held-last'). */
  async function putWithLastBlockHeld(other: SyncApiClient, remoteId: string, name: string) {
    const first = randomBytes(BLOCK_SIZE);
    const last = randomBytes(300 * 1024);
    const hashes = [first, last].map((b) => createHash('sha256').update(b).digest('hex'));
    await other.putBlock(hashes[0]!, first);
    await other.putBlock(hashes[1]!, last);
    proxy.add({ name: 'held-last', path: new RegExp(`^/v1/blocks/${hashes[1]}$`), times: 1, action: { kind: 'delay-response', ms: 4000 } });
    return other.submitBatch(remoteId, [{ key: 'k', action: 'upsert', path: name, size: first.length + last.length, mtime: 1, blocks: hashes, baseRevision: null }]);
  }

  async function withOtherDevice(run: (ctx: { a: Agent; folder: string; remoteId: string; other: SyncApiClient }) => Promise<void>): Promise<void> {
    const { agent: a, folder } = await start();
    const remoteId = a.status().folders[0]!.remoteId;
    await waitFor(() => a.status().state === 'idle', { timeoutMs: 10_000, message: 'idle at first' });
    const other = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'elsewhere' });
    try {
      await run({ a, folder, remoteId, other });
    } finally {
      other.close();
    }
  }

  // A new-user try: a 300 MB file coming down read "idle", and its why "the next pull brings it here".
  it('says syncing while a pull brings a file down, and idle once it is here', async () => {
    await withOtherDevice(async ({ a, folder, remoteId, other }) => {
      const data = Buffer.alloc(64 * 1024, 7);
      const hash = createHash('sha256').update(data).digest('hex');
      await other.putBlock(hash, data);
      // Its bytes come slowly: the answer to the block request is held.
      proxy.add({ name: 'slow-block', path: /^\/v1\/blocks/, times: 1, action: { kind: 'delay-response', ms: 3000 } });
      const reply = await other.submitBatch(remoteId, [{ key: 'k', action: 'upsert', path: 'coming.bin', size: data.length, mtime: 1, blocks: [hash], baseRevision: null }]);
      expect('results' in reply && reply.results.k?.ok).toBe(true);
      // A change made here while the download is held: its scan waits behind the pull, and the
      // state names the pull until the file is here (it read "Looking through folder … for
      // changes" through the download, the pull's own hints as well).
      await waitFor(() => proxy.fired('slow-block') >= 1, { timeoutMs: 5000, message: 'the download under way' });
      writeFileSync(path.join(folder, 'made-meanwhile.txt'), 'here');
      // Its why says it is coming, not "the next pull brings it here".
      const during = await a.handlers.explainPath({ path: 'coming.bin', folderId: a.status().folders[0]!.id });
      expect(existsSync(path.join(folder, 'coming.bin'))).toBe(false);
      expect(during.reasons[0]).toEqual({ code: 'pulling', message: "The pull is bringing the server's change of it here now" });
      expect(during.reasons.map((r) => r.code)).toEqual(['pulling', 'on_server']);
      expect(during.reasons[1]!.message).toMatch(/^On the server at revision \S+ written by .+; this device has not got it$/);
      // The folder says what comes, not "everything in sync" (a new-user try read that through a download).
      expect(a.status().folders[0]!.incoming).toBe(1);
      const { formatStatus } = await import('../../main/control/commands/status');
      expect(formatStatus(a.status())).toContain('\n    bringing in 1 change from the server');
      const seen = new Set<string>();
      await waitFor(
        () => {
          if (existsSync(path.join(folder, 'coming.bin'))) return true;
          seen.add(`${a.status().state}: ${a.status().reason}`);
          return false;
        },
        { timeoutMs: 15_000, message: 'the file comes down' },
      );
      // Counted while the change is applied (the pull's last moment, the file placed and the run not yet over, reads uncounted).
      expect([...seen][0]).toBe('syncing: Bringing in 1 change from the server');
      for (const state of seen) expect(state).toMatch(/^syncing: Bringing in (1 change|changes) from the server$/);
      await waitFor(() => existsSync(path.join(folder, 'coming.bin')) && a.status().state === 'idle', { timeoutMs: 15_000, message: 'idle once it is here' });
      expect(a.status().folders[0]!.incoming).toBeUndefined();
    });
  }, 40_000);

  // A new-user try: a long download showed no rate until the file was placed.
  it('counts a download in the rate as its blocks arrive, before the file is placed; paused in the middle, it is no failure', async () => {
    await withOtherDevice(async ({ a, folder, remoteId, other }) => {
      const reply = await putWithLastBlockHeld(other, remoteId, 'two-blocks.bin');
      expect('results' in reply && reply.results.k?.ok).toBe(true);
      await waitFor(() => proxy.fired('held-last') >= 1, { timeoutMs: 10_000, message: 'the last block asked for' });
      await waitFor(() => a.status().rates.downloadBytesPerSec > 0, { timeoutMs: 3000, message: 'a download rate while the last block is held' });
      expect(existsSync(path.join(folder, 'two-blocks.bin'))).toBe(false);
      // Paused in the middle: the download stops, and is no failed pull (a new-user try read
      // "Its pull failed (aborted)" beside "paused"); it comes once resumed.
      await a.handlers.pause({});
      await waitFor(() => a.status().folders[0]!.incoming === undefined, { timeoutMs: 10_000, message: 'the download stopped' });
      const paused = await a.handlers.explainPath({ path: 'two-blocks.bin', folderId: a.status().folders[0]!.id });
      expect(paused.reasons.map((r) => r.code)).not.toContain('pull_failed');
      expect(paused.lastPullError ?? null).toBeNull();
      expect(existsSync(path.join(folder, 'two-blocks.bin'))).toBe(false);
      await a.handlers.resume({});
      await waitFor(() => existsSync(path.join(folder, 'two-blocks.bin')), { timeoutMs: 15_000, message: 'the file placed' });
      // Placed and idle, the rate reads zero within a second or so, not after its 5 s window (a
      // new-user try read a download rate beside "idle").
      await waitFor(() => a.status().state === 'idle', { timeoutMs: 10_000, message: 'idle once placed' });
      await waitFor(() => a.status().rates.downloadBytesPerSec === 0, { timeoutMs: 2500, message: 'no download rate while idle' });
    });
  }, 40_000);

  // A new-user try read "up 104.9 KB/s" beside offline: nothing moves while the server is out of reach.
  it('a download cut off by the server going away reads no rate once offline, not the last seconds\' average', async () => {
    await withOtherDevice(async ({ a, remoteId, other }) => {
      await putWithLastBlockHeld(other, remoteId, 'cut-off.bin');
      await waitFor(() => a.status().rates.downloadBytesPerSec > 0, { timeoutMs: 10_000, message: 'a download rate while the last block is held' });
      await proxy.goOffline();
      try {
        await waitFor(() => a.status().state === 'offline', { timeoutMs: 4000, message: 'offline at the cut' });
        expect(a.status().rates.downloadBytesPerSec).toBe(0);
      } finally {
        await proxy.goOnline();
      }
    });
  }, 40_000);

  it('warns at save about a folder that does not exist', async () => {
    const { agent: a } = await start();
    const absent = path.join(tmp.dir, 'absent');
    const view = await a.handlers.updateSettings(await settingsOf(a, { folders: [{ localPath: absent, remoteId: 'absent' }] }));
    expect(view.warnings).toEqual([expect.stringContaining(absent)]);
  }, 30_000);

  it('pause aborts an upload in flight at once, Sync now says paused, and resume finishes the upload', async () => {
    const { agent: a, folder } = await start({ settings: { bandwidthLimit: 3_000_000 } });
    await waitFor(() => a.status().state === 'idle', { timeoutMs: 10_000 });
    writeFileSync(path.join(folder, 'big.bin'), randomBytes(20_000_000));
    const item = async () => (await a.handlers.listQueue({ offset: 0, limit: 10 })).items.find((i) => i.path === 'big.bin');
    await waitFor(async () => ((await item())?.bytesDone ?? 0) > 0, { timeoutMs: 15_000, message: 'upload under way' });

    await a.handlers.pause({});
    expect(a.status().state).toBe('paused');
    expect(a.status().rates).toEqual({ uploadBytesPerSec: 0, downloadBytesPerSec: 0, itemsPerSec: 0 });
    // At 3 MB/s the rest of the 20 MB file needs several seconds: back to pending sooner
    // means the transfer was stopped, not left to finish.
    await waitFor(async () => (await item())?.state === 'pending' && a.status().counts.in_flight === 0, { timeoutMs: 2_000, message: 'upload aborted by pause' });
    const sentAtPause = (await item())!.bytesDone;
    expect(sentAtPause).toBeLessThan(20_000_000);

    await expect(a.handlers.syncNow({})).rejects.toMatchObject({ code: 'paused' });

    await a.handlers.resume({});
    await waitFor(async () => (await item())?.state === 'done', { timeoutMs: 30_000, message: 'upload done after resume' });
  }, 60_000);

  // A new user's try: PROGRESS stayed at 0 B through a slow 3 MB upload (one block, under the size
  // that used to write progress).
  it('a slow upload of a one-block file shows its progress in the queue before it is done', async () => {
    const { agent: a, folder } = await start({ settings: { bandwidthLimit: 1_000_000 } });
    await waitFor(() => a.status().state === 'idle', { timeoutMs: 10_000 });
    writeFileSync(path.join(folder, 'three-mb.bin'), randomBytes(3_000_000));
    const item = async () => (await a.handlers.listQueue({ offset: 0, limit: 10 })).items.find((i) => i.path === 'three-mb.bin');
    await waitFor(
      async () => {
        const now = await item();
        return now?.state === 'in_flight' && now.bytesDone > 0 && now.bytesDone < now.bytesTotal;
      },
      { timeoutMs: 15_000, message: 'part of the upload listed while it is in flight' },
    );
    await waitFor(async () => (await item())?.state === 'done', { timeoutMs: 30_000, message: 'upload done' });
  }, 60_000);

  it('rates fall to zero once idle, and the last sync survives a restart', async () => {
    const { agent: a, folder, dataDir } = await start();
    const statuses: Array<{ up: number; items: number }> = [];
    a.subscribe((event) => {
      if (event.type === 'status') statuses.push({ up: event.status.rates.uploadBytesPerSec, items: event.status.rates.itemsPerSec });
    });
    writeFileSync(path.join(folder, 'x.txt'), 'x'.repeat(100_000));
    await waitFor(() => statuses.some((s) => s.items > 0), { timeoutMs: 10_000, message: 'a non-zero rate' });
    // No further change happens: the agent still reports the rates falling to zero.
    await waitFor(() => statuses.length > 0 && statuses.at(-1)!.up === 0 && statuses.at(-1)!.items === 0, { timeoutMs: 10_000, message: 'rates back to zero' });
    const last = a.status().lastSyncAt;
    expect(last).not.toBeNull();

    await a.stop();
    agent = undefined;
    const again = await createAgent({
      dataDir,
      settings: testSettings(proxy.url, server.token, []),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
    });
    expect(again.status().lastSyncAt).toBe(last);
    await again.stop();
  }, 30_000);
});
