import { createAgent, type Agent } from '../../main/engine/agent';
import { Settings, type FolderSettings } from '../../shared/ui-contract';

/** Settings for a test agent: the schema's defaults, a server and folders. */
export function testSettings(serverUrl: string, token: string, folders: FolderSettings[], overrides: Partial<Settings> = {}): Settings {
  return Settings.parse({ serverUrl, token, folders, ...overrides });
}

/** A started agent on `dataDir` syncing `folders` with a test server; hints settle in 30 ms. */
export async function startTestAgent(dataDir: string, server: { url: string; token: string }, folders: FolderSettings[]): Promise<Agent> {
  const agent = await createAgent({
    dataDir,
    settings: testSettings(server.url, server.token, folders),
    saveSettings: () => undefined,
    tokenProtection: 'plaintext',
    tuning: { local: { settleMs: 30 } },
  });
  await agent.start();
  return agent;
}
