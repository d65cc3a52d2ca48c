import { describe, expect, it } from 'vitest';
import { WindowManager, routeFromArgv } from '../../main/app/windows';
import { FakeWindow } from '../fakes/app-fakes';

function setup() {
  const created: FakeWindow[] = [];
  const manager = new WindowManager({
    createWindow: (options) => {
      const win = new FakeWindow(options);
      created.push(win);
      return win;
    },
    preload: '/app/dist/preload/bridge.cjs',
  });
  return { manager, created };
}

describe('windows', () => {
  it('creates the queue window on demand with secure preferences on our origin', () => {
    const { manager, created } = setup();
    expect(created).toHaveLength(0);
    manager.show('queue');
    expect(created).toHaveLength(1);
    const win = created[0]!;
    expect(win.loaded).toEqual(['ferry://app/index.html#/queue']);
    expect(win.options).toMatchObject({ show: false, webPreferences: { contextIsolation: true, sandbox: true, nodeIntegration: false, preload: '/app/dist/preload/bridge.cjs' } });
    expect(win.visible).toBe(false);
    win.emitReady();
    expect(win.visible).toBe(true);
  });

  it('reuses a window, restoring and focusing it', () => {
    const { manager, created } = setup();
    const first = manager.show('settings') as FakeWindow;
    first.minimized = true;
    expect(manager.show('settings')).toBe(first);
    expect(created).toHaveLength(1);
    expect(first.minimized).toBe(false);
    expect(first.focused).toBe(1);
    expect(first.loaded).toEqual(['ferry://app/index.html#/settings']);
  });

  it('hides on close while running, closes for real when quitting', () => {
    const { manager } = setup();
    const win = manager.show('queue') as FakeWindow;
    win.emitReady();
    expect(win.userClose()).toBe(false);
    expect(win.visible).toBe(false);
    expect(manager.show('queue')).toBe(win);
    manager.setQuitting();
    expect(win.userClose()).toBe(true);
  });

  it('creates a new window after one was destroyed', () => {
    const { manager, created } = setup();
    (manager.show('queue') as FakeWindow).destroyed = true;
    manager.show('queue');
    expect(created).toHaveLength(2);
  });

  it('brings an existing window forward for a second launch, else the queue', () => {
    const { manager, created } = setup();
    manager.focusAny();
    expect(created[0]!.loaded).toEqual(['ferry://app/index.html#/queue']);
    const fresh = setup();
    const settings = fresh.manager.show('settings');
    expect(fresh.manager.focusAny()).toBe(settings);
    expect(fresh.created).toHaveLength(1);
  });

  it('broadcasts events to live windows only', () => {
    const { manager } = setup();
    const queue = manager.show('queue') as FakeWindow;
    const settings = manager.show('settings') as FakeWindow;
    settings.destroyed = true;
    manager.broadcast('ferry:event', { type: 'activity' });
    expect(queue.sent).toEqual([{ channel: 'ferry:event', args: [{ type: 'activity' }] }]);
    expect(settings.sent).toEqual([]);
  });

  it('reads --show from the command line', () => {
    expect(routeFromArgv(['/usr/bin/ferry', '--show=settings'])).toBe('settings');
    expect(routeFromArgv(['electron', 'main.mjs', '--show=queue'])).toBe('queue');
    expect(routeFromArgv(['ferry', '--show=../etc'])).toBeNull();
  });
});
