import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../../main/control/commands/args';
import * as history from '../../main/control/commands/history';
import * as restore from '../../main/control/commands/restore';
import { startControlServer, type ControlServer } from '../../main/control/control-server';
import { ensureControlToken, writeAgentInfo } from '../../main/control/control-token';
import { createAgent, type Agent } from '../../main/engine/agent';
import { toAgentService } from '../../main/ui-adapter/agent-service';
import { startServer, type RunningServer } from '../../server/main';
import { FaultProxy } from '../fakes/fault-proxy';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Undo a mass delete (docs/sync-api.md, "History and restore"): two real agents on the real
// server over loopback, a confirmed delete of 1,000 files on both devices, then one
// `ferry restore --deleted` brings every file back on both, byte for byte, with no block
// uploaded (a proxy in front of the server counts every request).
describe('ferry restore undoes a confirmed mass delete on every device', () => {
  const tmp = makeTempDir('ferry-restore-');
  const folderA = path.join(tmp.dir, 'A');
  const folderB = path.join(tmp.dir, 'B');
  const dataA = path.join(tmp.dir, 'agent-a');
  const deleted = Array.from({ length: 1000 }, (_, i) => `doomed-${String(i).padStart(4, '0')}.txt`);
  const kept = Array.from({ length: 10 }, (_, i) => `kept-${i}.txt`);
  const content = (name: string) => `${name}: ${'x'.repeat(name.length * 7)} ${name.split('').reverse().join('')}\n`;
  let server: RunningServer;
  let proxy: FaultProxy;
  let a: Agent;
  let b: Agent;
  let control: ControlServer;

  const start = async (dataDir: string, folder: string) => {
    const agent = await createAgent({
      dataDir,
      settings: testSettings(proxy.url, server.token, [{ localPath: folder, remoteId: 'docs' }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 30 } },
    });
    await agent.start();
    return agent;
  };
  const files = (folder: string) => readdirSync(folder).filter((n) => !n.startsWith('.ferry')).sort();
  const holds = (folder: string, names: string[]) => names.every((n) => existsSync(path.join(folder, n)) && readFileSync(path.join(folder, n), 'utf8') === content(n));
  const blockUploads = () => proxy.requests({ method: 'PUT', path: /^\/v1\/blocks\// }).length + proxy.requests({ method: 'POST', path: '/v1/blocks/batch' }).length;
  const folderState = (agent: Agent) => agent.status().folders[0]!;
  const captureIo = () => {
    const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t + '\n'), err: (t: string) => void (io.stderr += t + '\n') };
    return io satisfies CommandIo;
  };

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    proxy = await FaultProxy.start({ target: server.url });
    mkdirSync(folderA);
    mkdirSync(folderB);
    for (const name of [...deleted, ...kept]) writeFileSync(path.join(folderA, name), content(name));
    a = await start(dataA, folderA);
    b = await start(path.join(tmp.dir, 'agent-b'), folderB);
    control = await startControlServer({ service: toAgentService(a), token: await ensureControlToken(dataA) });
    await writeAgentInfo(dataA, { pid: process.pid, controlUrl: control.url, startedAt: new Date().toISOString() });
    await waitFor(() => holds(folderB, [...deleted, ...kept]), { timeoutMs: 90_000, message: 'B has every file' });
  }, 120_000);

  afterAll(async () => {
    await control?.close();
    await a?.stop();
    await b?.stop();
    await proxy?.close();
    await server?.close();
    tmp.cleanup();
  });

  it('brings all 1,000 files back on both devices with one command, uploading nothing', async () => {
    // The delete: held by the guard on each device, and confirmed there by the user.
    await a.handlers.pause({});
    for (const name of deleted) rmSync(path.join(folderA, name));
    await waitFor(() => a.status().counts.pending >= deleted.length, { timeoutMs: 30_000 });
    await a.handlers.resume({});
    await waitFor(() => folderState(a).state === 'paused_mass_delete', { timeoutMs: 30_000, message: 'A holds the delete' });
    await a.handlers.confirmMassDelete({ folderId: 'docs' });
    await waitFor(() => folderState(b).state === 'paused_mass_delete', { timeoutMs: 60_000, message: 'B holds the delete' });
    await b.handlers.confirmMassDelete({ folderId: 'docs' });
    await waitFor(() => files(folderB).length === kept.length, { timeoutMs: 60_000, message: 'B deleted the files' });
    expect(files(folderA)).toEqual(kept);
    const uploadsBefore = blockUploads();

    // One command on device A.
    const io = captureIo();
    expect(await restore.run(['--deleted', '--folder', 'docs', '--data', dataA], io), io.stderr).toBe(0);
    expect(io.stdout).toContain(`Restored ${deleted.length} files in 'docs'`);

    await waitFor(() => holds(folderA, deleted) && holds(folderB, deleted), { timeoutMs: 90_000, message: 'every file back on both devices' });
    expect(files(folderA)).toEqual([...deleted, ...kept].sort());
    expect(files(folderB)).toEqual([...deleted, ...kept].sort());
    await waitFor(() => a.status().state === 'idle' && b.status().state === 'idle', { timeoutMs: 30_000 });
    expect(blockUploads()).toBe(uploadsBefore);

    // Nothing is left to restore, and the history of one file shows delete and restore.
    const again = captureIo();
    expect(await restore.run(['--deleted', '--folder', 'docs', '--data', dataA, '--json'], again)).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ restored: 0, failed: [], skipped: [] });
    const shown = captureIo();
    expect(await history.run([path.join(folderA, deleted[7]!), '--data', dataA, '--json'], shown)).toBe(0);
    const versions = (JSON.parse(shown.stdout) as { path: string; items: Array<{ deleted: boolean }> });
    expect(versions.path).toBe(deleted[7]);
    expect(versions.items.map((v) => v.deleted)).toEqual([false, true, false]);
  }, 240_000);

  it('refuses --revision with two paths and --deleted with a path, before asking the agent', async () => {
    const io = captureIo();
    expect(await restore.run(['x.txt', 'y.txt', '--revision', '4', '--data', dataA], io)).toBe(2);
    expect(io.stderr).toMatch(/one PATH/);
    expect(await restore.run(['x.txt', '--deleted', '--data', dataA], io)).toBe(2);
    expect(await restore.run(['--at', 'soon', 'x.txt', '--data', dataA], io)).toBe(2);
  });
});
