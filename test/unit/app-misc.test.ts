import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFallbackAgent } from '../../main/app/fallback-agent';
import { createLoginItem, desktopEntry } from '../../main/app/login-item';
import { logPaths } from '../../main/app/logs';
import { nativeBindingPath } from '../../main/app/native-binding';
import { Status } from '../../shared/ui-contract';
import type { AgentSettingsStore } from '../../main/app/agent-host';

describe('native binding for better-sqlite3', () => {
  it('uses resources/native when packaged and native/electron in the repository otherwise', () => {
    expect(nativeBindingPath({ packaged: true, resourcesPath: '/opt/Ferry/resources', appRoot: '/x' })).toBe(path.join('/opt/Ferry/resources', 'native', 'better_sqlite3.node'));
    expect(nativeBindingPath({ packaged: false, resourcesPath: '/y', appRoot: '/src/ferry' })).toBe(path.join('/src/ferry', 'native', 'electron', 'better_sqlite3.node'));
  });
});

describe('logs', () => {
  it('live in the userData logs folder, one file for the shell and one for the agent', () => {
    expect(logPaths('/home/ada/.config/Ferry')).toEqual({
      dir: path.join('/home/ada/.config/Ferry', 'logs'),
      main: path.join('/home/ada/.config/Ferry', 'logs', 'main.log'),
      agent: path.join('/home/ada/.config/Ferry', 'logs', 'agent.log'),
    });
  });
});

describe('start at login', () => {
  it('uses the login item API on macOS and Windows', () => {
    let openAtLogin = false;
    const item = createLoginItem({
      platform: 'darwin',
      app: { getLoginItemSettings: () => ({ openAtLogin }), setLoginItemSettings: (s) => void (openAtLogin = s.openAtLogin) },
      autostartDir: '/nonexistent',
      command: ['/Applications/Ferry.app/Contents/MacOS/Ferry'],
    });
    item.set(true);
    expect(openAtLogin).toBe(true);
    expect(item.get()).toBe(true);
  });

  it('writes and removes an XDG autostart entry on Linux', () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'ferry-login-')), 'autostart');
    const noApi = { getLoginItemSettings: () => ({ openAtLogin: true }), setLoginItemSettings: () => {} };
    const item = createLoginItem({ platform: 'linux', app: noApi, autostartDir: dir, command: ['/opt/Ferry/ferry', '/my apps/main.mjs'] });
    expect(item.get()).toBe(false);
    item.set(true);
    expect(item.get()).toBe(true);
    expect(readFileSync(path.join(dir, 'ferry.desktop'), 'utf8')).toContain('Exec=/opt/Ferry/ferry "/my apps/main.mjs"');
    item.set(false);
    expect(item.get()).toBe(false);
    expect(desktopEntry(['a"b$'])).toContain('Exec="a\\"b\\$"');
  });
});

describe('fallback agent', () => {
  const settings: AgentSettingsStore = {
    load: () => null,
    save: () => {
      throw new Error('not in this test');
    },
    view: () => null,
    tokenProtection: () => 'os',
  };

  it('reports the reason as an error status and refuses sync actions with a code', async () => {
    const host = createFallbackAgent({ settings, logFile: '/logs/agent.log', reason: 'better-sqlite3 failed to load' });
    const status = Status.parse(await host.service.handlers.getStatus({}));
    expect(status.state).toBe('error');
    await expect(host.service.handlers.syncNow({})).rejects.toMatchObject({ code: 'agent_unavailable', message: expect.stringContaining('better-sqlite3') });
    await expect(host.service.handlers.getSettings({})).rejects.toMatchObject({ code: 'not_configured' });
    expect(host.logFile).toBe('/logs/agent.log');
  });

  it('before any settings: idle, and sync actions ask for setup', async () => {
    const host = createFallbackAgent({ settings, logFile: '/logs/agent.log', reason: null });
    expect(await host.service.handlers.getStatus({})).toMatchObject({ state: 'idle', folders: [] });
    await expect(host.service.handlers.pause({})).rejects.toMatchObject({ code: 'not_configured' });
  });
});
