import path from 'node:path';
import type { MenuItemConstructorOptions } from 'electron';
import type { Status } from '../../shared/ui-contract';
import { trayModel, type MenuItemModel, type TrayAction, type TrayInput } from './tray-model';

/** The few Electron calls the tray needs (main.ts passes the real Tray/Menu/nativeTheme). */
export interface TrayLike {
  setImage(image: string): void;
  setToolTip(text: string): void;
  setContextMenu(menu: unknown): void;
  on(event: 'click', listener: () => void): unknown;
  destroy(): void;
}

export interface TrayElectron {
  createTray(iconPath: string): TrayLike;
  buildMenu(template: MenuItemConstructorOptions[]): unknown;
  nativeTheme: { readonly shouldUseDarkColors: boolean; on(event: 'updated', listener: () => void): unknown };
}

export interface TrayOptions {
  electron: TrayElectron;
  /** assets/tray */
  iconDir: string;
  platform: string;
  dispatch(action: TrayAction): void;
  startAtLogin(): boolean;
  folders(): TrayInput['folders'];
}

export interface TrayController {
  update(status: Status | null): void;
  /** Re-reads login item and folders (after a settings change). */
  refresh(): void;
  destroy(): void;
}

export function toMenuTemplate(items: readonly MenuItemModel[], dispatch: (action: TrayAction) => void): MenuItemConstructorOptions[] {
  return items.map((item): MenuItemConstructorOptions => {
    switch (item.kind) {
      case 'separator':
        return { type: 'separator' };
      case 'label':
        return { label: item.label, enabled: false };
      case 'action':
        return { label: item.label, enabled: item.enabled, click: () => dispatch(item.action) };
      case 'checkbox':
        return { label: item.label, type: 'checkbox', checked: item.checked, click: () => dispatch(item.action) };
      case 'submenu':
        return { label: item.label, enabled: item.enabled, submenu: toMenuTemplate(item.items, dispatch) };
    }
  });
}

export function createTray(options: TrayOptions): TrayController {
  const { electron, iconDir, platform, dispatch } = options;
  let status: Status | null = null;
  let shown = { icon: '', tooltip: '', menu: '' };

  const input = (): TrayInput => ({
    status,
    platform,
    dark: electron.nativeTheme.shouldUseDarkColors,
    startAtLogin: options.startAtLogin(),
    folders: options.folders(),
  });
  const first = trayModel(input());
  const tray = electron.createTray(path.join(iconDir, first.iconName));
  shown.icon = first.iconName;

  // Status events can arrive several times a second: touch Electron only for what changed.
  const render = () => {
    const model = trayModel(input());
    const menu = JSON.stringify(model.menu);
    if (model.iconName !== shown.icon) tray.setImage(path.join(iconDir, model.iconName));
    if (model.tooltip !== shown.tooltip) tray.setToolTip(model.tooltip);
    if (menu !== shown.menu) tray.setContextMenu(electron.buildMenu(toMenuTemplate(model.menu, dispatch)));
    shown = { icon: model.iconName, tooltip: model.tooltip, menu };
  };

  electron.nativeTheme.on('updated', render);
  // Windows users expect a left click to open the app; macOS and Linux show the menu.
  if (platform === 'win32') tray.on('click', () => dispatch({ type: 'showQueue' }));
  render();

  return {
    update(next) {
      status = next;
      render();
    },
    refresh: render,
    destroy: () => tray.destroy(),
  };
}
