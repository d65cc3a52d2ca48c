import { describe, expect, it } from 'vitest';
import { TRAY_STATES, formatRate, trayIconName, trayModel, trayTooltip, type MenuItemModel, type TrayInput } from '../../main/app/tray-model';
import { toMenuTemplate } from '../../main/app/tray';
import { folderStatus, status } from '../fakes/app-fakes';
import { REVOKED_REASON } from '../../main/engine/agent/connection';

const input = (overrides: Partial<TrayInput> = {}): TrayInput => ({
  status: status(),
  platform: 'linux',
  dark: false,
  startAtLogin: false,
  folders: [{ id: 'docs', localPath: '/home/ada/Documents' }],
  ...overrides,
});

const find = (menu: MenuItemModel[], label: string) => {
  const item = menu.find((i) => 'label' in i && i.label === label);
  if (!item) throw new Error(`no menu item ${label}`);
  return item;
};

describe('tray icon per state, theme and platform', () => {
  it.each(TRAY_STATES)('%s uses its own icon on every platform', (state) => {
    expect(trayIconName(state, 'linux', false)).toBe(`${state}-light.png`);
    expect(trayIconName(state, 'win32', true)).toBe(`${state}-dark.png`);
    expect(trayIconName(state, 'darwin', true)).toBe(`${state}Template.png`);
    expect(trayIconName(state, 'darwin', false)).toBe(`${state}Template.png`);
  });

  it('follows the status into the model', () => {
    expect(trayModel(input({ status: status({ state: 'offline' }), dark: true })).iconName).toBe('offline-dark.png');
    expect(trayModel(input({ status: null })).iconName).toBe('idle-light.png');
  });

  it('shows a refused token with the error icon and says what to do, unlike offline', () => {
    const refused = trayModel(input({ status: status({ state: 'auth_failed' }), dark: true }));
    expect(refused.iconName).toBe('error-dark.png');
    expect(refused.tooltip).toBe('The server refused the token: check it in Settings');
    expect(trayTooltip(status({ state: 'offline' }))).toBe('Offline, waiting for the server');
    // A folder not made yet: the agent waits for it, and the tooltip says which (no held delete's line says it).
    expect(trayTooltip(status({ state: 'waiting', reason: 'Folder docs: The folder /x does not exist yet: it syncs on its own once it is created' }))).toBe(
      'Folder docs: The folder /x does not exist yet: it syncs on its own once it is created',
    );
  });

  it('says a revoked device was signed out and is to be paired again, not that its token is wrong', () => {
    expect(trayTooltip(status({ state: 'auth_failed', reason: REVOKED_REASON }))).toBe('This device was signed out; pair it again in Settings');
  });
});

describe('tray tooltip', () => {
  it('says how many files are syncing and how fast', () => {
    const s = status({
      state: 'syncing',
      run: { name: 'run', itemsLeft: 12, bytesLeft: 1e7 },
      rates: { uploadBytesPerSec: 3_000_000, downloadBytesPerSec: 400_000, itemsPerSec: 2 },
    });
    expect(trayTooltip(s)).toBe('Syncing 12 files, 3.4 MB/s');
  });

  it('counts queued items without a run, and leaves out a zero rate', () => {
    const s = status({ state: 'syncing', counts: { pending: 1, in_flight: 0, retry_wait: 0, failed: 0, done: 9 } });
    expect(trayTooltip(s)).toBe('Syncing 1 file');
  });

  it('says Paused', () => {
    expect(trayTooltip(status({ state: 'paused' }))).toBe('Paused');
  });

  it('says how many failed', () => {
    expect(trayTooltip(status({ counts: { pending: 0, in_flight: 0, retry_wait: 0, failed: 2, done: 5 } }))).toBe('2 failed');
    expect(trayTooltip(status({ state: 'paused', counts: { pending: 0, in_flight: 0, retry_wait: 0, failed: 1, done: 0 } }))).toBe('Paused\n1 failed');
  });

  it('is calm when there is nothing to do', () => {
    expect(trayTooltip(status())).toBe('Up to date');
    expect(trayTooltip(status({ folders: [] }))).toBe('No folders yet');
    expect(trayTooltip(null)).toBe('Ferry is starting…');
  });

  it('names the error and a mass delete waiting for the user', () => {
    const s = status({
      state: 'error',
      folders: [
        folderStatus({ state: 'error', error: 'folder root is missing' }),
        folderStatus({ id: 'pics', localPath: '/home/ada/Pictures', state: 'paused_mass_delete', pendingDelete: { count: 1200, total: 1500, side: 'scan', sample: [], devices: [] } }),
      ],
    });
    expect(trayTooltip(s)).toBe('Error: folder root is missing\nPictures: 1200 files deleted on this computer waiting for you');
  });

  it('shows a held bulk delete as waiting for the user, with the paused icon, never as an error', () => {
    const pending = { count: 40, total: 50, side: 'pull' as const, sample: ['a.txt'], devices: ['dev-b'] };
    const s = status({ state: 'waiting', folders: [folderStatus({ id: 'pics', localPath: '/home/ada/Pictures', state: 'paused_mass_delete', pendingDelete: pending })] });
    expect(trayTooltip(s)).toBe('Pictures: 40 files deleted by dev-b waiting for you');
    expect(trayIconName('waiting', 'linux', false)).toBe('paused-light.png');
  });

  it('names a folder waiting for disk space', () => {
    const full = folderStatus({ state: 'disk_full', error: 'The disk holding /home/ada/Documents is full: free some space, syncing resumes by itself' });
    const model = trayModel(input({ status: status({ state: 'error', folders: [full] }) }));
    expect(model.tooltip).toBe('Error: The disk holding /home/ada/Documents is full: free some space, syncing resumes by itself');
    expect(model.iconName).toBe('error-light.png');
  });

  it('keeps an error to one short line', () => {
    const long = `Cannot find module '/${'x'.repeat(200)}/better_sqlite3.node'\nRequire stack:\n- database.js`;
    const line = trayTooltip(status({ state: 'error', folders: [folderStatus({ state: 'error', error: long })] }));
    expect(line.split('\n')).toHaveLength(1);
    expect(line.length).toBeLessThanOrEqual(107);
    expect(line.endsWith('…')).toBe(true);
  });

  it('formats rates in decimal units', () => {
    expect(formatRate(0)).toBe('0 B/s');
    expect(formatRate(999)).toBe('999 B/s');
    expect(formatRate(1500)).toBe('1.5 KB/s');
    expect(formatRate(2_500_000_000)).toBe('2.5 GB/s');
  });
});

