import os from 'node:os';
import { FerryError } from '../../protocol/errors';
import type { AgentEvent, ContractHandlers, Status } from '../../shared/ui-contract';
import type { AgentHost, AgentSettingsStore } from './agent-host';
import { pairAndSave } from '../engine/agent/pairing';

/**
 * Stands in for the engine while it does not run: before the first settings exist
 * (`reason: null`, an idle status, sync actions answer `not_configured`), or when it cannot
 * run (not built, native module failed): the tray shows the reason as an error and sync
 * actions answer `agent_unavailable`. Settings work in both cases.
 */
export function createFallbackAgent(options: { settings: AgentSettingsStore; logFile: string; reason: string | null }): AgentHost {
  const { settings, reason } = options;
  const listeners = new Set<(event: AgentEvent) => void>();
  const unavailable = async (): Promise<never> => {
    if (reason === null) throw new FerryError('not_configured', 'Set up a server and folders in Settings first.');
    throw new FerryError('agent_unavailable', `The sync engine is not running: ${reason}`);
  };
  const folders = () => (settings.view()?.folders ?? []).map((f) => ({ id: f.remoteId, localPath: f.localPath }));

  const status = (): Status => ({
    state: reason === null ? 'idle' : 'error',
    counts: { pending: 0, in_flight: 0, retry_wait: 0, failed: 0, done: 0 },
    folders: folders().map((f) => ({
      id: f.id,
      localPath: f.localPath,
      remoteId: f.id,
      state: reason === null ? 'ok' : 'error',
      error: reason,
      lastSyncAt: null,
      pendingDelete: null,
    })),
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
    undoMassDelete: unavailable,
    dismissUndo: unavailable,
    syncAfresh: unavailable,
    explainPath: unavailable,
    listDevices: async () => [],
    getHistory: unavailable,
    previewVersion: unavailable,
    listDeleted: unavailable,
    listConflicts: async () => ({ items: [] }),
    restore: unavailable,
    getSettings: async () => viewOrThrow(),
    updateSettings: async (update) => {
      settings.save(update);
      const view = viewOrThrow();
      for (const listener of listeners) listener({ type: 'settings', settings: view });
      return view;
    },
    // Pairing is how a first start gets its token: the engine starts once settings are saved.
    pairDevice: (input) => pairAndSave(input, (update) => handlers.updateSettings(update)),
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
