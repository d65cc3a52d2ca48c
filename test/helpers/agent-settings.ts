import { Settings, type FolderSettings } from '../../shared/ui-contract';

/** Settings for a test agent: the schema's defaults, a server and folders. */
export function testSettings(serverUrl: string, token: string, folders: FolderSettings[], overrides: Partial<Settings> = {}): Settings {
  return Settings.parse({ serverUrl, token, folders, ...overrides });
}
