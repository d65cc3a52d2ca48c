import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentEvent, Settings } from '../../shared/ui-contract';
import type { EngineAgent, EngineAgentOptions } from '../../main/app/agent-host';
import { createEngineHost } from '../../main/app/engine-host';
import { createSettingsStore } from '../../main/app/settings-store';
import { createTokenStore } from '../../main/app/token-store';
import { fakeLogger, fakeSafeStorage, fakeService, status } from '../fakes/app-fakes';
import { testSettings } from '../helpers/agent-settings';

const SETTINGS_INPUT = { serverUrl: 'https://sync.example.com', token: 'tok_engine_host', folders: [{ localPath: '/home/ada/Documents', remoteId: 'docs' }] };

function setup(createAgent: ((options: EngineAgentOptions) => Promise<EngineAgent>) | null) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-host-'));
  const log = fakeLogger();
  const tokens = createTokenStore({ dir, safeStorage: fakeSafeStorage({ available: true }), platform: 'darwin', log });
  const settings = createSettingsStore({ dir, tokens, log });
  const host = createEngineHost({ createAgent, settings, dataDir: dir, logFile: path.join(dir, 'logs', 'agent.log'), nativeBinding: '/n/better_sqlite3.node', clientVersion: 'ferry/9.9.9', log });
  const events: AgentEvent[] = [];
  host.service.subscribe((e) => events.push(e));
  return { host, settings, events, log, dir };
}

function fakeEngine() {
  const calls: string[] = [];
  const service = fakeService({
    syncNow: async () => (calls.push('syncNow'), { ok: true as const }),
    getStatus: async () => status({ state: 'syncing' }),
  });
  const engine: EngineAgent = {
    // The two handlers this test calls (syncNow, getStatus) answer alike in the engine's API
    // and the contract; the others throw.
    handlers: service.handlers as unknown as EngineAgent['handlers'],
    subscribe: service.subscribe as EngineAgent['subscribe'],
    deviceId: 'device-1',
    deviceName: 'laptop',
    dataDir: '/data',
    start: async () => void calls.push('start'),
    stop: async () => void calls.push('stop'),
    status: () => status({ state: 'syncing' }),
  };
  const created: EngineAgentOptions[] = [];
  const factory = async (options: EngineAgentOptions) => {
    created.push(options);
    return engine;
  };
  return { factory, created, calls, emit: service.emit };
}

describe('engine host', () => {
  it('answers before settings exist: idle, settings writable, sync actions ask for setup', async () => {
    const { host, events } = setup(fakeEngine().factory);
    expect(await host.service.handlers.getStatus({})).toMatchObject({ state: 'idle' });
    await expect(host.service.handlers.syncNow({})).rejects.toMatchObject({ code: 'not_configured' });
    const view = await host.service.handlers.updateSettings({ ...settingsDefaults(), ...SETTINGS_INPUT });
    expect(view).toMatchObject({ hasToken: true, tokenProtection: 'os' });
    expect(events.map((e) => e.type)).toEqual(['settings']);
    expect(host.folders()).toEqual([{ id: 'docs', localPath: '/home/ada/Documents' }]);
  });

  it('starts the engine once with the settings, the native binding and a saver, then forwards to it', async () => {
    const engine = fakeEngine();
    const { host, settings, events } = setup(engine.factory);
    const saved = settings.save({ ...settingsDefaults(), ...SETTINGS_INPUT });
    await Promise.all([host.start(saved), host.start(saved)]);
    expect(engine.created).toHaveLength(1);
    // The desktop app's digest names its version, as the headless agent's does.
    expect(engine.created[0]).toMatchObject({ settings: saved, nativeBinding: '/n/better_sqlite3.node', tokenProtection: 'os', clientVersion: 'ferry/9.9.9' });
    expect(engine.calls).toEqual(['start']);
    expect(await host.service.handlers.syncNow({})).toEqual({ ok: true });
    expect(engine.calls).toEqual(['start', 'syncNow']);
    expect(events.at(-1)).toMatchObject({ type: 'status', status: { state: 'syncing' } });
    engine.emit({ type: 'queue', items: [] });
    expect(events.at(-1)).toEqual({ type: 'queue', items: [] });
    // The engine's saver goes to the settings store (token kept apart from the JSON).
    await engine.created[0]!.saveSettings({ ...saved, concurrency: 9 });
    expect(settings.load()).toMatchObject({ concurrency: 9, token: 'tok_engine_host' });
    await host.stop();
    await host.stop();
    expect(engine.calls).toEqual(['start', 'syncNow', 'stop']);
  });

  it('says why when the engine cannot start, instead of failing the shell', async () => {
    const { host, settings, events, log } = setup(async () => {
      throw new Error('better_sqlite3.node was compiled against a different Node.js version');
    });
    const saved = settings.save({ ...settingsDefaults(), ...SETTINGS_INPUT });
    await expect(host.start(saved)).resolves.toBeUndefined();
    expect(events.at(-1)).toMatchObject({ type: 'status', status: { state: 'error', folders: [{ error: expect.stringContaining('different Node.js version') }] } });
    await expect(host.service.handlers.syncNow({})).rejects.toMatchObject({ code: 'agent_unavailable' });
    expect(log.entries.some((e) => e.level === 'error' && e.message.includes('could not start'))).toBe(true);
  });

  it('without an engine in the build, says that', async () => {
    const { host, settings } = setup(null);
    await host.start(settings.save({ ...settingsDefaults(), ...SETTINGS_INPUT }));
    await expect(host.service.handlers.pause({})).rejects.toMatchObject({ code: 'agent_unavailable', message: expect.stringContaining('no sync engine') });
  });
});

/** The contract's defaults, so updates are complete like the settings window sends them. */
function settingsDefaults(): Omit<Settings, 'serverUrl' | 'token'> {
  const { serverUrl: _url, token: _token, ...defaults } = testSettings('http://127.0.0.1:1', 'unused', []);
  return defaults;
}
