import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { deviceStateParts } from '../../shared/device-words';
import { startServer, type RunningServer } from '../../server/main';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

/**
 * A TCP relay to the server on loopback that can stop relaying: `hold()` keeps every byte the
 * agent sends from then on (and every new connection) without an answer, as a server that went
 * unreachable mid-connection does. What it kept is in `held`.
 */
async function relayTo(port: number): Promise<{ url: string; hold(): void; held(): string; close(): Promise<void> }> {
  let holding = false;
  let held = '';
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('data', (chunk: Buffer) => {
      if (holding) held += chunk.toString('utf8');
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!holding) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const { port: relayPort } = relay.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${relayPort}`,
    hold: () => void (holding = true),
    held: () => held,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => relay.close(() => resolve()));
    },
  };
}

// Found by a new-user try: a device whose agent was quit cleanly read "up to date" on the other
// devices for three minutes (the silence rule). Its clean stop now says so in a last report.
// Real agents (in-process) on the real server over loopback, real temp folders, real SQLite.
describe('a device whose agent was quit', () => {
  const tmp = makeTempDir('ferry-device-stopped-');
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  async function startAgent(name: string, remoteId: string, url = server.url, stopReportMs?: number): Promise<Agent> {
    const folder = path.join(tmp.dir, `${name}-${remoteId}`);
    mkdirSync(folder, { recursive: true });
    const agent = await createAgent({
      dataDir: path.join(tmp.dir, `${name}-${remoteId}-data`),
      deviceName: name,
      clientVersion: 'ferry/test',
      settings: testSettings(url, server.token, [{ localPath: folder, remoteId }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 50 }, pull: { pollTimeoutSec: 1 }, ...(stopReportMs !== undefined ? { stopReportMs } : {}) },
    });
    await agent.start();
    return agent;
  }

  const seenBy = async (agent: Agent, name: string) => (await agent.handlers.listDevices({}))[0]!.devices.find((d) => d.name === name);

  it('is seen stopped by the others as soon as its stop returns, and no longer once it starts again', async () => {
    const a = await startAgent('laptop', 'quit');
    let b = await startAgent('desktop', 'quit');
    try {
      await waitFor(async () => (await seenBy(a, 'desktop'))?.behind === 0, { timeoutMs: 15_000, message: 'A sees B up to date' });
      expect((await seenBy(a, 'desktop'))!.stopped).toBeUndefined();
      await b.stop();
      // At once: no wait, no three minutes of silence.
      const quit = (await seenBy(a, 'desktop'))!;
      expect(quit).toMatchObject({ stopped: true, upToDate: false });
      const words = deviceStateParts(quit, String, Date.now());
      expect(words.inSync).toBe(false);
      expect(words.parts[0]).toMatch(/^stopped \(quit at \d\d:\d\d\)$/);
      expect(words.parts).not.toContain('up to date');
      expect(words.parts).not.toContain('not reporting (stopped, or cannot reach the server)');
      // Started again (same data directory, same device id): its next report clears it.
      b = await startAgent('desktop', 'quit');
      await waitFor(async () => (await seenBy(a, 'desktop'))?.stopped === undefined, { timeoutMs: 10_000, message: 'A sees B running again' });
      expect((await seenBy(a, 'desktop'))!.upToDate).toBe(true);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  it('does not hold its stop past the deadline when the server does not answer', async () => {
    const relay = await relayTo(Number(new URL(server.url).port));
    const a = await startAgent('laptop', 'unanswered');
    const b = await startAgent('desktop', 'unanswered', relay.url, 300);
    try {
      await waitFor(async () => (await seenBy(a, 'desktop'))?.behind === 0, { timeoutMs: 15_000, message: 'A sees B through the relay' });
      relay.hold();
      // Far below the client's 60 s request timeout: only the stop's own deadline ends it this soon.
      let stopped = false;
      const stopping = b.stop().then(() => (stopped = true));
      await waitFor(() => stopped, { timeoutMs: 10_000, message: "B's stop returned" });
      await stopping;
      // It did try: its last report, saying it stopped, went out and was held.
      expect(relay.held()).toContain('"stopped":true');
      // Never got through: the others read it by the silence rule, as a killed one.
      expect((await seenBy(a, 'desktop'))!.stopped).toBeUndefined();
    } finally {
      await a.stop();
      await b.stop();
      await relay.close();
    }
  }, 60_000);
});
