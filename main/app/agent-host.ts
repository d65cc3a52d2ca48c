import type { AgentService, Settings, SettingsUpdate, SettingsView } from '../../shared/ui-contract';
import type { Agent, AgentOptions, createAgent } from '../engine/agent';

/**
 * What the Electron shell needs from the engine. engine-host.ts builds an AgentHost around
 * the engine's `createAgent` (main/engine/agent); the shell never reaches past this
 * interface, so the shell is tested with fakes and the engine without Electron.
 */
export interface AgentHost {
  /**
   * The contract handlers plus events. Answers before `start`, so the settings window can
   * write the first settings; `updateSettings` saves through the settings store, applies the
   * change to a running engine and emits a `settings` event (the shell listens to it).
   */
  readonly service: AgentService;
  /** Starts syncing. The shell calls it at launch when settings exist, else after the first save. */
  start(settings: Settings): Promise<void>;
  /** Stops watchers and in-flight work and closes the databases; safe to call twice. */
  stop(): Promise<void>;
  /** The configured folders, for the tray's "Open folder" submenu. */
  folders(): AgentFolder[];
  /** The agent's log file (the "Open logs" action shows its folder). */
  readonly logFile: string;
}

export interface AgentFolder {
  id: string;
  localPath: string;
}

/** Settings persistence the shell provides: JSON in userData, the token in safeStorage. */
export interface AgentSettingsStore {
  /** The complete settings, or null before the first save (or with no readable token). */
  load(): Settings | null;
  /** Validates and saves; an empty or absent token keeps the stored one. Throws FerryError 'invalid_input' with fields. */
  save(update: SettingsUpdate): Settings;
  /** What the UI may see (never the token), or null before the first save. */
  view(): SettingsView | null;
  tokenProtection(): 'os' | 'plaintext';
}

/** The engine's factory and what it makes (type-only: the shell loads the engine lazily). */
export type EngineAgentOptions = AgentOptions;
export type EngineAgent = Agent;
export type CreateEngineAgent = typeof createAgent;
