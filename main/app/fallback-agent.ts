import os from 'node:os';
import { FerryError } from '../../protocol/errors';
import type { AgentEvent, ContractHandlers, Status } from '../../preload/contract';
import type { AgentHost, AgentSettingsStore } from './agent-host';

/**
 * Stands in for the engine when it cannot run (not built yet, or its native module failed
 * to load): the tray shows the reason as an error, Settings still work, and every sync
 * action answers `agent_unavailable` instead of hanging.
 */
export function createFallbackAgent(options: { settings: AgentSettingsStore; logFile: string; reason: string }): AgentHost {
  const { settings, reason } = options;
  const listeners = new Set<(event: AgentEvent) => void>();
  const unavailable = async (): Promise<never> => {
    throw new FerryError('agent_unavailable', `The sync engine is not running: ${reason}`);
  };
  const folders = () => (settings.view()?.folders ?? []).map((f) => ({ id: f.remoteId, localPath: f.localPath }));

  const status = (): Status => ({
    state: 'error',
    counts: { pending: 0, in_flight: 0, retry_wait: 0, failed: 0, done: 0 },
    folders: folders().map((f) => ({ id: f.id, localPath: f.localPath, remoteId: f.id, state: 'error', error: reason, lastSyncAt: null, pendingDelete: null })),
    lastSyncAt: null,
    rates: { uploadBytesPerSec: 0, downloadBytesPerSec: 0, itemsPerSec: 0 },
    run: null,
    deviceId: '',
    deviceName: os.hostname(),
  });

  const viewOrThrow = () => {
    const view = settings.view();
    if (!view) throw new FerryError('not_configured', 'Ferry has no settings yet.');
    return view;
  };

  const handlers: ContractHandlers = {
    getStatus: async () => status(),
    listQueue: async () => ({ items: [], total: 0 }),
    listActivity: async () => [],
    syncNow: unavailable,
    pause: unavailable,
    resume: unavailable,
    retry: unavailable,
    confirmMassDelete: unavailable,
    cancelMassDelete: unavailable,
    getSettings: async () => viewOrThrow(),
    updateSettings: async (update) => {
      settings.save(update);
      const view = viewOrThrow();
      for (const listener of listeners) listener({ type: 'settings', settings: view });
      return view;
    },
  };

  return {
    service: {
      handlers,
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    start: async () => {},
    stop: async () => {},
    folders,
    logFile: options.logFile,
  };
}
