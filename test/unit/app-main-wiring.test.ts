import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { methodNames } from '../../shared/ui-contract';

/**
 * Boots the real bundled shell (main/app/main.ts, built like scripts/build.mjs does) under
 * plain Node with a fake 'electron' module (test/fakes/app-electron-fake.cjs): the wiring in
 * main.ts runs for real — scheme registration, lock, logging, IPC, protocol, tray, windows.
 */

const repo = path.resolve(import.meta.dirname, '../..');
const home = mkdtempSync(path.join(os.tmpdir(), 'ferry-wiring-'));
const appDir = path.join(home, 'app');

interface FakeState {
  calls: string[];
  channels: string[];
  windows: Array<{ options: { webPreferences: Record<string, unknown> }; urls: string[] }>;
  trays: Array<{ images: string[]; tooltips: string[]; menu?: { template: string[] } }>;
  answers: Record<string, unknown>;
  errors: string[];
}

function boot(env: Record<string, string>, args: string[] = []): { state: FakeState; userData: string } {
  const userData = mkdtempSync(path.join(home, 'userData-'));
  const child = spawnSync(process.execPath, [path.join(appDir, 'dist', 'app', 'main.mjs'), ...args], {
    env: { PATH: process.env.PATH ?? '', FAKE_HOME: home, FERRY_USER_DATA_DIR: userData, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  const marker = child.stdout.split('\n').find((line) => line.startsWith('@@FAKE_ELECTRON@@'));
  if (!marker) throw new Error(`the shell printed no report (exit ${child.status}):\n${child.stdout}\n${child.stderr}`);
  return { state: JSON.parse(marker.slice('@@FAKE_ELECTRON@@'.length)) as FakeState, userData };
}

beforeAll(async () => {
  await build({
    absWorkingDir: repo,
    entryPoints: ['main/app/main.ts'],
    outfile: path.join(appDir, 'dist', 'app', 'main.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: ['node20'],
    external: ['electron', 'better-sqlite3'],
    banner: { js: "import { createRequire as __ferryCreateRequire } from 'node:module'; const require = __ferryCreateRequire(import.meta.url);" },
    logLevel: 'silent',
  });
  mkdirSync(path.join(appDir, 'dist', 'renderer'), { recursive: true });
  mkdirSync(path.join(appDir, 'dist', 'preload'), { recursive: true });
  mkdirSync(path.join(appDir, 'node_modules'), { recursive: true });
  writeFileSync(path.join(appDir, 'dist', 'renderer', 'index.html'), '<!doctype html><title>Ferry test page</title>');
  writeFileSync(path.join(appDir, 'dist', 'preload', 'bridge.cjs'), '');
  writeFileSync(path.join(appDir, 'secret.txt'), 'outside the renderer');
  symlinkSync(path.join(repo, 'assets'), path.join(appDir, 'assets'), 'dir');
  // The engine's real better-sqlite3 (the bundle keeps it external, like Electron's app does).
  symlinkSync(path.join(repo, 'node_modules', 'better-sqlite3'), path.join(appDir, 'node_modules', 'better-sqlite3'), 'dir');
  const fakeElectron = path.join(appDir, 'node_modules', 'electron');
  mkdirSync(fakeElectron, { recursive: true });
  writeFileSync(path.join(fakeElectron, 'package.json'), JSON.stringify({ name: 'electron', main: 'index.js' }));
  writeFileSync(path.join(fakeElectron, 'index.js'), `module.exports = require(${JSON.stringify(path.join(repo, 'test/fakes/app-electron-fake.cjs'))});`);
}, 60_000);

describe('the shell boots (fake electron)', () => {
  it('registers ferry:// before ready, locks, serves the bundle and wires IPC and the tray', () => {
    const { state, userData } = boot({});
    expect(state.errors).toEqual([]);
    const calls = state.calls;
    expect(calls).toContain('app.setPath userData');
    expect(calls).toContain('protocol.registerSchemesAsPrivileged ferry ready=false');
    expect(calls.indexOf('app.requestSingleInstanceLock')).toBeLessThan(calls.indexOf('ready'));
    expect(calls.indexOf('ready')).toBeLessThan(calls.indexOf('protocol.handle ferry'));
    expect(calls).toEqual(expect.arrayContaining(['session.setPermissionRequestHandler', 'session.setPermissionCheckHandler']));

    // One channel per contract method, plus the folder dialog.
    const ferryChannels = state.channels.filter((c) => c.startsWith('ferry:')).sort();
    expect(ferryChannels).toEqual([...methodNames.map((m) => `ferry:${m}`), 'ferry:chooseFolder'].sort());
    // Before any settings the agent is idle and sync actions ask for setup.
    expect(state.answers['trustedStatus']).toMatchObject({ ok: true, value: { state: 'idle', folders: [] } });
    expect(state.answers['untrustedStatus']).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(state.answers['invalidQueue']).toMatchObject({ ok: false, error: { code: 'invalid_input', fields: { limit: expect.any(String) } } });
    expect(state.answers['syncNow']).toMatchObject({ ok: false, error: { code: 'not_configured' } });
    // The first save starts the engine. Here it cannot open SQLite (no better-sqlite3 built for
    // Electron's ABI at native/electron), and the shell says so instead of failing.
    expect(state.answers['syncNowAfterSave']).toMatchObject({ ok: false, error: { code: 'agent_unavailable', message: expect.stringContaining('better_sqlite3.node') } });

    expect(state.answers['page']).toMatchObject({ status: 200, body: '<!doctype html><title>Ferry test page</title>' });
    expect(String((state.answers['page'] as { csp: string }).csp)).toContain("default-src 'none'");
    expect(state.answers['traversal']).toBe(403);

    // The tray went from idle (nothing set up) to the error saying why, with real icon files.
    const tray = state.trays[0]!;
    expect(state.trays).toHaveLength(1);
    const suffix = process.platform === 'darwin' ? 'Template.png' : '-light.png';
    expect(tray.images.map((i) => path.basename(i))).toEqual([`idle${suffix}`, `error${suffix}`]);
    for (const icon of tray.images) expect(existsSync(icon)).toBe(true);
    expect(tray.tooltips.slice(0, 2)).toEqual(['Ferry is starting…', 'No folders yet']);
    expect(tray.tooltips.at(-1)).toMatch(/^Error: Cannot find module '.*better_sqlite3\.node'$/);
    expect(tray.menu?.template).toEqual(expect.arrayContaining(['Sync now', 'Pause', 'Show queue', 'Settings…', 'Open folder', 'Open logs', 'Start at login', 'Quit Ferry']));

    // First run: no settings yet, so the settings window opens, sandboxed, on ferry://app.
    expect(state.windows).toHaveLength(1);
    expect(state.windows[0]!.urls).toEqual(['ferry://app/index.html#/settings']);
    expect(state.windows[0]!.options.webPreferences).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false });
    expect(existsSync(String(state.windows[0]!.options.webPreferences['preload']))).toBe(true);

    // The shell's log is in userData/logs, with named scopes.
    const log = readFileSync(path.join(userData, 'logs', 'main.log'), 'utf8');
    expect(log).toMatch(/\[info\]\s+\(app\) Ferry started/);
    expect(log).toMatch(/\[warn\]\s+\(ipc\) ipc refused: untrusted sender/);
    expect(log).toContain('tokenProtection=plaintext');
    expect(log).toMatch(/\(agent-host\) the sync engine could not start reason=.*better_sqlite3\.node/);

    // Settings saved through IPC: the page learns the token is in plain text, never the token.
    expect(state.answers['save']).toMatchObject({ ok: true, value: { hasToken: true, tokenProtection: 'plaintext', folders: [{ remoteId: 'docs' }] } });
    expect(JSON.stringify(state.answers['save'])).not.toContain('tok_wiring_secret');
    expect(readFileSync(path.join(userData, 'settings.json'), 'utf8')).not.toContain('tok_wiring_secret');
    expect(log).not.toContain('tok_wiring_secret');
  });

  it('opens the queue window when asked on the command line', () => {
    expect(boot({}).state.windows.flatMap((w) => w.urls)).not.toContain('ferry://app/index.html#/queue');
    const { state } = boot({}, ['--show=queue']);
    expect(state.windows.flatMap((w) => w.urls)).toEqual(['ferry://app/index.html#/settings', 'ferry://app/index.html#/queue']);
  });

  it('a second instance hands over and quits without starting anything', () => {
    const { state } = boot({ FAKE_SECOND_INSTANCE: '1' });
    expect(state.calls).toContain('app.quit');
    expect(state.calls).not.toContain('ready');
    expect(state.trays).toEqual([]);
    expect(state.channels.filter((c) => c.startsWith('ferry:'))).toEqual([]);
  });
});
