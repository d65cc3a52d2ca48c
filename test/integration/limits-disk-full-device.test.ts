import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import type { PullerOptions } from '../../main/engine/pull';
import { startServer, type RunningServer } from '../../server/main';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs';
import { waitFor } from '../helpers/wait';

const MiB = 1024 * 1024;

/** Every file under dir (the test's filler left out), relative, '.ferry/tmp' included. */
function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((d) => {
    const child = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) return filesUnder(dir, child);
    return d.name === '.filler' ? [] : [child];
  });
}

// Issue 21, a device's disk full during a pull: a real server over loopback, a real sender
// agent and a real receiver agent whose folder sits on a small real tmpfs. What is refused:
// a pull that leaves a partial or temp file, marks anything failed, or says nothing.
describe('device disk full', () => {
  const tmp = makeTempDir('ferry-disk-full-');
  let server: RunningServer;
  const agents: Agent[] = [];
  const mounts: Tmpfs[] = [];
  let n = 0;

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

  async function agentOn(folder: string, remoteId: string, dataDir: string, pull: Partial<PullerOptions>, local: { retryDelayMs?: number } = {}): Promise<Agent> {
    mkdirSync(folder, { recursive: true });
    const agent = await createAgent({
      dataDir,
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 30, ...local }, pull: { pollTimeoutSec: 1, ...pull } },
    });
    agents.push(agent);
    await agent.start();
    return agent;
  }

  /** A sender with its folder on the ordinary disk, and a receiver whose folder is on a fresh tmpfs. */
  async function pair(options: { tmpfsBytes: number; pull: Partial<PullerOptions>; dataDirOnTmpfs?: boolean }) {
    const id = `full-${++n}`;
    const mount = mountTmpfs(path.join(tmp.dir, `mnt-${n}`), options.tmpfsBytes);
    mounts.push(mount);
    const senderDir = path.join(tmp.dir, `sender-${n}`);
    const sender = await agentOn(senderDir, id, path.join(tmp.dir, `sender-data-${n}`), {});
    const receiverDir = path.join(mount.dir, 'folder');
    const receiverData = options.dataDirOnTmpfs ? path.join(mount.dir, 'data') : path.join(tmp.dir, `receiver-data-${n}`);
    const receiver = await agentOn(receiverDir, id, receiverData, options.pull);
    return { mount, sender, senderDir, receiver, receiverDir };
  }

  async function sent(agent: Agent, files: number) {
    await waitFor(() => agent.status().counts.done >= files && agent.status().state === 'idle', { timeoutMs: 20_000, message: `${files} file(s) uploaded` });
  }

  const noFailures = async (agent: Agent) => {
    expect(agent.status().counts.failed).toBe(0);
    expect((await agent.handlers.listQueue({ state: 'failed', offset: 0, limit: 10 })).total).toBe(0);
  };

  it('says disk_full, leaves nothing partial, and the file arrives by itself once the filesystem grows', async () => {
    const { mount, sender, senderDir, receiver, receiverDir } = await pair({ tmpfsBytes: 3 * MiB, pull: { retryBaseMs: 100, retryMaxMs: 500 } });
    writeFileSync(path.join(senderDir, 'small.txt'), 'fits');
    await sent(sender, 1);
    await waitFor(() => existsSync(path.join(receiverDir, 'small.txt')), { timeoutMs: 15_000, message: 'small.txt pulled' });

    const big = randomBytes(6 * MiB);
    writeFileSync(path.join(senderDir, 'big.bin'), big);
    await sent(sender, 2);

    const full = await waitFor(() => receiver.status().folders.find((f) => f.state === 'disk_full'), { timeoutMs: 20_000, message: 'receiver folder in disk_full' });
    expect(full.error).toContain(receiverDir);
    expect(full.error).toMatch(/full/);
    expect(receiver.status().state).toBe('error');
    expect(receiver.status().reason).toMatch(/full/);
    // Nothing partial: no big.bin, no temp file; what was synced before is still there.
    expect(filesUnder(receiverDir).sort()).toEqual(['.ferry/folder-id', 'small.txt'].filter((f) => existsSync(path.join(receiverDir, f))).sort());
    expect(readFileSync(path.join(receiverDir, 'small.txt'), 'utf8')).toBe('fits');
    await noFailures(receiver);
    // Why big.bin is not here: the full disk, its own failed pull and what the server holds;
    // the folder's last pull error with it (issue 17).
    const why = await receiver.handlers.explainPath({ path: 'big.bin', folderId: full.id });
    expect(why.inSync).toBe(false);
    expect(why.reasons.map((r) => r.code)).toEqual(['disk_full', 'pull_failed', 'on_server']);
    expect(why.reasons[1]!.message).toMatch(/^Its pull failed at .+ \(disk_full: /);
    expect(why.lastPullError).toMatchObject({ code: 'disk_full', retryable: true });
    // It keeps trying (the retry runs while the disk is full) and stays disk_full, not failed.
    const before = receiver.status().folders[0]!.error;
    await waitFor(() => receiver.status().folders[0]!.state === 'disk_full' && filesUnder(receiverDir).every((f) => !f.startsWith('.ferry/tmp/')), { timeoutMs: 5_000 });
    expect(receiver.status().folders[0]!.error).toBe(before);

    mount.resize(16 * MiB);
    await waitFor(() => existsSync(path.join(receiverDir, 'big.bin')) && readFileSync(path.join(receiverDir, 'big.bin')).equals(big), {
      timeoutMs: 20_000,
      message: 'big.bin arrived after the disk grew',
    });
    await waitFor(() => receiver.status().folders[0]!.state !== 'disk_full' && receiver.status().state === 'idle', { timeoutMs: 10_000, message: 'disk_full cleared' });
    expect(receiver.status().folders[0]!.error).toBeNull();
    expect(filesUnder(receiverDir).filter((f) => f.startsWith('.ferry/tmp/'))).toEqual([]);
    await noFailures(receiver);
  }, 90_000);

  it('Sync now retries at once once space frees, without waiting for the next retry', async () => {
    // Retries a minute apart: only Sync now can bring the file within the test's deadline.
    const { mount, sender, senderDir, receiver, receiverDir } = await pair({ tmpfsBytes: 2 * MiB, pull: { retryBaseMs: 60_000, retryMaxMs: 60_000 } });
    const big = randomBytes(4 * MiB);
    writeFileSync(path.join(senderDir, 'big.bin'), big);
    await sent(sender, 1);
    await waitFor(() => receiver.status().folders[0]!.state === 'disk_full', { timeoutMs: 20_000, message: 'receiver folder in disk_full' });
    expect(existsSync(path.join(receiverDir, 'big.bin'))).toBe(false);

    mount.resize(16 * MiB);
    await receiver.handlers.syncNow({});
    await waitFor(() => existsSync(path.join(receiverDir, 'big.bin')) && readFileSync(path.join(receiverDir, 'big.bin')).equals(big), {
      timeoutMs: 20_000,
      message: 'big.bin arrived after Sync now',
    });
    await waitFor(() => receiver.status().folders[0]!.state === 'ok', { timeoutMs: 10_000, message: 'disk_full cleared' });
    await noFailures(receiver);
  }, 90_000);

  it('with the state database on the full disk too: the agent stays up, keeps its queue, and catches up once the filler is removed', async () => {
    const { mount, sender, senderDir, receiver, receiverDir } = await pair({ tmpfsBytes: 4 * MiB, pull: { retryBaseMs: 100, retryMaxMs: 500 }, dataDirOnTmpfs: true });
    await waitFor(() => receiver.status().state === 'idle', { timeoutMs: 15_000, message: 'receiver idle' });
    const filler = mount.fill();
    const contents = new Map(Array.from({ length: 20 }, (_, i) => [`f${i}.txt`, randomBytes(2000)] as const));
    for (const [name, data] of contents) writeFileSync(path.join(senderDir, name), data);
    await sent(sender, contents.size);

    await waitFor(() => receiver.status().folders[0]!.state === 'disk_full', { timeoutMs: 20_000, message: 'receiver folder in disk_full' });
    expect(filesUnder(receiverDir).filter((f) => f.startsWith('.ferry/tmp/'))).toEqual([]);
    await noFailures(receiver);

    rmSync(filler);
    for (const [name, data] of contents) {
      await waitFor(() => existsSync(path.join(receiverDir, name)) && readFileSync(path.join(receiverDir, name)).equals(data), { timeoutMs: 20_000, message: `${name} arrived` });
    }
    await waitFor(() => receiver.status().folders[0]!.state === 'ok', { timeoutMs: 10_000, message: 'disk_full cleared' });
    await noFailures(receiver);
  }, 90_000);

  // Issue 21, the device's disk full while the user writes: the agent's state database on the
  // tmpfs, the folder on the ordinary disk. What is refused: the agent going down, saying
  // nothing, or losing a change it saw while the database could not grow.
  it('with the state database full while the user writes: stays up, says disk_full, and uploads every change made meanwhile once space frees', async () => {
    const mount = mountTmpfs(path.join(tmp.dir, 'mnt-db'), 4 * MiB);
    mounts.push(mount);
    const folder = path.join(tmp.dir, 'writer');
    const writer = await agentOn(folder, 'db-full', path.join(mount.dir, 'data'), { retryBaseMs: 100, retryMaxMs: 500 }, { retryDelayMs: 200 });
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
    await agentOn(readerDir, 'db-full', path.join(tmp.dir, 'reader-data'), {});
    for (const [name, data] of files) {
      await waitFor(() => existsSync(path.join(readerDir, name)) && readFileSync(path.join(readerDir, name)).equals(data), { timeoutMs: 20_000, message: `${name} arrived` });
    }
  }, 120_000);
});
