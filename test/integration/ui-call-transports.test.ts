import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FerryError } from '../../protocol/errors';
import type { CallResult, ContractHandlers, MethodName } from '../../shared/ui-contract';
import { channelFor, registerIpcHandlers } from '../../main/app/ipc';
import { startControlServer, type ControlServer } from '../../main/control/control-server';
import { FakeIpcMain, fakeLogger, fakeService, status } from '../fakes/app-fakes';
import { callApi } from '../helpers/control-http';

// One suite, both transports: every case is called over IPC (the real handler registration)
// and over HTTP (the real control server on loopback), and the two answers must be the same,
// errors included: an internal error is not retryable on one and retryable on the other.
const TOKEN = 'c'.repeat(64);
const APP = 'ferry://app/index.html';
let behaviour: Partial<ContractHandlers> = {};
const service = fakeService();
for (const name of Object.keys(service.handlers) as MethodName[]) {
  (service.handlers as Record<string, unknown>)[name] = (input: unknown) => {
    const handler = behaviour[name] as ((input: unknown) => Promise<unknown>) | undefined;
    return handler ? handler(input) : Promise.reject(new Error(`${name} not set up`));
  };
}

const ipcMain = new FakeIpcMain();
let control: ControlServer;

beforeAll(async () => {
  registerIpcHandlers({ ipcMain, service, log: fakeLogger() });
  control = await startControlServer({ service, token: TOKEN, port: 0, log: fakeLogger() });
});

afterAll(async () => {
  await control.close();
});

async function both(method: MethodName, input: unknown): Promise<CallResult<unknown>> {
  const overIpc = (await ipcMain.invoke(channelFor(method), APP, input)) as CallResult<unknown>;
  const overHttp = (await callApi(control.port, method, input, TOKEN)).json() as CallResult<unknown>;
  expect(overHttp, `${method}: HTTP answers as IPC does`).toEqual(overIpc);
  return overIpc;
}

describe('IPC and HTTP answer every call alike', () => {
  it('a valid call, input defaults applied', async () => {
    const seen: unknown[] = [];
    behaviour = { listQueue: async (query) => (seen.push(query), { items: [], total: 0 }) };
    expect(await both('listQueue', { state: 'failed' })).toEqual({ ok: true, value: { items: [], total: 0 } });
    expect(seen).toEqual([
      { state: 'failed', offset: 0, limit: 100 },
      { state: 'failed', offset: 0, limit: 100 },
    ]);
  });

  it('invalid input: invalid_input with the fields, the handler never called', async () => {
    let called = 0;
    behaviour = { listQueue: async () => (called++, { items: [], total: 0 }) };
    const answer = await both('listQueue', { limit: 5000, state: 'nope' });
    expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_input', retryable: false } });
    expect(Object.keys((answer as { error: { fields: object } }).error.fields).sort()).toEqual(['limit', 'state']);
    expect(called).toBe(0);
  });

  it('invalid settings: invalid_settings with the field', async () => {
    behaviour = {};
    expect(await both('updateSettings', { serverUrl: 'ftp://nope', token: 't' })).toMatchObject({
      ok: false,
      error: { code: 'invalid_settings', retryable: false, fields: { serverUrl: expect.any(String) } },
    });
  });

  it("a FerryError: its code, message, retryable flag and fields", async () => {
    behaviour = {
      syncNow: async () => {
        throw new FerryError('offline', 'The server cannot be reached.', { retryable: true });
      },
      retry: async () => {
        throw new FerryError('not_found', 'No queue item 7', { status: 404 });
      },
    };
    expect(await both('syncNow', {})).toEqual({ ok: false, error: { code: 'offline', message: 'The server cannot be reached.', retryable: true } });
    expect(await both('retry', { id: 7 })).toEqual({ ok: false, error: { code: 'not_found', message: 'No queue item 7', retryable: false } });
  });

  it('an unexpected error: internal, not retryable, its detail kept out of the answer', async () => {
    behaviour = { pause: async () => Promise.reject(new TypeError('db is closed')) };
    const answer = await both('pause', {});
    expect(answer).toMatchObject({ ok: false, error: { code: 'internal', retryable: false } });
    expect(JSON.stringify(answer)).not.toContain('db is closed');
  });

  it('a zod error thrown by a handler: invalid_input', async () => {
    behaviour = { getStatus: async () => z.object({ n: z.int() }).parse({ n: 'x' }) as never };
    expect(await both('getStatus', {})).toMatchObject({ ok: false, error: { code: 'invalid_input', retryable: false, fields: { n: expect.any(String) } } });
  });

  it('an answer outside the contract: invalid_output, the leaked value never sent', async () => {
    behaviour = { getSettings: async () => ({ token: 'secret-token' }) as never, getStatus: async () => status() };
    const answer = await both('getSettings', {});
    expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_output', retryable: false } });
    expect(JSON.stringify(answer)).not.toContain('secret-token');
    expect(await both('getStatus', {})).toMatchObject({ ok: true, value: { state: 'idle' } });
  });
});
