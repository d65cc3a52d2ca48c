import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../main/engine/agent';
import { readChanges } from '../../main/engine/pull/changes-reader';
import { SyncApiClient } from '../../main/remote';
import { startServer, type RunningServer } from '../../server/main';
import { FaultProxy } from '../fakes/fault-proxy';
import { createAgent } from '../../main/engine/agent';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Issue 16: renaming a folder that holds every file of the synced folder held it as a mass
// delete and the other device never saw the new name. Refused here: the guard pausing the
// folder for a rename, a rename that does not reach the other device, and any block that
// device downloads for it (it counts through a proxy). Real agents, real server, real disks.
describe('a renamed folder is a move, never a mass delete', () => {
  const tmp = makeTempDir('ferry-moves-');
  let server: RunningServer;
  let proxy: FaultProxy;
  let observer: SyncApiClient;
  const agents: Agent[] = [];

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    proxy = await FaultProxy.start({ target: server.url });
    observer = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'observer' });
  });

  afterAll(async () => {
    await Promise.allSettled(agents.map((a) => a.stop()));
    observer.close();
    await proxy.close();
    await server.close();
    tmp.cleanup();
  });

  const serverFiles = async (folderId: string): Promise<string[]> => {
    const read = await readChanges(observer, folderId, undefined, {});
    if (read.kind !== 'ok') throw new Error('full listing expired');
    return read.items.filter((i) => !i.deleted && i.kind === 'file').map((i) => i.path).sort();
  };
  const filesOnDisk = (root: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (dir: string, prefix: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === '.ferry') continue;
        const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) walk(path.join(dir, entry.name), rel);
        else out[rel] = readFileSync(path.join(dir, entry.name), 'utf8');
      }
    };
    walk(root, '');
    return out;
  };

  /** An agent whose guard asks above 10 deletes (the default 1,000 scaled to a test's folder). */
  async function startAgent(name: string, url: string, localPath: string, remoteId: string): Promise<Agent> {
    const agent = await createAgent({
      dataDir: path.join(tmp.dir, `agent-${name}`),
      settings: testSettings(url, server.token, [{ localPath, remoteId }], { massDeleteCount: 10 }),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 30 } },
    });
    await agent.start();
    agents.push(agent);
    return agent;
  }

  it('renaming the folder that holds all 30 files: no pause, the other device shows the new name with no block downloaded', async () => {
    const id = 'everything';
    const rootA = path.join(tmp.dir, 'a');
    const rootB = path.join(tmp.dir, 'b');
    const names = Array.from({ length: 30 }, (_, i) => `${i % 3 ? 'sub/' : ''}file-${String(i).padStart(2, '0')}.txt`);
    for (const rel of names) {
      mkdirSync(path.dirname(path.join(rootA, 'Projects', rel)), { recursive: true });
      writeFileSync(path.join(rootA, 'Projects', rel), `content of ${rel}`);
    }
    mkdirSync(rootB);
    const a = await startAgent('a', server.url, rootA, id);
    await waitFor(async () => (await serverFiles(id)).length === names.length, { timeoutMs: 20_000 });
    const b = await startAgent('b', proxy.url, rootB, id);
    await waitFor(() => Object.keys(filesOnDisk(rootB)).length === names.length, { timeoutMs: 20_000 });
    await waitFor(() => a.status().state === 'idle' && b.status().state === 'idle', { timeoutMs: 10_000 });
    const blockRequestsBefore = proxy.requests({ path: /^\/v1\/blocks/ }).length;

    renameSync(path.join(rootA, 'Projects'), path.join(rootA, 'Projects 2026'));

    const expected = names.map((rel) => `Projects 2026/${rel}`).sort();
    const states = new Set<string>();
    await waitFor(
      async () => {
        states.add(a.status().folders[0]!.state);
        return (await serverFiles(id)).join('\n') === expected.join('\n');
      },
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    states.add(a.status().folders[0]!.state);
    expect([...states], 'folder states of the renaming device').not.toContain('paused_mass_delete');
    await waitFor(() => Object.keys(filesOnDisk(rootB)).sort().join('\n') === expected.join('\n'), { timeoutMs: 20_000 });
    const onB = filesOnDisk(rootB);
    for (const rel of names) expect(onB[`Projects 2026/${rel}`]).toBe(`content of ${rel}`);
    expect(proxy.requests({ path: /^\/v1\/blocks/ }).slice(blockRequestsBefore), 'block requests of the other device').toEqual([]);
  });
});
