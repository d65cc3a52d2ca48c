import type { BrowserWindowConstructorOptions } from 'electron';
import { appUrl, type AppRoute } from './origin';
import { secureWebPreferences } from './security';

/**
 * The queue and settings windows: created on demand, reused, and hidden (not destroyed) on
 * close, since Ferry keeps running in the tray. Both load the same bundle on ferry://app.
 */

export interface WindowLike {
  isDestroyed(): boolean;
  isMinimized(): boolean;
  restore(): void;
  show(): void;
  hide(): void;
  focus(): void;
  loadURL(url: string): Promise<void>;
  on(event: 'close', listener: (event: { preventDefault(): void }) => void): unknown;
  once(event: 'ready-to-show', listener: () => void): unknown;
  webContents: { send(channel: string, ...args: unknown[]): void };
}

export interface WindowManagerOptions {
  createWindow(options: BrowserWindowConstructorOptions): WindowLike;
  preload: string;
  icon?: string;
  onLoadError?(route: AppRoute, error: unknown): void;
}

const SIZES: Record<AppRoute, { width: number; height: number; minWidth: number; minHeight: number; title: string }> = {
  queue: { width: 960, height: 640, minWidth: 640, minHeight: 420, title: 'Ferry' },
  settings: { width: 640, height: 720, minWidth: 520, minHeight: 520, title: 'Ferry Settings' },
};

export class WindowManager {
  private readonly windows = new Map<AppRoute, WindowLike>();
  private quitting = false;

  constructor(private readonly options: WindowManagerOptions) {}

  /** Shows the route's window, creating it the first time. */
  show(route: AppRoute): WindowLike {
    const existing = this.windows.get(route);
    if (existing && !existing.isDestroyed()) {
      if (existing.isMinimized()) existing.restore();
      existing.show();
      existing.focus();
      return existing;
    }
    const size = SIZES[route];
    const win = this.options.createWindow({
      ...size,
      show: false,
      ...(this.options.icon ? { icon: this.options.icon } : {}),
      autoHideMenuBar: true,
      webPreferences: secureWebPreferences(this.options.preload),
    });
    this.windows.set(route, win);
    // Closing only hides: the app lives on in the tray until Quit.
    win.on('close', (event) => {
      if (this.quitting) return;
      event.preventDefault();
      win.hide();
    });
    win.once('ready-to-show', () => {
      win.show();
      win.focus();
    });
    win.loadURL(appUrl(route)).catch((error: unknown) => this.options.onLoadError?.(route, error));
    return win;
  }

  /** The window a click on the tray or a second launch brings forward. */
  focusAny(): WindowLike {
    for (const route of ['queue', 'settings'] as const) {
      const win = this.windows.get(route);
      if (win && !win.isDestroyed()) return this.show(route);
    }
    return this.show('queue');
  }

  /** From now on closing really closes (app quit). */
  setQuitting(): void {
    this.quitting = true;
  }

  /** Sends to every live window (agent events). */
  broadcast(channel: string, payload: unknown): void {
    for (const win of this.windows.values()) {
      if (!win.isDestroyed()) win.webContents.send(channel, payload);
    }
  }

  /** The focused-or-any window, as a parent for system dialogs. */
  get(route: AppRoute): WindowLike | undefined {
    const win = this.windows.get(route);
    return win && !win.isDestroyed() ? win : undefined;
  }
}

/** `--show=queue|settings` on the command line (first launch or a second one). */
export function routeFromArgv(argv: readonly string[]): AppRoute | null {
  for (const arg of argv) {
    if (arg === '--show=queue') return 'queue';
    if (arg === '--show=settings') return 'settings';
  }
  return null;
}
