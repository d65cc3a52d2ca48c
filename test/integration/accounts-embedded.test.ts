import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairWithEmbeddedServer } from '../../main/control/device-pairing';
import { runAccountsCommand } from '../../server/accounts-cli';
import { startServer, type RunningServer } from '../../server/main';
import { makeTempDir } from '../helpers/local-temp';

// `ferry start` pairs its agent with its own embedded server (main/control/commands/start.ts).
describe('the embedded server pairs its own agent', () => {
  const tmp = makeTempDir('ferry-embedded-pair-');
  const serverDir = path.join(tmp.dir, 'server');
  const dataDir = path.join(tmp.dir, 'agent');
  let server: RunningServer;

  const pair = (savedToken: unknown) => pairWithEmbeddedServer({ serverDir, serverUrl: server.url, dataDir, savedToken, userName: 'local' });
  const get = (token: string, urlPath: string) => fetch(server.url + urlPath, { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    server = await startServer({ dataDir: serverDir, port: 0 });
    // A folder from before accounts, made with the server token.
    expect((await fetch(`${server.url}/v1/folders/old-docs`, { method: 'PUT', headers: { authorization: `Bearer ${server.token}` } })).status).toBe(201);
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('gives the local user a device token that reaches the folders made before accounts', async () => {
    const token = await pair(undefined);
    expect(token).toMatch(/^fdt_/);
    expect(token).not.toBe(server.token);
    expect((await get(token, '/v1/folders/old-docs')).status).toBe(200);
  });

  it('keeps a saved token that still works, and pairs again once it was revoked', async () => {
    const first = await pair(undefined);
    expect(await pair(first)).toBe(first);
    let out = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
    expect(await runAccountsCommand(['devices', '--json', '--data', serverDir], io)).toBe(0);
    const devices = JSON.parse(out) as Array<{ id: string; user: string }>;
    expect(new Set(devices.map((d) => d.user))).toEqual(new Set(['local']));
    const id = devices.at(-1)!.id;
    expect(await runAccountsCommand(['revoke', id, '--data', serverDir], io)).toBe(0);
    const next = await pair(first);
    expect(next).not.toBe(first);
    expect((await get(next, '/v1/folders')).status).toBe(200);
  });
});
