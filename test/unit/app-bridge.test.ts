import { beforeEach, describe, expect, it, vi } from 'vitest';
import { IPC_EVENT_CHANNEL, methodNames, type AgentEvent } from '../../shared/ui-contract';
import type { FerryBridge } from '../../preload/bridge';

// The preload runs in Electron's sandbox; here its two Electron imports are fakes.
const exposed = new Map<string, unknown>();
const invoked: Array<{ channel: string; args: unknown[] }> = [];
const listeners = new Map<string, Set<(event: unknown, ...args: unknown[]) => void>>();
let invokeImpl: (channel: string, ...args: unknown[]) => Promise<unknown> = async () => ({ ok: true, value: null });

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
  ipcRenderer: {
    invoke: (channel: string, ...args: unknown[]) => {
      invoked.push({ channel, args });
      return invokeImpl(channel, ...args);
    },
    on: (channel: string, listener: (event: unknown, ...args: unknown[]) => void) => {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)!.add(listener);
    },
    removeListener: (channel: string, listener: (event: unknown, ...args: unknown[]) => void) => listeners.get(channel)?.delete(listener),
  },
}));

// Loading the preload exposes window.ferry through the fake contextBridge.
await import('../../preload/bridge');
const ferry = () => exposed.get('ferry') as FerryBridge;

beforeEach(() => {
  invoked.length = 0;
  invokeImpl = async () => ({ ok: true, value: null });
});

describe('preload bridge', () => {
  it('exposes exactly one world API, window.ferry, and no ipcRenderer', () => {
    expect([...exposed.keys()]).toEqual(['ferry']);
    const api = ferry() as unknown as Record<string, unknown>;
    expect(api['ipcRenderer']).toBeUndefined();
    expect(Object.keys(api).sort()).toEqual([...methodNames, 'call', 'subscribe', 'chooseFolder', 'platform'].sort());
    expect(ferry().platform).toEqual({ os: process.platform, arch: process.arch, electron: '' });
  });

  it('has one method per contract action on its own channel', async () => {
    invokeImpl = async () => ({ ok: true, value: { ok: true } });
    expect(await ferry().syncNow({ folderId: 'docs' })).toEqual({ ok: true, value: { ok: true } });
    await ferry().getStatus();
    await ferry().chooseFolder();
    expect(invoked).toEqual([
      { channel: 'ferry:syncNow', args: [{ folderId: 'docs' }] },
      { channel: 'ferry:getStatus', args: [undefined] },
      { channel: 'ferry:chooseFolder', args: [undefined] },
    ]);
  });

  it('call() reaches contract methods only', async () => {
    await ferry().call('pause', {});
    expect(invoked).toEqual([{ channel: 'ferry:pause', args: [{}] }]);
    const answer = await ferry().call('event' as never, {} as never);
    expect(answer).toMatchObject({ ok: false, error: { code: 'unknown_method' } });
    expect(invoked).toHaveLength(1);
  });

  it('turns a failed invoke into an error envelope instead of a rejection', async () => {
    invokeImpl = async () => {
      throw new Error('No handler registered');
    };
    expect(await ferry().listQueue({})).toEqual({ ok: false, error: { code: 'ipc_failed', message: 'No handler registered', retryable: true } });
  });

  it('delivers event payloads only, and unsubscribes', () => {
    const seen: AgentEvent[] = [];
    const unsubscribe = ferry().subscribe((event) => seen.push(event));
    const event: AgentEvent = { type: 'queue', items: [] };
    const emit = () => {
      for (const listener of listeners.get(IPC_EVENT_CHANNEL) ?? []) listener({ sender: 'ipc internals' }, event);
    };
    emit();
    expect(seen).toEqual([event]);
    unsubscribe();
    emit();
    expect(seen).toHaveLength(1);
    expect(listeners.get(IPC_EVENT_CHANNEL)?.size).toBe(0);
  });
});
