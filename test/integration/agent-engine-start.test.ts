import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { SyncApiClient } from '../../main/remote';
import type { Settings } from '../../shared/settings';
import { startServer, type RunningServer } from '../../server/main';
import { FaultProxy } from '../fakes/fault-proxy';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// How the engine starts when the server does not answer: its wait for the server ends with a
// stop (no engine left running that nobody holds), and the remote folders it could not make are
// made once the server is there (docs/architecture.md, "Start and stop").

const FAST = { local: { settleMs: 30 }, push: { idlePollMs: 50, pollMaxMs: 100, offlineProbeBaseMs: 100, offlineProbeCapMs: 200 } };

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

const done = (agent: Agent, file: string) => async () => (await agent.handlers.listQueue({ offset: 0, limit: 100 })).items.some((it) => it.path === file && it.state === 'done');

describe('the engine when the server does not answer', () => {
  const tmp = makeTempDir('ferry-engine-start-');
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('two settings saves whose restarts overlap leave one engine, on the server the last one names', async () => {
    const dir = path.join(tmp.dir, 'overlap');
    const folder = path.join(dir, 'Docs');
    mkdirSync(folder, { recursive: true });
    const server = await startServer({ dataDir: path.join(dir, 'server'), port: 0 });
    cleanups.push(() => server.close());
    // An address that takes connections and never answers: a start waits there for its folders.
    const held: net.Socket[] = [];
    let connections = 0;
    const silent = net.createServer((socket) => {
      connections++;
      held.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => {
      for (const s of held) s.destroy();
      silent.close();
    });
    const agent = await createAgent({
      dataDir: path.join(dir, 'agent'),
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId: 'docs' }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: FAST,
    });
    await agent.start();
    const { hasToken: _h, tokenProtection: _t, ...settings } = await agent.handlers.getSettings({});
    const silentUrl = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;

    // Save A: the silent address. Its engine's start waits there for the remote folder.
    const saveA = agent.handlers.updateSettings({ ...settings, serverUrl: silentUrl, token: server.token });
    await waitFor(() => connections > 0, { timeoutMs: 10_000, message: 'the start under A asked the silent address' });
    // Save B, the right server again, while A's start still waits: B's restart stops A's engine.
    await agent.handlers.updateSettings({ ...settings, serverUrl: server.url, token: server.token });
    await saveA;
    // The silent address lets its connections go: A's engine, had it gone on, would pull and push there now.
    for (const s of held.splice(0)) s.destroy();
    const after = connections;

    writeFileSync(path.join(folder, 'saved.txt'), 'saved after both saves');
    await waitFor(done(agent, 'saved.txt'), { timeoutMs: 15_000, message: 'saved.txt sent to the server B names' });
    expect((await agent.handlers.getSettings({})).serverUrl).toBe(server.url);
    // Refused: any request of A's engine after B's save (its pull, its pusher's probe).
    expect(connections).toBe(after);
    // A stop ends promptly: no engine's pull left holding the folder's turn on the silent address.
    const stopped = await Promise.race([agent.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('still stopping'), 10_000))]);
    expect(stopped).toBe('stopped');
  }, 60_000);

  /** An agent syncing `<name>/Docs` (holding a.txt) as 'docs', through a proxy to `target`; `beforeStart` sets the proxy's rules. */
  async function agentBehindProxy(name: string, target: string, token: string, text: string, beforeStart: (proxy: FaultProxy) => void = () => undefined) {
    const dir = path.join(tmp.dir, name);
    const folder = path.join(dir, 'Docs');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'a.txt'), text);
    const proxy = await FaultProxy.start({ target });
    cleanups.push(() => proxy.close());
    beforeStart(proxy);
    const settings: Settings = testSettings(proxy.url, token, [{ localPath: folder, remoteId: 'docs' }]);
    const agent = await createAgent({ dataDir: path.join(dir, 'agent'), settings, saveSettings: () => undefined, tokenProtection: 'plaintext', tuning: FAST });
    await agent.start();
    cleanups.push(() => agent.stop());
    return { dir, agent, proxy };
  }

  it('a folder set up while the server is down is made on the server once it is up, and its file goes', async () => {
    const port = await freePort();
    const token = 'a-token-the-server-is-started-with-0123456789';
    // Through a proxy to the server's port, so that the folder's making can be slowed down below.
    const { dir, agent, proxy } = await agentBehindProxy('down', `http://127.0.0.1:${port}`, token, 'written before the server was up');
    // Once the server is up, the folder is made a second after the upload is ready to commit.
    proxy.add({ method: 'PUT', path: '/v1/folders/docs', times: Infinity, action: { kind: 'delay', ms: 1000 } });
    const server: RunningServer = await startServer({ dataDir: path.join(dir, 'server'), port, token });
    cleanups.push(() => server.close());
    // Refused before: the commit answered "Folder 'docs' not found" and the file stayed failed.
    await waitFor(done(agent, 'a.txt'), { timeoutMs: 15_000, message: 'a.txt sent once the server is up' });
    const client = new SyncApiClient({ baseUrl: server.url, token, deviceId: 'checker' });
    cleanups.push(() => client.close());
    expect((await client.changesPage('docs')).items.map((c) => c.path)).toEqual(['a.txt']);
    // It waited for the folder, and never read as failed (found by a new-user try: Activity kept
    // "a.txt: Folder 'docs' not found" above "Uploaded", and the queue showed failed meanwhile).
    const lines = await agent.handlers.listActivity({ limit: 100 });
    expect(lines.filter((l) => l.kind === 'failed')).toEqual([]);
  }, 60_000);

  // Found by review: a folder id the server refuses to make (another account's, answered 404)
  // was waited for without end, its uploads saying "the server has not made this folder yet".
  it('a folder the server refuses to make is not waited for: its upload fails with the server\'s reason', async () => {
    const server: RunningServer = await startServer({ dataDir: path.join(tmp.dir, 'refused-server'), port: 0 });
    cleanups.push(() => server.close());
    const { agent } = await agentBehindProxy('refused', server.url, server.token, 'for a folder the server will not make', (proxy) =>
      proxy.add({ method: 'PUT', path: '/v1/folders/docs', times: Infinity, action: { kind: 'status', status: 404, code: 'not_found', message: "Folder 'docs' not found" } }),
    );
    const item = await waitFor(async () => (await agent.handlers.listQueue({ offset: 0, limit: 100 })).items.find((it) => it.path === 'a.txt' && it.state === 'failed'), { timeoutMs: 15_000, message: 'a.txt failed' });
    expect(item).toMatchObject({ lastErrorCode: 'not_found', lastErrorMessage: expect.stringContaining("Folder 'docs' not found") });
  }, 60_000);
});
