import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { BrowserWindow, Menu, Notification, Tray, app, dialog, ipcMain, nativeTheme, protocol, safeStorage, session, shell } from 'electron';
import log from 'electron-log/main';
import { IPC_EVENT_CHANNEL, type AgentEvent, type Settings } from '../../shared/ui-contract';
import { configureLogging } from '../logging';
import { preferSmallHeap } from '../small-heap';
import type { AgentHost, CreateEngineAgent } from './agent-host';
import { createEngineHost } from './engine-host';
import { extraHandler, registerIpcHandlers, type IpcMainLike } from './ipc';
import { createLoginItem } from './login-item';
import { configureShellLogging, logPaths, shellLogger } from './logs';
import { nativeBindingPath } from './native-binding';
import { NotificationPolicy, createNotifier } from './notifications';
import { registerAppScheme, serveApp } from './protocol';
import { hardenSession, hardenWebContents } from './security';
import { createSettingsStore, type SettingsStore } from './settings-store';
import { createTokenStore } from './token-store';
import { createTray, type TrayController } from './tray';
import type { TrayAction } from './tray-model';
import { WindowManager, routeFromArgv } from './windows';

// ─── AGENT WIRING ─────────────────────────────────────────────────────────────────────
// The engine's `createAgent` (main/engine/agent), checked by tsc against CreateEngineAgent
// (agent-host.ts) and bundled by esbuild into dist/app/main.mjs (literal specifier). To run
// the shell without the engine, return null here: engine-host.ts then says so in the tray.
async function loadCreateAgent(): Promise<CreateEngineAgent | null> {
  return (await import('../engine/agent')).createAgent;
}
// ──────────────────────────────────────────────────────────────────────────────────────

/** dist/app/main.mjs → the repository (or app.asar) root. */
const appRoot = fileURLToPath(new URL('../..', import.meta.url));
const paths = {
  renderer: path.join(appRoot, 'dist', 'renderer'),
  preload: path.join(appRoot, 'dist', 'preload', 'bridge.cjs'),
  trayIcons: path.join(appRoot, 'assets', 'tray'),
  appIcon: path.join(appRoot, 'assets', 'icon.png'),
};

// Tests and side-by-side profiles: a separate userData is also a separate instance lock.
if (process.env.FERRY_USER_DATA_DIR) app.setPath('userData', path.resolve(process.env.FERRY_USER_DATA_DIR));

const logFiles = logPaths(app.getPath('userData'));
configureShellLogging(log, { file: logFiles.main, level: 'info', console: !app.isPackaged });
configureLogging({ file: logFiles.agent, level: 'info', console: !app.isPackaged });
const logger = shellLogger(log, 'app');

// Privileges for ferry:// can only be granted before ready.
registerAppScheme(protocol);

if (!app.requestSingleInstanceLock()) {
  logger.info('another Ferry is running; handing over to it');
  app.quit();
} else {
  main();
}

function main(): void {
  // The tray app runs the engine in this process all day (main/small-heap.ts).
  preferSmallHeap();
  let windows: WindowManager | null = null;
  let agent: AgentHost | null = null;
  let stopped = false;

  app.on('second-instance', (_event, argv) => {
    const route = routeFromArgv(argv);
    if (route) windows?.show(route);
    else windows?.focusAny();
  });
  // Ferry lives in the tray: closing the last window must not quit.
  app.on('window-all-closed', () => {});
  app.on('activate', () => windows?.focusAny());
  app.on('web-contents-created', (_event, contents) => {
    hardenWebContents(contents, (url) => shell.openExternal(url), shellLogger(log, 'security'));
  });
  app.on('before-quit', (event) => {
    windows?.setQuitting();
    if (stopped || !agent) return;
    // Let the agent finish its transaction and close the databases before exiting.
    event.preventDefault();
    const running = agent;
    agent = null;
    running
      .stop()
      .catch((error: unknown) => logger.error('agent did not stop cleanly', { error }))
      .finally(() => {
        stopped = true;
        app.quit();
      });
  });

  app
    .whenReady()
    .then(async () => {
      const started = await startShell();
      windows = started.windows;
      agent = started.agent;
    })
    .catch((error: unknown) => {
      logger.error('Ferry could not start', { error });
      dialog.showErrorBox('Ferry could not start', error instanceof Error ? error.message : String(error));
      app.exit(1);
    });
}

