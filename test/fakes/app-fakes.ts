import type { AgentEvent, AgentService, ContractHandlers, FolderStatus, Status } from '../../shared/ui-contract';
import type { Logger } from '../../main/logging';
import type { InvokeEventLike, IpcMainLike } from '../../main/app/ipc';
import type { SafeStorageLike } from '../../main/app/token-store';
import type { WindowLike } from '../../main/app/windows';

/** Fakes for the Electron shell's injected ports: no Electron runtime needed. */

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}

export function fakeLogger(entries: LogEntry[] = []): Logger & { entries: LogEntry[] } {
  const make = (base: Record<string, unknown>): Logger => {
    const write = (level: LogEntry['level']) => (message: string, fields?: Record<string, unknown>) => {
      entries.push({ level, message, fields: { ...base, ...fields } });
    };
    return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), child: (more) => make({ ...base, ...more }) };
  };
  return Object.assign(make({}), { entries });
}

type Listener = (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>;

export class FakeIpcMain implements IpcMainLike {
  readonly handlers = new Map<string, Listener>();

  handle(channel: string, listener: Listener): void {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
    this.handlers.set(channel, listener);
  }

  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }

  /** What the renderer's ipcRenderer.invoke would get back. */
  invoke(channel: string, frameUrl: string | null, ...args: unknown[]): Promise<unknown> {
    const handler = this.handlers.get(channel);
    if (!handler) throw new Error(`no handler for ${channel}`);
    return handler({ senderFrame: frameUrl === null ? null : { url: frameUrl } }, ...args);
  }
}

export function folderStatus(overrides: Partial<FolderStatus> = {}): FolderStatus {
  return {
    id: 'docs',
    localPath: '/home/ada/Documents',
    remoteId: 'docs',
    state: 'ok',
    error: null,
    lastSyncAt: null,
    pendingDelete: null,
    ...overrides,
  };
}

export function status(overrides: Partial<Status> = {}): Status {
  return {
    state: 'idle',
    counts: { pending: 0, in_flight: 0, retry_wait: 0, failed: 0, done: 0 },
    folders: [folderStatus()],
    lastSyncAt: null,
    rates: { uploadBytesPerSec: 0, downloadBytesPerSec: 0, itemsPerSec: 0 },
    run: null,
    deviceId: 'dev-1',
    deviceName: 'laptop',
    ...overrides,
  };
}

const notImplemented = (name: string) => async () => {
  throw new Error(`fake service: ${name} not set up`);
};

export function fakeService(handlers: Partial<ContractHandlers> = {}): AgentService & { emit(event: AgentEvent): void } {
  const listeners = new Set<(event: AgentEvent) => void>();
  const all = {
    getStatus: notImplemented('getStatus'),
    listQueue: notImplemented('listQueue'),
    listActivity: notImplemented('listActivity'),
    syncNow: notImplemented('syncNow'),
    pause: notImplemented('pause'),
    resume: notImplemented('resume'),
    retry: notImplemented('retry'),
    confirmMassDelete: notImplemented('confirmMassDelete'),
    cancelMassDelete: notImplemented('cancelMassDelete'),
    undoMassDelete: notImplemented('undoMassDelete'),
    dismissUndo: notImplemented('dismissUndo'),
    syncAfresh: notImplemented('syncAfresh'),
    getHistory: notImplemented('getHistory'),
    previewVersion: notImplemented('previewVersion'),
    listDeleted: notImplemented('listDeleted'),
    restore: notImplemented('restore'),
    getSettings: notImplemented('getSettings'),
    updateSettings: notImplemented('updateSettings'),
    ...handlers,
  } as ContractHandlers;
  return {
    handlers: all,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(event) {
      for (const listener of listeners) listener(event);
    },
  };
}

/** A keychain stand-in whose ciphertext visibly differs from the plain text. */
export function fakeSafeStorage(options: { available: boolean; backend?: string }): SafeStorageLike {
  return {
    isEncryptionAvailable: () => options.available,
    getSelectedStorageBackend: () => options.backend ?? 'unknown',
    encryptString: (text) => {
      if (!options.available) throw new Error('encryption is not available');
      return Buffer.from(`enc:${Buffer.from(text).toString('hex')}`);
    },
    decryptString: (data) => {
      const text = data.toString();
      if (!text.startsWith('enc:')) throw new Error('not ours');
      return Buffer.from(text.slice(4), 'hex').toString();
    },
  };
}

export class FakeWindow implements WindowLike {
  destroyed = false;
  minimized = false;
  visible = false;
  focused = 0;
  loaded: string[] = [];
  sent: Array<{ channel: string; args: unknown[] }> = [];
  private readonly listeners = new Map<string, Array<(event: { preventDefault(): void }) => void>>();
  private readonly onceListeners = new Map<string, Array<() => void>>();

  constructor(readonly options: unknown) {}

  isDestroyed = () => this.destroyed;
  isMinimized = () => this.minimized;
  restore = () => {
    this.minimized = false;
  };
  show = () => {
    this.visible = true;
  };
  hide = () => {
    this.visible = false;
  };
  focus = () => {
    this.focused += 1;
  };
  loadURL = async (url: string) => {
    this.loaded.push(url);
  };
  on(event: 'close', listener: (event: { preventDefault(): void }) => void): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  once(event: 'ready-to-show', listener: () => void): this {
    this.onceListeners.set(event, [...(this.onceListeners.get(event) ?? []), listener]);
    return this;
  }
  webContents = { send: (channel: string, ...args: unknown[]) => void this.sent.push({ channel, args }) };

  /** Simulates the page being ready. */
  emitReady(): void {
    for (const listener of this.onceListeners.get('ready-to-show') ?? []) listener();
    this.onceListeners.delete('ready-to-show');
  }

  /** Simulates the user closing the window; true when the close went through. */
  userClose(): boolean {
    let prevented = false;
    for (const listener of this.listeners.get('close') ?? []) listener({ preventDefault: () => (prevented = true) });
    if (!prevented) this.destroyed = true;
    return !prevented;
  }
}