describe('tray menu', () => {
  it('has the actions in order', () => {
    const labels = trayModel(input()).menu.map((i) => (i.kind === 'separator' ? '-' : i.label));
    expect(labels).toEqual(['Up to date', '-', 'Sync now', 'Pause', '-', 'Show queue', 'Settings…', 'Open folder', 'Open logs', '-', 'Start at login', '-', 'Quit Ferry']);
  });

  it('offers Resume instead of Pause while paused, and no Sync now', () => {
    const menu = trayModel(input({ status: status({ state: 'paused' }) })).menu;
    expect(find(menu, 'Resume')).toMatchObject({ kind: 'action', enabled: true, action: { type: 'resume' } });
    expect(menu.some((i) => 'label' in i && i.label === 'Pause')).toBe(false);
    expect(find(menu, 'Sync now')).toMatchObject({ enabled: false });
  });

  it('disables sync actions until the agent answered', () => {
    const menu = trayModel(input({ status: null })).menu;
    expect(find(menu, 'Sync now')).toMatchObject({ enabled: false });
    expect(find(menu, 'Pause')).toMatchObject({ enabled: false });
    expect(find(menu, 'Show queue')).toMatchObject({ enabled: true });
  });

  it('shows the login item as a checkbox in its current state', () => {
    expect(find(trayModel(input({ startAtLogin: true })).menu, 'Start at login')).toMatchObject({ kind: 'checkbox', checked: true });
    expect(find(trayModel(input({ startAtLogin: false })).menu, 'Start at login')).toMatchObject({ kind: 'checkbox', checked: false });
  });

  it('lists one Open folder entry per folder, with paths where names clash', () => {
    const folders = [
      { id: 'a', localPath: '/home/ada/Documents' },
      { id: 'b', localPath: '/mnt/work/Documents' },
      { id: 'c', localPath: '/home/ada/Music' },
    ];
    const submenu = find(trayModel(input({ folders })).menu, 'Open folder');
    expect(submenu.kind).toBe('submenu');
    if (submenu.kind !== 'submenu') return;
    expect(submenu.items.map((i) => ('label' in i ? i.label : '-'))).toEqual(['/home/ada/Documents', '/mnt/work/Documents', 'Music']);
    expect(submenu.items[2]).toMatchObject({ action: { type: 'openFolder', folderId: 'c' } });
    expect(find(trayModel(input({ folders: [] })).menu, 'Open folder')).toMatchObject({ enabled: false });
  });

  it('turns into an Electron template whose clicks dispatch the action', () => {
    const dispatched: unknown[] = [];
    const template = toMenuTemplate(trayModel(input()).menu, (a) => dispatched.push(a));
    const sync = template.find((i) => i.label === 'Sync now');
    const login = template.find((i) => i.label === 'Start at login');
    const folders = template.find((i) => i.label === 'Open folder');
    expect(template[0]).toMatchObject({ label: 'Up to date', enabled: false });
    expect(login).toMatchObject({ type: 'checkbox', checked: false });
    (sync?.click as () => void)();
    const folderItems = folders?.submenu as Array<{ click: () => void }>;
    folderItems[0]!.click();
    expect(dispatched).toEqual([{ type: 'syncNow' }, { type: 'openFolder', folderId: 'docs' }]);
  });
});
