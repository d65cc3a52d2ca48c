import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * "Start at login". Electron's login item API covers macOS and Windows; on Linux the
 * freedesktop way is a .desktop file in ~/.config/autostart.
 */
export interface LoginItem {
  get(): boolean;
  set(openAtLogin: boolean): void;
}

export interface LoginItemAppLike {
  getLoginItemSettings(): { openAtLogin: boolean };
  setLoginItemSettings(settings: { openAtLogin: boolean }): void;
}

export const AUTOSTART_FILE = 'ferry.desktop';

/** Exec= quoting per the Desktop Entry spec. */
function execLine(command: readonly string[]): string {
  return command.map((arg) => (/[\s"'`$\\]/.test(arg) ? `"${arg.replace(/(["`$\\])/g, '\\$1')}"` : arg)).join(' ');
}

export function desktopEntry(command: readonly string[]): string {
  return ['[Desktop Entry]', 'Type=Application', 'Name=Ferry', 'Comment=Folder sync', `Exec=${execLine(command)}`, 'Terminal=false', 'X-GNOME-Autostart-enabled=true', ''].join('\n');
}

export function createLoginItem(options: { platform: string; app: LoginItemAppLike; autostartDir: string; command: readonly string[] }): LoginItem {
  if (options.platform !== 'linux') {
    return {
      get: () => options.app.getLoginItemSettings().openAtLogin,
      set: (openAtLogin) => options.app.setLoginItemSettings({ openAtLogin }),
    };
  }
  const file = path.join(options.autostartDir, AUTOSTART_FILE);
  return {
    get() {
      try {
        return readFileSync(file, 'utf8').includes('[Desktop Entry]');
      } catch {
        return false;
      }
    },
    set(openAtLogin) {
      if (!openAtLogin) return rmSync(file, { force: true });
      mkdirSync(options.autostartDir, { recursive: true });
      writeFileSync(file, desktopEntry(options.command));
    },
  };
}