async function startShell(): Promise<{ windows: WindowManager; agent: AgentHost }> {
  if (process.platform === 'win32') app.setAppUserModelId('dev.ferry.app');
  const userData = app.getPath('userData');
  hardenSession(session.defaultSession, shellLogger(log, 'security'));
  serveApp(protocol, paths.renderer);

  const tokens = createTokenStore({ dir: userData, safeStorage, platform: process.platform, log: shellLogger(log, 'token') });
  const settingsStore = createSettingsStore({ dir: userData, tokens, log: shellLogger(log, 'settings') });
  if (tokens.protection() === 'plaintext') logger.warn('no OS secret store available: the server token is kept unencrypted');

  const agent = await createHost(settingsStore);
  const windows = new WindowManager({
    createWindow: (options) => new BrowserWindow(options),
    preload: paths.preload,
    icon: paths.appIcon,
    onLoadError: (route, error) => logger.error('window did not load', { route, error }),
  });

  registerIpcHandlers({
    ipcMain: ipcMain as unknown as IpcMainLike,
    service: agent.service,
    log: shellLogger(log, 'ipc'),
    extra: {
      chooseFolder: extraHandler({
        input: z.strictObject({}).optional(),
        output: z.object({ path: z.string().nullable() }),
        handle: async () => {
          const parent = BrowserWindow.getFocusedWindow();
          const options = { title: 'Choose a folder to sync', properties: ['openDirectory', 'createDirectory'] as Array<'openDirectory' | 'createDirectory'> };
          const result = parent ? await dialog.showOpenDialog(parent, options) : await dialog.showOpenDialog(options);
          return { path: result.canceled ? null : (result.filePaths[0] ?? null) };
        },
      }),
    },
  });

  const loginItem = createLoginItem({
    platform: process.platform,
    app,
    autostartDir: path.join(app.getPath('appData'), 'autostart'),
    command: app.isPackaged ? [process.execPath] : [process.execPath, fileURLToPath(import.meta.url)],
  });

  let notificationsOn = settingsStore.view()?.notifications ?? true;
  const liveNotifications = new Set<Notification>();
  const notify = createNotifier({
    policy: new NotificationPolicy({ now: Date.now }),
    enabled: () => notificationsOn,
    open: (target) => windows.show(target),
    log: shellLogger(log, 'notify'),
    electron: {
      isSupported: () => Notification.isSupported(),
      show: (notice, onClick) => {
        // Keep a reference until closed, or the click handler can be collected.
        const n = new Notification({ title: notice.title, body: notice.body, silent: false });
        liveNotifications.add(n);
        n.on('click', onClick);
        n.on('close', () => liveNotifications.delete(n));
        n.show();
      },
    },
  });

  const run = (what: string, promise: Promise<unknown>) => {
    promise.catch((error: unknown) => logger.warn(`${what} failed`, { error }));
  };
  const dispatch = (action: TrayAction): void => {
    switch (action.type) {
      case 'syncNow':
        return run('sync now', agent.service.handlers.syncNow({}));
      case 'pause':
        return run('pause', agent.service.handlers.pause({}));
      case 'resume':
        return run('resume', agent.service.handlers.resume({}));
      case 'showQueue':
        return void windows.show('queue');
      case 'showSettings':
        return void windows.show('settings');
      case 'openFolder': {
        const folder = agent.folders().find((f) => f.id === action.folderId);
        if (folder) run('open folder', openPath(folder.localPath));
        return;
      }
      case 'openLogs':
        return run('open logs', openPath(logFiles.dir));
      case 'toggleStartAtLogin': {
        const next = !loginItem.get();
        loginItem.set(next);
        const stored = settingsStore.stored();
        if (stored) run('save start at login', agent.service.handlers.updateSettings({ ...stored, startAtLogin: next }));
        tray.refresh();
        return;
      }
      case 'quit':
        return app.quit();
    }
  };

  const tray: TrayController = createTray({
    electron: {
      createTray: (icon) => new Tray(icon),
      buildMenu: (template) => Menu.buildFromTemplate(template),
      nativeTheme,
    },
    iconDir: paths.trayIcons,
    platform: process.platform,
    dispatch,
    startAtLogin: () => loginItem.get(),
    folders: () => agent.folders(),
  });

  let started = false;
  const startAgent = (settings: Settings) => {
    started = true;
    return agent.start(settings);
  };
  agent.service.subscribe((event: AgentEvent) => {
    windows.broadcast(IPC_EVENT_CHANNEL, event);
    if (event.type === 'status') tray.update(event.status);
    if (event.type === 'settings') {
      notificationsOn = event.settings.notifications;
      if (event.settings.startAtLogin !== loginItem.get()) loginItem.set(event.settings.startAtLogin);
      tray.refresh();
      // First run: the first saved settings are what the engine was waiting for.
      const saved = started ? null : settingsStore.load();
      if (saved) run('start the agent', startAgent(saved));
    }
    notify(event);
  });
  agent.service.handlers
    .getStatus({})
    .then((status) => tray.update(status))
    .catch((error: unknown) => logger.warn('first status failed', { error }));

  let settings: Settings | null = null;
  try {
    settings = settingsStore.load();
  } catch (error) {
    logger.error('settings could not be loaded', { error });
  }
  if (settings) await startAgent(settings);
  else windows.show('settings');

  const route = routeFromArgv(process.argv);
  if (route) windows.show(route);
  logger.info('Ferry started', { version: app.getVersion(), tokenProtection: tokens.protection(), configured: settings !== null });
  return { windows, agent };
}

async function createHost(settingsStore: SettingsStore): Promise<AgentHost> {
  let createAgent: CreateEngineAgent | null = null;
  try {
    createAgent = await loadCreateAgent();
  } catch (error) {
    // A broken engine bundle must not take the tray and Settings down with it.
    logger.error('the sync engine could not be loaded', { error });
  }
  return createEngineHost({
    createAgent,
    settings: settingsStore,
    dataDir: app.getPath('userData'),
    logFile: logFiles.agent,
    nativeBinding: nativeBindingPath({ packaged: app.isPackaged, resourcesPath: process.resourcesPath, appRoot }),
    clientVersion: `ferry/${app.getVersion()}`,
    log: shellLogger(log, 'agent-host'),
  });
}

async function openPath(target: string): Promise<void> {
  const problem = await shell.openPath(target);
  if (problem) throw new Error(problem);
}
