import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Settings } from '../../shared/ui-contract';
import { createAgent, type Agent, type AgentOptions } from '../../main/engine/agent';
import { startServer, type RunningServer } from '../../server/main';
import { makeTempDir } from './local-temp';
import { testSettings } from './agent-settings';

/**
 * Real agents (in-process) on real temp folders sharing the folder `shared` through one real
 * server over loopback: `start()` the server, then `agent(name, folder)` each device.
 */
export function agentsOnServer(prefix: string, tuning: AgentOptions['tuning'], onSave: (s: Settings) => void = () => undefined) {
  const tmp = makeTempDir(prefix);
  const agents: Agent[] = [];
  let server: RunningServer | undefined;
  const running = () => {
    if (!server) throw new Error('agentsOnServer: start() the server first');
    return server;
  };
  return {
    dir: tmp.dir,
    agents,
    get server(): RunningServer {
      return running();
    },
    async start(): Promise<void> {
      server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    },
    async agent(name: string, folder: string): Promise<Agent> {
      mkdirSync(folder, { recursive: true });
      const agent = await createAgent({
        dataDir: path.join(tmp.dir, `data-${name}`),
        deviceName: name,
        settings: testSettings(running().url, running().token, [{ localPath: folder, remoteId: 'shared' }]),
        saveSettings: onSave,
        tokenProtection: 'plaintext',
        ...(tuning ? { tuning } : {}),
      });
      agents.push(agent);
      await agent.start();
      return agent;
    },
    async stop(): Promise<void> {
      for (const agent of agents) await agent.stop();
      await server?.close();
      tmp.cleanup();
    },
  };
}
