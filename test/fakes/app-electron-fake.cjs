// A stand-in for the 'electron' module, just enough for dist/app/main.mjs to boot under plain
// Node (test/unit/app-main-wiring.test.ts). It records what the shell does in `state`, then
// drives a few IPC and protocol requests and prints the record as JSON when the process ends.
/* eslint-disable @typescript-eslint/no-require-imports -- 'electron' is loaded through require() too (electron-log), so this stand-in is CommonJS */
'use strict';
const { EventEmitter } = require('node:events');
const path = require('node:path');

const state = { calls: [], channels: [], windows: [], trays: [], answers: {}, errors: [] };
const record = (name, detail) => state.calls.push(detail === undefined ? name : `${name} ${detail}`);
const handlers = new Map();
let ready = false;
const paths = { userData: path.join(process.env.FAKE_HOME, 'userData-default'), appData: path.join(process.env.FAKE_HOME, 'appData') };

class App extends EventEmitter {
  isPackaged = false;
  getPath(name) {
    return paths[name] ?? path.join(process.env.FAKE_HOME, name);
  }
  setPath(name, value) {
    record('app.setPath', name);
    paths[name] = value;
  }
  getName() {
    return 'Ferry';
  }
  getVersion() {
    return '0.0.0-test';
  }
  isReady() {
    return ready;
  }
  requestSingleInstanceLock() {
    record('app.requestSingleInstanceLock');
    return process.env.FAKE_SECOND_INSTANCE !== '1';
  }
  whenReady() {
    record('app.whenReady');
    return Promise.resolve().then(() => {
      ready = true;
      record('ready');
    });
  }
  quit() {
    record('app.quit');
  }
  exit(code) {
    record('app.exit', code);
  }
  setAppUserModelId() {}
  getLoginItemSettings() {
    return { openAtLogin: false };
  }
  setLoginItemSettings(settings) {
    record('app.setLoginItemSettings', settings.openAtLogin);
  }
}
const app = new App();

class BrowserWindow extends EventEmitter {
  constructor(options) {
    super();
    this.options = options;
    this.webContents = { send: () => {} };
    state.windows.push({ options, urls: [] });
    this.index = state.windows.length - 1;
  }
  static getFocusedWindow() {
    return null;
  }
  static getAllWindows() {
    return [];
  }
  isDestroyed() {
    return false;
  }
  isMinimized() {
    return false;
  }
  restore() {}
  show() {}
  hide() {}
  focus() {}
  loadURL(url) {
    state.windows[this.index].urls.push(url);
    return Promise.resolve();
  }
}

class Tray {
  constructor(image) {
    state.trays.push({ images: [image], tooltips: [] });
    this.t = state.trays[state.trays.length - 1];
  }
  setImage(image) {
    this.t.images.push(image);
  }
  setToolTip(text) {
    this.t.tooltips.push(text);
  }
  setContextMenu(menu) {
    this.t.menu = menu;
  }
  on() {}
  destroy() {}
}

const ipcMain = {
  on: () => {},
  handle(channel, listener) {
    state.channels.push(channel);
    handlers.set(channel, listener);
  },
  removeHandler: (channel) => handlers.delete(channel),
};

let appHandler = null;
const protocol = {
  registerSchemesAsPrivileged(schemes) {
    record('protocol.registerSchemesAsPrivileged', `${schemes.map((s) => s.scheme).join(',')} ready=${ready}`);
  },
  handle(scheme, handler) {
    record('protocol.handle', scheme);
    appHandler = handler;
  },
};

const session = {
  defaultSession: {
    setPermissionRequestHandler: () => record('session.setPermissionRequestHandler'),
    setPermissionCheckHandler: () => record('session.setPermissionCheckHandler'),
  },
};

class Notification extends EventEmitter {
  static isSupported() {
    return false;
  }
  show() {}
}

const safeStorage = {
  isEncryptionAvailable: () => true,
  getSelectedStorageBackend: () => 'basic_text',
  encryptString: (s) => Buffer.from(s),
  decryptString: (b) => b.toString(),
};

// Once the tray exists the shell is up: talk to it like a page would.
async function drive() {
  const call = (channel, url, input) => handlers.get(channel)({ senderFrame: url === null ? null : { url } }, input);
  state.answers.trustedStatus = await call('ferry:getStatus', 'ferry://app/index.html#/queue', {});
  state.answers.untrustedStatus = await call('ferry:getStatus', 'https://example.com/', {});
  state.answers.invalidQueue = await call('ferry:listQueue', 'ferry://app/index.html#/queue', { limit: -1 });
  state.answers.syncNow = await call('ferry:syncNow', 'ferry://app/index.html#/queue', {});
  state.answers.save = await call('ferry:updateSettings', 'ferry://app/index.html#/settings', {
    serverUrl: 'https://sync.example.com',
    token: 'tok_wiring_secret',
    folders: [{ localPath: '/home/ada/Documents', remoteId: 'docs' }],
  });
  state.answers.syncNowAfterSave = await call('ferry:syncNow', 'ferry://app/index.html#/queue', {});
  const page = await appHandler(new Request('ferry://app/index.html'));
  state.answers.page = { status: page.status, csp: page.headers.get('content-security-policy'), body: await page.text() };
  state.answers.traversal = (await appHandler(new Request('ferry://app/..%2f..%2fsecret.txt'))).status;
}
let driven = false;
process.on('beforeExit', () => {
  if (!driven && appHandler) {
    driven = true;
    drive().catch((error) => state.errors.push(String(error.stack ?? error)));
    return;
  }
  if (state.printed) return;
  state.printed = true;
  process.stdout.write(`\n@@FAKE_ELECTRON@@${JSON.stringify(state)}\n`);
});

exports.app = app;
exports.BrowserWindow = BrowserWindow;
exports.Tray = Tray;
exports.Menu = { buildFromTemplate: (template) => ({ template: template.map((i) => i.label ?? i.type) }) };
exports.Notification = Notification;
exports.dialog = { showErrorBox: (title, message) => record('dialog.showErrorBox', `${title}: ${message}`), showOpenDialog: async () => ({ canceled: true, filePaths: [] }) };
exports.ipcMain = ipcMain;
exports.nativeTheme = { shouldUseDarkColors: false, on: () => {} };
exports.protocol = protocol;
exports.safeStorage = safeStorage;
exports.session = session;
exports.shell = { openExternal: async () => {}, openPath: async () => '' };
exports.webContents = { getAllWebContents: () => [] };
