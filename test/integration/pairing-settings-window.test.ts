import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent } from '../../main/engine/agent';
import { createEngineHost } from '../../main/app/engine-host';
import { SETTINGS_FILE as APP_SETTINGS_FILE, createSettingsStore } from '../../main/app/settings-store';
import { TOKEN_FILE, createTokenStore } from '../../main/app/token-store';
import { startHost, type Host } from '../../main/control/agent-host';
import { SETTINGS_FILE } from '../../main/control/control-token';
import { PAIRING_FILE } from '../../main/engine/agent/pairing';
import { PairDeviceInput } from '../../shared/ui-contract';
import { runAccountsCommand } from '../../server/accounts-cli';
import { startServer, type RunningServer } from '../../server/main';
import { fakeLogger, fakeSafeStorage } from '../fakes/app-fakes';
import { callApi } from '../helpers/control-http';
import { makeTempDir } from '../helpers/local-temp';
import { testSettings } from '../helpers/agent-settings';
import { waitFor } from '../helpers/wait';

// "Connect with a pairing code" in the settings window: the UI contract's pairDevice, served
// by the desktop app (token kept with safeStorage, here an injected fake of it) and by the
// headless agent's control API (token in its 0600 settings file), against a real server.
describe('pairing from the settings window', () => {
  const tmp = makeTempDir('ferry-pair-ui-');
  const serverDir = path.join(tmp.dir, 'server');
  let server: RunningServer;
  let headless: Host | undefined;

  async function pairingCode(): Promise<string> {
    let out = '';
    expect(await runAccountsCommand(['pair', '--user', 'ann', '--data', serverDir], { out: (s) => void (out += s), err: (s) => void (out += s) })).toBe(0);
    return /: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\n/.exec(out)?.[1] as string;
  }
  const devicesOfAnn = async () => {
    let out = '';
    await runAccountsCommand(['devices', '--user', 'ann', '--json', '--data', serverDir], { out: (s) => void (out += s), err: () => undefined });
    return JSON.parse(out) as Array<{ id: string; name: string; revokedAt: string | null }>;
  };
  const folderWith = (name: string, file: string) => {
    const dir = path.join(tmp.dir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, file), `${file} from ${name}`);
    return dir;
  };
  const onServer = async (folderId: string, file: string) => {
    const res = await fetch(`${server.url}/v1/folders/${folderId}/changes`, { headers: { authorization: `Bearer ${server.token}` } });
    return res.ok && ((await res.json()) as { items: Array<{ path: string }> }).items.some((i) => i.path === file);
  };

  beforeAll(async () => {
    server = await startServer({ dataDir: serverDir, port: 0 });
    expect(await runAccountsCommand(['user', 'add', 'ann', '--data', serverDir], { out: () => undefined, err: () => undefined })).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await headless?.stop();
    await server.close();
    tmp.cleanup();
  });

  it('desktop: a first start pairs with a code, keeps the device token only through safeStorage, and syncs with it', async () => {
    const dir = path.join(tmp.dir, 'desktop');
    const log = fakeLogger();
    const tokens = createTokenStore({ dir, safeStorage: fakeSafeStorage({ available: true }), platform: 'darwin', log });
    const settings = createSettingsStore({ dir, tokens, log });
    const host = createEngineHost({ createAgent, settings, dataDir: dir, logFile: path.join(dir, 'logs', 'agent.log'), log });
    try {
      const folder = folderWith('desktop-folder', 'from-desktop.txt');
      const input = PairDeviceInput.parse({ serverUrl: server.url, folders: [{ localPath: folder, remoteId: 'desk-docs' }], pairingCode: await pairingCode() });

      // A wrong code is the pairingCode field's error, with the server's code; nothing is saved.
      await expect(host.service.handlers.pairDevice({ ...input, pairingCode: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ' })).rejects.toMatchObject({
        code: 'pairing_code_invalid',
        details: { fields: { pairingCode: expect.stringMatching(/not known/) } },
      });
      expect(settings.view()).toBeNull();

      const view = await host.service.handlers.pairDevice(input);
      expect(view).toMatchObject({ serverUrl: server.url, hasToken: true, tokenProtection: 'os' });
      const token = tokens.get() as string;
      expect(token).toMatch(/^fdt_/);
      // The token is on disk only as safeStorage's ciphertext, and not in the settings file.
      const stored = readFileSync(path.join(dir, TOKEN_FILE), 'utf8');
      expect(JSON.parse(stored)).toMatchObject({ protection: 'os' });
      expect(stored).not.toContain(token);
      expect(readFileSync(path.join(dir, APP_SETTINGS_FILE), 'utf8')).not.toContain('fdt_');
      expect((await devicesOfAnn()).length).toBe(1);

      await host.start(settings.load()!);
      await waitFor(() => onServer('desk-docs', 'from-desktop.txt'), { timeoutMs: 20_000, message: 'from-desktop.txt on the server' });
      // The running engine serves pairDevice too: the code used above is refused as used.
      await expect(host.service.handlers.pairDevice(input)).rejects.toMatchObject({ code: 'pairing_code_used' });
    } finally {
      await host.stop();
    }
  });

  it('headless: pairDevice over the control API saves the device token in DIR/settings.json (0600) and the agent syncs with it', async () => {
    const dataDir = path.join(tmp.dir, 'headless');
    const folder = folderWith('headless-folder', 'from-headless.txt');
    // Started on the server token with no folder yet, as before accounts; the settings window
    // pairs it and adds the folder, which the paired device then creates as ann's.
    headless = await startHost({ dataDir, settings: testSettings(server.url, server.token, []), controlPort: 0, tuning: { local: { settleMs: 30 } } });
    const controlToken = readFileSync(path.join(dataDir, 'control-token'), 'utf8').trim();
    const current = await headless.agent.handlers.getSettings({});
    // The server token, typed in: no pairing names a user for it.
    expect(headless.agent.status().pairedAs).toBeNull();
    const { hasToken: _h, tokenProtection: _p, ...rest } = current;
    const form = { ...rest, folders: [{ localPath: folder, remoteId: 'head-docs' }] };

    const refused = await callApi(headless.control.port, 'pairDevice', { ...form, pairingCode: '' }, controlToken);
    expect(refused.status).toBe(400);
    expect((refused.json() as { error: { fields: Record<string, string> } }).error.fields).toHaveProperty('pairingCode');

    const code = await pairingCode();
    const paired = await callApi(headless.control.port, 'pairDevice', { ...form, pairingCode: code }, controlToken);
    expect(paired.status, paired.text).toBe(200);
    const file = path.join(dataDir, SETTINGS_FILE);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { token: string };
    expect(saved.token).toMatch(/^fdt_/);
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(paired.text).not.toContain(saved.token);
    await waitFor(() => onServer('head-docs', 'from-headless.txt'), { timeoutMs: 20_000, message: 'from-headless.txt on the server' });
    // A new-user try: the settings never said whom the device was paired as. They do now.
    const pairedAs = headless.agent.status().pairedAs;
    expect(pairedAs).toEqual({ user: 'ann', credential: expect.any(String) });
    expect((await devicesOfAnn()).find((d) => d.id === pairedAs!.credential)?.revokedAt).toBeNull();
    expect(readFileSync(path.join(dataDir, PAIRING_FILE), 'utf8')).not.toContain(saved.token);
    // The folder the paired device created belongs to ann: her device reaches it.
    const listed = await fetch(`${server.url}/v1/folders`, { headers: { authorization: `Bearer ${saved.token}` } });
    expect(((await listed.json()) as { folders: Array<{ id: string }> }).folders.map((f) => f.id)).toContain('head-docs');
    // Its digest says which Ferry it runs (docs/sync-api.md, "Devices"): ferry/<package version>.
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    const host = headless!;
    const self = await waitFor(async () => (await host.agent.handlers.listDevices({})).flatMap((f) => f.devices).find((d) => d.self), { timeoutMs: 10_000, message: 'its own digest' });
    expect(self.version).toBe(`ferry/${version}`);
    // Neither the code nor the token reaches the agent's log.
    const logged = readFileSync(path.join(dataDir, 'logs', 'agent.log'), 'utf8');
    expect(logged).toMatch(/pairDevice|settings changed/);
    expect(logged).not.toContain(code);
    expect(logged).not.toContain(saved.token);

    // Paired again from the settings window (a new code, the same server): the token it had is
    // revoked once the new one is issued, so a computer never holds two live credentials.
    const before = (await devicesOfAnn()).filter((d) => d.revokedAt === null).length;
    const again = await callApi(headless.control.port, 'pairDevice', { ...form, pairingCode: await pairingCode() }, controlToken);
    expect(again.status, again.text).toBe(200);
    const renewed = (JSON.parse(readFileSync(file, 'utf8')) as { token: string }).token;
    expect(renewed).toMatch(/^fdt_/);
    expect(renewed).not.toBe(saved.token);
    expect((await devicesOfAnn()).filter((d) => d.revokedAt === null).length).toBe(before);
    const refusedOld = await fetch(`${server.url}/v1/folders`, { headers: { authorization: `Bearer ${saved.token}` } });
    expect(refusedOld.status).toBe(401);
    // Activity says whom it syncs as, each time (a new-user try found no line of it).
    const pairedLines = (await host.agent.handlers.listActivity({ limit: 100 })).filter((l) => l.kind === 'paired').map((l) => l.message).reverse();
    expect(pairedLines).toEqual([`Paired with ${server.url} as ann`, `Paired with ${server.url} as ann; the credential this computer used there before is signed out`]);
    writeFileSync(path.join(folder, 'after-repair.txt'), 'synced with the new token');
    await waitFor(() => onServer('head-docs', 'after-repair.txt'), { timeoutMs: 20_000, message: 'after-repair.txt on the server' });
  });
});
