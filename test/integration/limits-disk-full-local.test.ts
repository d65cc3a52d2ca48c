import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { startServer, type RunningServer } from '../../server/main';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs';
import { waitFor } from '../helpers/wait';

const MiB = 1024 * 1024;

// Issue 21, the device's disk full while the user writes: the agent's state database sits on
// a small real tmpfs the test fills, the folder on the ordinary disk; a real server over
// loopback and a second real agent check what arrived. What is refused: the agent going down,
// saying nothing, or losing a change it saw while the database could not grow.
describe('state database full while the user writes', () => {
  const tmp = makeTempDir('ferry-db-full-');
  let server: RunningServer;
  const agents: Agent[] = [];
  const mounts: Tmpfs[] = [];

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
  });
  afterEach(async () => {
    try {
      await Promise.all(agents.splice(0).map((a) => a.stop()));
    } finally {
      for (const m of mounts.splice(0)) m.unmount();
    }
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  async function agentOn(folder: string, dataDir: string): Promise<Agent> {
    mkdirSync(folder, { recursive: true });
    const agent = await createAgent({
      dataDir,
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId: 'db-full' }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 30, retryDelayMs: 200 }, pull: { pollTimeoutSec: 1, retryBaseMs: 100, retryMaxMs: 500 } },
    });
    agents.push(agent);
    await agent.start();
    return agent;
  }

  it('stays up, says disk_full, and uploads every change made meanwhile once space frees', async () => {
    const mount = mountTmpfs(path.join(tmp.dir, 'mnt'), 4 * MiB);
    mounts.push(mount);
    const folder = path.join(tmp.dir, 'writer');
    const writer = await agentOn(folder, path.join(mount.dir, 'data'));
    writeFileSync(path.join(folder, 'before.txt'), 'recorded before the disk filled');
    await waitFor(() => writer.status().counts.done >= 1 && writer.status().state === 'idle', { timeoutMs: 15_000, message: 'before.txt uploaded' });

    const filler = mount.fill();
    const files = new Map(Array.from({ length: 400 }, (_, i) => [`during/f${i}.txt`, randomBytes(4000)] as const));
    mkdirSync(path.join(folder, 'during'));
    for (const [name, data] of files) writeFileSync(path.join(folder, name), data);
    const full = await waitFor(() => writer.status().folders.find((f) => f.state === 'disk_full'), { timeoutMs: 20_000, message: 'writer folder in disk_full' });
    expect(full.error).toContain('state database');
    expect(writer.status().reason).toMatch(/full/);
    // Held full for longer than a hinted path's retries last (5 retries, 200 ms apart and
    // growing: 3 s): those hints were once dropped, and their changes waited for a restart.
    // All along the agent answers, stays disk_full and fails nothing.
    const since = Date.now();
    const seen = new Set<string>();
    await waitFor(
      () => {
        const s = writer.status();
        seen.add(`${s.folders[0]!.state} failed=${s.counts.failed}`);
        return Date.now() - since > 4_000;
      },
      { timeoutMs: 10_000, intervalMs: 50, message: 'held full for 4 s' },
    );
    expect([...seen]).toEqual(['disk_full failed=0']);

    rmSync(filler);
    await waitFor(() => writer.status().counts.done >= files.size + 2 && writer.status().folders[0]!.state === 'ok', {
      timeoutMs: 30_000,
      message: 'every change uploaded once space freed',
    });
    expect(writer.status().counts.failed).toBe(0);

    const readerDir = path.join(tmp.dir, 'reader');
    await agentOn(readerDir, path.join(tmp.dir, 'reader-data'));
    for (const [name, data] of files) {
      await waitFor(() => existsSync(path.join(readerDir, name)) && readFileSync(path.join(readerDir, name)).equals(data), { timeoutMs: 20_000, message: `${name} arrived` });
    }
  }, 120_000);
});
