import type { AgentEvent, AgentService, ContractHandlers } from '../../shared/ui-contract';
import type { AgentApi, AgentEvent as EngineEvent } from '../engine/agent';
import { activityView, conflictCopyView, deletedFileView, fileVersionView, queueItemView, restoreRequest, restoreResult } from './views';

/**
 * The engine's API as the UI contract's handlers and events: the one place where the engine's
 * terms (store rows, epoch times, fine-grained activity words) become what the UI shows.
 * Both hosts (the Electron shell, the headless control API) serve the result.
 */
export function toAgentService(agent: AgentApi): AgentService {
  const engine = agent.handlers;
  const handlers: ContractHandlers = {
    getStatus: () => engine.getStatus({}),
    listQueue: async (query) => {
      const page = await engine.listQueue(query);
      return { items: page.items.map(queueItemView), total: page.total };
    },
    listActivity: async (input) => (await engine.listActivity(input)).map(activityView),
    syncNow: (input) => engine.syncNow(input),
    pause: () => engine.pause({}),
    resume: () => engine.resume({}),
    retry: (input) => engine.retry(input),
    confirmMassDelete: (input) => engine.confirmMassDelete(input),
    cancelMassDelete: (input) => engine.cancelMassDelete(input),
    undoMassDelete: async (input) => restoreResult(await engine.undoMassDelete(input)),
    dismissUndo: (input) => engine.dismissUndo(input),
    syncAfresh: (input) => engine.syncAfresh(input),
    explainPath: (input) => engine.explainPath(input),
    listDevices: (input) => engine.listDevices(input),
    getHistory: async (input) => {
      const { items, nameNow } = await engine.getHistory(input);
      return { items: items.map(fileVersionView), ...(nameNow !== undefined ? { nameNow } : {}) };
    },
    previewVersion: (input) => engine.previewVersion(input),
    listDeleted: async (input) => ({ items: (await engine.listDeleted(input)).map(deletedFileView) }),
    restore: async (input) => {
      return restoreResult(await engine.restore({ folderId: input.folderId, request: restoreRequest(input) }));
    },
    listConflicts: async (input) => ({ items: (await engine.listConflicts(input)).map(conflictCopyView) }),
    getSettings: () => engine.getSettings({}),
    updateSettings: (update) => engine.updateSettings(update),
    pairDevice: (input) => engine.pairDevice(input),
  };
  return {
    handlers,
    subscribe: (listener) => agent.subscribe((event) => listener(eventView(event))),
  };
}

export function eventView(event: EngineEvent): AgentEvent {
  switch (event.type) {
    case 'queue':
      return { type: 'queue', items: event.items.map(queueItemView) };
    case 'activity':
      return { type: 'activity', entry: activityView(event.entry) };
    default:
      return event;
  }
}
