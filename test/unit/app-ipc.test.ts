import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FerryError } from '../../protocol/errors';
import { IPC_EVENT_CHANNEL, methodNames } from '../../shared/ui-contract';
import { channelFor, extraHandler, isTrustedSender, registerIpcHandlers } from '../../main/app/ipc';
import { FakeIpcMain, fakeLogger, fakeService, status } from '../fakes/app-fakes';

const APP = 'ferry://app/index.html#/queue';

function setup(service = fakeService({ getStatus: async () => status() })) {
  const ipcMain = new FakeIpcMain();
  const log = fakeLogger();
  const unregister = registerIpcHandlers({
    ipcMain,
    service,
    log,
    extra: {
      chooseFolder: extraHandler({
        input: z.strictObject({}).optional(),
        output: z.object({ path: z.string().nullable() }),
        handle: async () => ({ path: '/home/ada/Sync' }),
      }),
    },
  });
  return { ipcMain, log, unregister };
}

describe('sender check', () => {
  it.each([
    ['file://', 'file:///tmp/evil.html'],
    ['a web page', 'https://example.com/'],
    ['another ferry host', 'ferry://evil/index.html'],
    ['a devtools page', 'devtools://devtools/bundled/inspector.html'],
    ['no frame', null],
  ])('refuses %s', async (_name, url) => {
    let called = false;
    const { ipcMain, log } = setup(fakeService({ getStatus: async () => ((called = true), status()) }));
    const answer = await ipcMain.invoke(channelFor('getStatus'), url, {});
    expect(answer).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(called).toBe(false);
    expect(log.entries.some((e) => e.level === 'warn' && e.message.includes('untrusted sender'))).toBe(true);
  });

  it('trusts only frames on ferry://app', () => {
    expect(isTrustedSender({ senderFrame: { url: APP } })).toBe(true);
    expect(isTrustedSender({ senderFrame: { url: 'ferry://app.evil/index.html' } })).toBe(false);
    expect(isTrustedSender({ senderFrame: { url: 'ferry://user:pw@app/' } })).toBe(false);
  });
});

describe('contract handlers over IPC', () => {
  it('registers one channel per contract method plus the extras, never the event channel', () => {
    const { ipcMain, unregister } = setup();
    expect([...ipcMain.handlers.keys()].sort()).toEqual([...methodNames.map(channelFor), channelFor('chooseFolder')].sort());
    expect(ipcMain.handlers.has(IPC_EVENT_CHANNEL)).toBe(false);
    unregister();
    expect(ipcMain.handlers.size).toBe(0);
  });

  it('answers a valid call with {ok: true, value}, input defaults applied', async () => {
    let seen: unknown;
    const service = fakeService({
      getStatus: async () => status(),
      listQueue: async (query) => {
        seen = query;
        return { items: [], total: 0 };
      },
    });
    const { ipcMain } = setup(service);
    expect(await ipcMain.invoke(channelFor('listQueue'), APP, { state: 'failed' })).toEqual({ ok: true, value: { items: [], total: 0 } });
    expect(seen).toEqual({ state: 'failed', offset: 0, limit: 100 });
    expect(await ipcMain.invoke(channelFor('getStatus'), APP)).toMatchObject({ ok: true, value: { state: 'idle' } });
  });

  it('answers invalid input with invalid_input and the fields, without calling the agent', async () => {
    let called = false;
    const service = fakeService({ listQueue: async () => ((called = true), { items: [], total: 0 }) });
    const { ipcMain } = setup(service);
    const answer = await ipcMain.invoke(channelFor('listQueue'), APP, { limit: 5000, state: 'nope' });
    expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_input', retryable: false } });
    const fields = (answer as { error: { fields: Record<string, string> } }).error.fields;
    expect(Object.keys(fields).sort()).toEqual(['limit', 'state']);
    expect(called).toBe(false);
  });

  it('refuses unknown keys (strict schemas)', async () => {
    const { ipcMain } = setup(fakeService({ pause: async () => ({ ok: true as const }) }));
    expect(await ipcMain.invoke(channelFor('pause'), APP, { force: true })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
  });

  it('maps a thrown FerryError to its code, retryable flag and fields', async () => {
    const service = fakeService({
      syncNow: async () => {
        throw new FerryError('offline', 'The server cannot be reached.', { retryable: true });
      },
      updateSettings: async () => {
        throw new FerryError('invalid_input', 'Some settings are not valid.', { details: { fields: { serverUrl: 'enter an http:// or https:// URL' } } });
      },
    });
    const { ipcMain } = setup(service);
    expect(await ipcMain.invoke(channelFor('syncNow'), APP, {})).toEqual({
      ok: false,
      error: { code: 'offline', message: 'The server cannot be reached.', retryable: true },
    });
    const settings = { serverUrl: 'https://sync.example.com', folders: [] };
    expect(await ipcMain.invoke(channelFor('updateSettings'), APP, settings)).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', fields: { serverUrl: 'enter an http:// or https:// URL' } },
    });
  });

  it('hides unexpected errors behind internal and logs them', async () => {
    const { ipcMain, log } = setup(fakeService({ pause: async () => Promise.reject(new TypeError('db is closed')) }));
    const answer = await ipcMain.invoke(channelFor('pause'), APP, {});
    expect(answer).toMatchObject({ ok: false, error: { code: 'internal', retryable: false } });
    expect(JSON.stringify(answer)).not.toContain('db is closed');
    expect(log.entries.find((e) => e.level === 'error')?.fields['error']).toBeInstanceOf(TypeError);
  });

  it('validates the output: an agent bug never reaches the page', async () => {
    const leaky = fakeService({
      getSettings: async () => ({ token: 'secret-token' }) as never,
    });
    const { ipcMain } = setup(leaky);
    const answer = await ipcMain.invoke(channelFor('getSettings'), APP, {});
    expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_output' } });
    expect(JSON.stringify(answer)).not.toContain('secret-token');
  });

  it('runs the shell extras through the same checks', async () => {
    const { ipcMain } = setup();
    expect(await ipcMain.invoke(channelFor('chooseFolder'), APP)).toEqual({ ok: true, value: { path: '/home/ada/Sync' } });
    expect(await ipcMain.invoke(channelFor('chooseFolder'), 'https://example.com/')).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  });

  it('refuses an extra that would shadow a contract method', () => {
    const handler = extraHandler({ input: z.undefined(), output: z.null(), handle: async () => null });
    expect(() => registerIpcHandlers({ ipcMain: new FakeIpcMain(), service: fakeService(), log: fakeLogger(), extra: { getStatus: handler } })).toThrow(
      /collides/,
    );
  });
});
