import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTray, type TrayLike } from '../../main/app/tray';
import type { TrayAction } from '../../main/app/tray-model';
import { status } from '../fakes/app-fakes';

function setup(platform = 'linux') {
  const calls: string[] = [];
  let themeListener: (() => void) | null = null;
  const theme = { shouldUseDarkColors: false, on: (_e: 'updated', l: () => void) => (themeListener = l) };
  let clickListener: (() => void) | null = null;
  const dispatched: TrayAction[] = [];
  let menus = 0;
  const tray: TrayLike = {
    setImage: (image) => calls.push(`image ${path.basename(image)}`),
    setToolTip: (text) => calls.push(`tooltip ${text}`),
    setContextMenu: () => calls.push('menu'),
    on: (_event, listener) => (clickListener = listener),
    destroy: () => calls.push('destroy'),
  };
  let created = '';
  const controller = createTray({
    electron: {
      createTray: (icon) => {
        created = path.basename(icon);
        return tray;
      },
      buildMenu: () => ++menus,
      nativeTheme: theme,
    },
    iconDir: '/assets/tray',
    platform,
    dispatch: (a) => dispatched.push(a),
    startAtLogin: () => false,
    folders: () => [],
  });
  return { controller, calls, theme, fireTheme: () => themeListener?.(), click: () => clickListener?.(), dispatched, created: () => created };
}

describe('tray adapter', () => {
  it('starts with the idle icon and touches Electron only for what changed', () => {
    const t = setup();
    expect(t.created()).toBe('idle-light.png');
    t.calls.length = 0;
    t.controller.update(status({ state: 'syncing', run: { name: 'r', itemsLeft: 3, bytesLeft: 10 } }));
    expect(t.calls).toEqual(['image syncing-light.png', 'tooltip Syncing 3 files', 'menu']);
    t.calls.length = 0;
    t.controller.update(status({ state: 'syncing', run: { name: 'r', itemsLeft: 3, bytesLeft: 10 } }));
    expect(t.calls).toEqual([]);
  });

  it('switches icons when the theme changes', () => {
    const t = setup();
    t.controller.update(status({ state: 'paused' }));
    t.calls.length = 0;
    t.theme.shouldUseDarkColors = true;
    t.fireTheme();
    expect(t.calls).toEqual(['image paused-dark.png']);
  });

  it('opens the queue on a left click on Windows only', () => {
    const win = setup('win32');
    win.click();
    expect(win.dispatched).toEqual([{ type: 'showQueue' }]);
    const mac = setup('darwin');
    mac.click();
    expect(mac.dispatched).toEqual([]);
    expect(mac.created()).toBe('idleTemplate.png');
  });
});
