import { readdirSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../main/engine/agent';
import { readChanges } from '../../main/engine/pull/changes-reader';
import { SyncApiClient } from '../../main/remote';
import { startServer, type RunningServer } from '../../server/main';
import { startTestAgent } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Issue 13 item 4 / issue 14 item 1: a held mass delete outlives a restart with its side. The
// puller's verdict lived in memory, so after a restart Confirm took the scanner's branch
// ("deleting on the server"), deleted nothing here, and the next pull tripped again. Refused
// here: an answer after a restart that acts on the wrong side, or a pause that comes back.

/** The device that deletes on the server: the held delete names it. */
const OTHER_DEVICE = 'other-device';

describe('a held mass delete is answered on the right side after a restart', () => {
  const tmp = makeTempDir('ferry-mass-delete-restart-');
  let server: RunningServer;
  let other: SyncApiClient;
  const running = new Set<Agent>();
  const names = Array.from({ length: 10 }, (_, i) => `file-${i}.txt`);

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    other = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: OTHER_DEVICE });
  });

  afterAll(async () => {
    await Promise.allSettled([...running].map((a) => a.stop()));
    other.close();
    await server.close();
    tmp.cleanup();
  });

  const listing = async (id: string) => {
    const read = await readChanges(other, id, undefined, {});
    if (read.kind !== 'ok') throw new Error('full listing expired');
    return read;
  };
  const serverFiles = async (id: string) => (await listing(id)).items.filter((i) => !i.deleted).map((i) => i.path).sort();
  const onDisk = (root: string) => readdirSync(root).filter((n) => n !== '.ferry').sort();

  async function start(id: string, root: string): Promise<Agent> {
    const agent = await startTestAgent(path.join(tmp.dir, `agent-${id}`), server, [{ localPath: root, remoteId: id }]);
    running.add(agent);
    return agent;
  }
  async function restart(agent: Agent, id: string, root: string): Promise<Agent> {
    await agent.stop();
    running.delete(agent);
    return start(id, root);
  }

  /** A synced folder of ten files. */
  async function synced(id: string) {
    const root = path.join(tmp.dir, id);
    mkdirSync(root);
    for (const name of names) writeFileSync(path.join(root, name), `content of ${name}`);
    const agent = await start(id, root);
    await waitFor(async () => (await serverFiles(id)).length === names.length, { timeoutMs: 20_000 });
    await waitFor(() => agent.status().state === 'idle', { timeoutMs: 10_000 });
    return { root, agent };
  }

  /** This disk deletes 8 of the 10: the scanner holds them. */
  async function heldByScanner(id: string) {
    const { root, agent } = await synced(id);
    for (const name of names.slice(0, 8)) unlinkSync(path.join(root, name));
    await waitFor(() => agent.status().folders[0]?.state === 'paused_mass_delete', { timeoutMs: 15_000 });
    const again = await restart(agent, id, root);
    expect(again.status().folders[0]).toMatchObject({ state: 'paused_mass_delete', pendingDelete: { count: 8, total: 10 } });
    return { root, agent: again };
  }

  /** Another device deletes 8 of the 10: the puller holds them. */
  async function heldByPuller(id: string) {
    const { root, agent } = await synced(id);
    const live = new Map((await listing(id)).items.map((i) => [i.path, i.revision]));
    const reply = await other.submitBatch(
      id,
      names.slice(0, 8).map((p, i) => ({ key: String(i), action: 'delete' as const, path: p, baseRevision: live.get(p) ?? null })),
    );
    expect('results' in reply && Object.values(reply.results).every((r) => r.ok)).toBe(true);
    await agent.handlers.syncNow({});
    await waitFor(() => agent.status().folders[0]?.state === 'paused_mass_delete', { timeoutMs: 15_000 });
    const again = await restart(agent, id, root);
    // What the user is asked survives the restart too: which files, and which device deleted them.
    expect(again.status().folders[0]).toMatchObject({
      state: 'paused_mass_delete',
      pendingDelete: { count: 8, total: 10, side: 'pull', sample: names.slice(0, 8), devices: [OTHER_DEVICE] },
    });
    expect(onDisk(root)).toEqual(names);
    return { root, agent: again };
  }

  it('held by the scanner, cancelled after a restart: every file is back on disk, none was deleted on the server', async () => {
    const { root, agent } = await heldByScanner('scan-cancel');
    expect(await serverFiles('scan-cancel')).toEqual(names);
    await agent.handlers.cancelMassDelete({ folderId: 'scan-cancel' });
    await waitFor(() => onDisk(root).length === names.length, { timeoutMs: 20_000 });
    expect(onDisk(root)).toEqual(names);
    await waitFor(() => agent.status().state === 'idle', { timeoutMs: 10_000 });
    expect((await listing('scan-cancel')).items.filter((i) => i.deleted)).toEqual([]);
  });

  it('held by the scanner, confirmed after a restart: deleted on the server', async () => {
    const { root, agent } = await heldByScanner('scan-confirm');
    await agent.handlers.confirmMassDelete({ folderId: 'scan-confirm' });
    // Said with its count (a new-user try read "deleting on the server" with none).
    const lines = (await agent.handlers.listActivity({ limit: 100 })).map((l) => l.message);
    expect(lines).toContain('Mass delete confirmed: deleting 8 files on the server');
    await waitFor(async () => (await serverFiles('scan-confirm')).length === 2, { timeoutMs: 20_000 });
    expect(await serverFiles('scan-confirm')).toEqual(names.slice(8));
    expect(onDisk(root)).toEqual(names.slice(8));
    await waitFor(() => agent.status().state === 'idle', { timeoutMs: 10_000 });
    expect(agent.status().folders[0]?.state).toBe('ok');
  });

  it('held by the puller, confirmed after a restart: deleted here, and the next pull does not ask again', async () => {
    const { root, agent } = await heldByPuller('pull-confirm');
    await agent.handlers.confirmMassDelete({ folderId: 'pull-confirm' });
    expect(onDisk(root)).toEqual(names.slice(8));
    // Refused (a new-user try): no line at all for the answer on the device that confirmed another's delete.
    const lines = (await agent.handlers.listActivity({ limit: 100 })).map((l) => l.message);
    expect(lines).toContain(`Mass delete confirmed: the 8 files deleted by ${OTHER_DEVICE} are deleted here too`);
    // Not held any more (it may be scanning the deletes it just made).
    expect(agent.status().folders[0]?.state).not.toBe('paused_mass_delete');
    await agent.handlers.syncNow({ folderId: 'pull-confirm' });
    await waitFor(() => agent.status().state === 'idle', { timeoutMs: 10_000 });
    expect(agent.status().folders[0]).toMatchObject({ state: 'ok', pendingDelete: null });
    expect(onDisk(root)).toEqual(names.slice(8));
    expect(await serverFiles('pull-confirm')).toEqual(names.slice(8));
  });

  it('held by the puller, cancelled after a restart: the files stay here and go back to the server', async () => {
    const { root, agent } = await heldByPuller('pull-cancel');
    await agent.handlers.cancelMassDelete({ folderId: 'pull-cancel' });
    expect(onDisk(root)).toEqual(names);
    await waitFor(async () => (await serverFiles('pull-cancel')).length === names.length, { timeoutMs: 20_000 });
    expect(await serverFiles('pull-cancel')).toEqual(names);
    await waitFor(() => agent.status().state === 'idle', { timeoutMs: 10_000 });
    expect(agent.status().folders[0]?.state).toBe('ok');
  });
});
