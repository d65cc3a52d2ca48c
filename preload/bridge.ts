import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  IPC_CHANNEL_PREFIX,
  IPC_EVENT_CHANNEL,
  methodNames,
  type AgentEvent,
  type CallResult,
  type FerryApi,
  type MethodInput,
  type MethodName,
  type MethodOutput,
} from '../shared/ui-contract';

/**
 * The sandboxed preload: exposes `window.ferry`, one method per contract action plus the
 * generic `call`/`subscribe` of FerryApi. The page never gets ipcRenderer, an IPC event
 * object or a channel name of its choosing.
 */

type ActionMethods = {
  [M in MethodName]: undefined extends MethodInput<M>
    ? (input?: MethodInput<M>) => Promise<CallResult<MethodOutput<M>>>
    : (input: MethodInput<M>) => Promise<CallResult<MethodOutput<M>>>;
};

export interface PlatformInfo {
  os: string;
  arch: string;
  electron: string;
}

export type FerryBridge = FerryApi &
  ActionMethods & {
    /** The system folder picker (via main); value.path is null when cancelled. */
    chooseFolder(): Promise<CallResult<{ path: string | null }>>;
    platform: PlatformInfo;
  };

export const CHOOSE_FOLDER = 'chooseFolder';

/** The part of ipcRenderer the bridge uses (a fake in tests). */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: IpcRendererEvent, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: IpcRendererEvent, ...args: unknown[]) => void): unknown;
}

async function invoke<T>(ipc: IpcRendererLike, name: string, input: unknown): Promise<CallResult<T>> {
  try {
    return (await ipc.invoke(`${IPC_CHANNEL_PREFIX}${name}`, input)) as CallResult<T>;
  } catch (error) {
    return { ok: false, error: { code: 'ipc_failed', message: error instanceof Error ? error.message : String(error), retryable: true } };
  }
}

export function createBridge(ipc: IpcRendererLike, platform: PlatformInfo): FerryBridge {
  const call: FerryApi['call'] = (method, input) => {
    if (!(methodNames as string[]).includes(method)) {
      return Promise.resolve({ ok: false, error: { code: 'unknown_method', message: `No such action: ${String(method)}`, retryable: false } });
    }
    return invoke(ipc, method, input);
  };
  const subscribe: FerryApi['subscribe'] = (listener) => {
    // Hand the page the event payload only, never Electron's event object (it holds `sender`).
    const handler = (_event: IpcRendererEvent, payload: unknown) => listener(payload as AgentEvent);
    ipc.on(IPC_EVENT_CHANNEL, handler);
    return () => {
      ipc.removeListener(IPC_EVENT_CHANNEL, handler);
    };
  };
  const actions = Object.fromEntries(methodNames.map((name) => [name, (input?: unknown) => invoke(ipc, name, input)])) as ActionMethods;
  return {
    ...actions,
    call,
    subscribe,
    chooseFolder: () => invoke(ipc, CHOOSE_FOLDER, undefined),
    platform: Object.freeze({ ...platform }),
  };
}

// Sandboxed preloads get a reduced `process` with platform, arch and versions.
contextBridge.exposeInMainWorld(
  'ferry',
  createBridge(ipcRenderer, { os: process.platform, arch: process.arch, electron: process.versions.electron ?? '' }),
);
