import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CommandIo } from '../../main/control/commands/args';
import type { Settings } from '../../shared/ui-contract';
import { createAgent, type Agent, type AgentOptions } from '../../main/engine/agent';
import { startServer, type RunningServer } from '../../server/main';
import { FaultProxy } from '../fakes/fault-proxy';
import { makeTempDir } from './local-temp';
import { testSettings } from './agent-settings';
import { waitFor } from './wait';

export interface AgentsOnServerOptions {
  /** The shared folder's id on the server and on each device (default `shared`). */
  remoteId?: string;
  /** Agents reach the server through a FaultProxy (to count or fail requests). */
  proxied?: boolean;
}

/**
 * Real agents (in-process) on real temp folders sharing one folder through one real server over
 * loopback: `start()` the server, then `agent(name, folder)` each device. Each device keeps its
 * state in `dataDir(name)`, so `restart(name)` brings it back as it was.
 */
export function agentsOnServer(prefix: string, tuning: AgentOptions['tuning'], onSave: (s: Settings) => void = () => undefined, options: AgentsOnServerOptions = {}) {
  const tmp = makeTempDir(prefix);
  const agents: Agent[] = [];
  const byName = new Map<string, { agent: Agent; folder: string }>();
  let server: RunningServer | undefined;
  let proxy: FaultProxy | undefined;
  const running = () => {
    if (!server) throw new Error('agentsOnServer: start() the server first');
    return server;
  };
  const dataDir = (name: string) => path.join(tmp.dir, `data-${name}`);
  const launch = async (name: string, folder: string): Promise<Agent> => {
    mkdirSync(folder, { recursive: true });
    const agent = await createAgent({
      dataDir: dataDir(name),
      deviceName: name,
      settings: testSettings(proxy?.url ?? running().url, running().token, [{ localPath: folder, remoteId: options.remoteId ?? 'shared' }]),
      saveSettings: onSave,
      tokenProtection: 'plaintext',
      ...(tuning ? { tuning } : {}),
    });
    agents.push(agent);
    byName.set(name, { agent, folder });
    await agent.start();
    return agent;
  };
  return {
    dir: tmp.dir,
    agents,
    get server(): RunningServer {
      return running();
    },
    get proxy(): FaultProxy {
      if (!proxy) throw new Error('agentsOnServer: the proxy is there with { proxied: true } once start() is done');
      return proxy;
    },
    dataDir,
    async start(): Promise<void> {
      server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
      if (options.proxied) proxy = await FaultProxy.start({ target: server.url });
    },
    agent: launch,
    /** Stops the device and starts it again on the same state and folder (`whileStopped` runs in between). */
    async restart(name: string, whileStopped: () => void | Promise<void> = () => undefined): Promise<Agent> {
      const known = byName.get(name);
      if (!known) throw new Error(`agentsOnServer: no device ${name}`);
      agents.splice(agents.indexOf(known.agent), 1);
      await known.agent.stop();
      await whileStopped();
      return launch(name, known.folder);
    },
    async stop(): Promise<void> {
      for (const agent of agents) await agent.stop();
      await proxy?.close();
      await server?.close();
      tmp.cleanup();
    },
  };
}

/** A test file's bytes, made from its name (a file restored from the wrong block shows). */
export const contentOf = (name: string) => `${name}: ${'x'.repeat(name.length * 7)} ${name.split('').reverse().join('')}\n`;

/** Every one of `names` is in `folder` with its own content. */
export const holdsAll = (folder: string, names: readonly string[]) =>
  names.every((n) => existsSync(path.join(folder, n)) && readFileSync(path.join(folder, n), 'utf8') === contentOf(n));

/**
 * Devices `a` and `b` (through the proxy, folder id as set up) sharing `names`, written in a's
 * folder first: the start of the tests that delete many files and bring them back. Resolves
 * once b holds every file.
 */
export async function twoDevicesHolding(setup: ReturnType<typeof agentsOnServer>, names: readonly string[]) {
  const folderA = path.join(setup.dir, 'A');
  const folderB = path.join(setup.dir, 'B');
  for (const name of names) {
    mkdirSync(path.dirname(path.join(folderA, name)), { recursive: true });
    writeFileSync(path.join(folderA, name), contentOf(name));
  }
  const a = await setup.agent('a', folderA);
  const b = await setup.agent('b', folderB);
  await waitFor(() => holdsAll(folderB, names), { timeoutMs: 90_000, message: 'B has every file' });
  return { a, b, folderA, folderB };
}

/**
 * `names` deleted on a, held by the mass-delete guard on each device and confirmed there by the
 * user (`onHeld` looks at a while it holds, before its confirm). Resolves once b deleted them.
 */
export async function deleteConfirmedOnBoth(a: Agent, b: Agent, folderA: string, folderB: string, names: readonly string[], onHeld: () => void = () => undefined): Promise<void> {
  const folderId = a.status().folders[0]!.id;
  await a.handlers.pause({});
  for (const name of names) rmSync(path.join(folderA, name));
  await waitFor(() => a.status().counts.pending >= names.length, { timeoutMs: 30_000 });
  await a.handlers.resume({});
  await waitFor(() => a.status().folders[0]!.state === 'paused_mass_delete', { timeoutMs: 30_000, message: 'A holds the delete' });
  onHeld();
  await a.handlers.confirmMassDelete({ folderId });
  await waitFor(() => b.status().folders[0]!.state === 'paused_mass_delete', { timeoutMs: 60_000, message: 'B holds the delete' });
  await b.handlers.confirmMassDelete({ folderId });
  await waitFor(() => names.every((n) => !existsSync(path.join(folderB, n))), { timeoutMs: 60_000, message: 'B deleted the files' });
}

/** Block uploads the proxy let through (a restore that uploads nothing leaves it as it was). */
export const blockUploads = (proxy: FaultProxy) => proxy.requests({ method: 'PUT', path: /^\/v1\/blocks\// }).length + proxy.requests({ method: 'POST', path: '/v1/blocks/batch' }).length;

/** A CommandIo that keeps what a command prints. */
export function captureIo(): CommandIo & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t + '\n'), err: (t: string) => void (io.stderr += t + '\n') };
  return io;
}
