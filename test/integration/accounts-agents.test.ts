import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureLogging } from '../../main/logging';
import { createAgent, type Agent } from '../../main/engine/agent';
import { REVOKED_REASON } from '../../main/engine/agent/connection';
import { SETTINGS_FILE } from '../../main/control/control-token';
import { pairWithServer } from '../../main/control/device-pairing';
import { runAccountsCommand } from '../../server/accounts-cli';
import { startServer, type RunningServer } from '../../server/main';
import { makeTempDir } from '../helpers/local-temp';
import { testSettings } from '../helpers/agent-settings';
import { sha256 } from '../helpers/server-harness';
import { waitFor } from '../helpers/wait';

// Two users over one real server on loopback, each with real agents on real temp folders:
// what one user's devices may reach of the other's, and a device revoked mid-sync.
describe('paired devices of two users', () => {
  const tmp = makeTempDir('ferry-accounts-');
  const serverDir = path.join(tmp.dir, 'server');
  const logFile = path.join(tmp.dir, 'logs', 'all.log');
  let server: RunningServer;
  const agents = new Map<string, Agent>();
  /** Every secret handed out in this test: none may reach a log file. */
  const secrets: string[] = [];

  async function cli(...words: string[]): Promise<string> {
    let out = '';
    const code = await runAccountsCommand([...words, '--data', serverDir], { out: (s) => (out += s), err: (s) => (out += s) });
    expect(code, out).toBe(0);
    return out;
  }

  /** `ferry server pair --user NAME`, then the agent's side of pairing into its data directory. */
  async function pairDevice(user: string, name: string): Promise<{ deviceId: string; token: string }> {
    const code = /: (\S+)\n/.exec(await cli('pair', '--user', user))?.[1] as string;
    secrets.push(code);
    const paired = await pairWithServer({ dataDir: dataDirOf(name), serverUrl: server.url, code, deviceName: name });
    secrets.push(paired.token);
    return paired;
  }

  const dataDirOf = (name: string) => path.join(tmp.dir, `data-${name}`);
  const folderOf = (name: string) => path.join(tmp.dir, `folder-${name}`);
  const savedToken = (name: string) => (JSON.parse(readFileSync(path.join(dataDirOf(name), SETTINGS_FILE), 'utf8')) as { token: string }).token;

  /** Starts an agent on the token its pairing saved in its data directory. */
  async function startAgent(name: string, remoteId: string, pollTimeoutSec = 2): Promise<Agent> {
    mkdirSync(folderOf(name), { recursive: true });
    const agent = await createAgent({
      dataDir: dataDirOf(name),
      deviceName: name,
      settings: testSettings(server.url, savedToken(name), [{ localPath: folderOf(name), remoteId }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 50 }, pull: { pollTimeoutSec } },
    });
    agents.set(name, agent);
    await agent.start();
    return agent;
  }

  async function stopAgent(name: string): Promise<void> {
    await agents.get(name)?.stop();
    agents.delete(name);
  }

  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined);
  const api = (token: string, urlPath: string) => fetch(server.url + urlPath, { headers: { authorization: `Bearer ${token}` } });

  let annLaptop: { deviceId: string; token: string };
  let annDesk: { deviceId: string; token: string };
  let bobLaptop: { deviceId: string; token: string };

  beforeAll(async () => {
    configureLogging({ level: 'debug', file: logFile, console: false });
    server = await startServer({ dataDir: serverDir, port: 0 });
    secrets.push(server.token);
    await cli('user', 'add', 'ann');
    await cli('user', 'add', 'bob');
    annLaptop = await pairDevice('ann', 'ann-laptop');
    annDesk = await pairDevice('ann', 'ann-desk');
    bobLaptop = await pairDevice('bob', 'bob-laptop');
    mkdirSync(folderOf('ann-laptop'), { recursive: true });
    writeFileSync(path.join(folderOf('ann-laptop'), 'plan.txt'), 'ann only');
    await startAgent('ann-laptop', 'ann-docs');
    await startAgent('ann-desk', 'ann-docs');
    await startAgent('bob-laptop', 'bob-docs');
  }, 60_000);

  afterAll(async () => {
    for (const name of [...agents.keys()]) await stopAgent(name);
    await server.close();
    configureLogging({ level: 'warn', console: false });
    tmp.cleanup();
  });

  it("keeps each device's token in its data directory, owner only", () => {
    const file = path.join(dataDirOf('ann-laptop'), SETTINGS_FILE);
    expect(savedToken('ann-laptop')).toBe(annLaptop.token);
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("syncs between one user's devices, while the other user's device gets 404 and no blocks", async () => {
    await waitFor(() => read(path.join(folderOf('ann-desk'), 'plan.txt')) === 'ann only', { timeoutMs: 20_000, message: 'plan.txt on ann-desk' });
    expect((await api(bobLaptop.token, '/v1/folders/ann-docs/changes')).status).toBe(404);
    const listed = (await (await api(bobLaptop.token, '/v1/folders')).json()) as { folders: Array<{ id: string }> };
    expect(listed.folders.map((f) => f.id)).toEqual(['bob-docs']);
    expect((await api(bobLaptop.token, `/v1/blocks/${sha256('ann only')}`)).status).toBe(404);
    expect((await api(annDesk.token, `/v1/blocks/${sha256('ann only')}`)).status).toBe(200);
    expect(readdirSync(folderOf('bob-laptop'))).not.toContain('plan.txt');
  });

  it('lets the other user sync the folder once it is shared', async () => {
    await cli('share', 'ann-docs', '--with', 'bob');
    expect((await api(bobLaptop.token, `/v1/blocks/${sha256('ann only')}`)).status).toBe(200);
    // A second device of bob's, paired now, syncs ann's folder.
    await pairDevice('bob', 'bob-desk');
    await startAgent('bob-desk', 'ann-docs');
    await waitFor(() => read(path.join(folderOf('bob-desk'), 'plan.txt')) === 'ann only', { timeoutMs: 20_000, message: 'plan.txt on bob-desk' });
  });

  it('stops a device of a user the folder is unshared from, with the reason, its files kept; shared again, what it wrote goes', async () => {
    const desk = agents.get('bob-desk') as Agent;
    await cli('unshare', 'ann-docs', '--from', 'bob');
    writeFileSync(path.join(folderOf('bob-desk'), 'after-unshare.txt'), 'written while not shared');
    await waitFor(() => desk.status().folders[0]?.state === 'error', { timeoutMs: 20_000, message: "bob-desk's folder in error once unshared" });
    expect(desk.status().folders[0]?.error).toContain("another user's folder not shared with this device's user");
    // The file it wrote meanwhile waits for the folder and goes by itself (a new-user try read "failed … Retry sends it again").
    await waitFor(() => desk.status().counts.failed === 1, { timeoutMs: 20_000, message: 'the upload refused while unshared' });
    const why = await desk.handlers.explainPath({ path: 'after-unshare.txt', folderId: desk.status().folders[0]!.id });
    expect(why.reasons.find((r) => r.code === 'failed')?.message).toMatch(/^Its upload waits for the folder: the server does not let this device reach it .*; it goes by itself once the folder can be reached$/);
    // ann's devices no longer list it among the folder's devices (it read "1 change behind", then "not reporting").
    const seenByAnn = async () => (await (agents.get('ann-laptop') as Agent).handlers.listDevices({ folderId: 'ann-docs' }))[0]!.devices.map((d) => d.name);
    expect(await seenByAnn()).not.toContain('bob-desk');
    // Refused, not lost: nothing of bob's reached ann, and bob's copy of ann's file stays.
    expect(read(path.join(folderOf('bob-desk'), 'plan.txt'))).toBe('ann only');
    expect(read(path.join(folderOf('ann-laptop'), 'after-unshare.txt'))).toBeUndefined();
    await cli('share', 'ann-docs', '--with', 'bob');
    await waitFor(() => read(path.join(folderOf('ann-laptop'), 'after-unshare.txt')) === 'written while not shared', { timeoutMs: 30_000, message: "bob-desk's file on ann-laptop once shared again" });
    await waitFor(() => desk.status().folders[0]?.state !== 'error', { timeoutMs: 20_000, message: "bob-desk's folder out of error" });
    await waitFor(async () => (await seenByAnn()).includes('bob-desk'), { timeoutMs: 20_000, message: 'bob-desk listed again once shared' });
  }, 60_000);

  // A new-user try: a tab open on a device with nothing to upload read "Idle · everything in sync"
  // for good after the folder was unshared from its user, and its terminal printed no state line:
  // the pull's failure put the folder in error, and nothing told the window or the terminal.
  it('tells an open window the folder went into error when it is unshared, with nothing of the device failing', async () => {
    await pairDevice('bob', 'bob-quiet');
    // The folder's files already here, the same bytes: recorded, nothing downloaded, so no rate keeps
    // the status ticker going; and a long poll of a minute: nothing else wakes this agent, as on a quiet desktop.
    cpSync(folderOf('ann-laptop'), folderOf('bob-quiet'), { recursive: true, filter: (from) => path.basename(from) !== '.ferry' });
    const quiet = await startAgent('bob-quiet', 'ann-docs', 60);
    await waitFor(() => quiet.status().lastSyncAt !== null && quiet.status().state === 'idle', { timeoutMs: 20_000, message: 'bob-quiet synced and idle' });
    const heard: string[] = [];
    const off = quiet.subscribe((e) => void (e.type === 'status' && heard.push(e.status.folders[0]?.state ?? '')), ['status']);
    try {
      await cli('unshare', 'ann-docs', '--from', 'bob');
      // A change on the server wakes the waiting long poll, which answers 404 now.
      writeFileSync(path.join(folderOf('ann-laptop'), 'wake.txt'), 'wake');
      await waitFor(() => quiet.status().folders[0]?.state === 'error', { timeoutMs: 20_000, message: "bob-quiet's folder in error" });
      await waitFor(() => heard.at(-1) === 'error', { timeoutMs: 5_000, message: 'the last status event says error, as status() does' });
      expect(quiet.status().counts.failed).toBe(0);
    } finally {
      off();
      await cli('share', 'ann-docs', '--with', 'bob');
      await stopAgent('bob-quiet');
    }
  }, 60_000);

  // A new-user try: a file written on a device of a user the folder was not shared with failed
  // (not_found), and stayed failed after the share, while the agent said idle and the folder ok.
  it('sends what failed before the folder was shared with the user, once it is', async () => {
    await cli('user', 'add', 'carol');
    await pairDevice('carol', 'carol-laptop');
    mkdirSync(folderOf('carol-laptop'), { recursive: true });
    writeFileSync(path.join(folderOf('carol-laptop'), 'from-carol.txt'), 'written before the share');
    const carol = await startAgent('carol-laptop', 'ann-docs');
    await waitFor(() => carol.status().counts.failed === 1, { timeoutMs: 20_000, message: 'the upload refused: not shared' });
    await cli('share', 'ann-docs', '--with', 'carol');
    await waitFor(() => read(path.join(folderOf('ann-laptop'), 'from-carol.txt')) === 'written before the share', { timeoutMs: 30_000, message: "carol's file on ann-laptop" });
    expect(carol.status().counts.failed).toBe(0);
    expect(read(path.join(folderOf('carol-laptop'), 'plan.txt'))).toBe('ann only');
    await stopAgent('carol-laptop');
  }, 60_000);

  // The same across a restart: the agent that saw the refusal was stopped before the share, and
  // the one started after it knew nothing of the refusal, so the upload stayed failed for good
  // while `ferry why` said it goes by itself.
  it('sends what failed before the share once it is, though the agent was restarted in between', async () => {
    await cli('user', 'add', 'dora');
    await pairDevice('dora', 'dora-laptop');
    mkdirSync(folderOf('dora-laptop'), { recursive: true });
    writeFileSync(path.join(folderOf('dora-laptop'), 'from-dora.txt'), 'written before the share, across a restart');
    const dora = await startAgent('dora-laptop', 'ann-docs');
    await waitFor(() => dora.status().counts.failed === 1, { timeoutMs: 20_000, message: 'the upload refused: not shared' });
    await stopAgent('dora-laptop');
    await cli('share', 'ann-docs', '--with', 'dora');
    const again = await startAgent('dora-laptop', 'ann-docs');
    await waitFor(() => read(path.join(folderOf('ann-laptop'), 'from-dora.txt')) === 'written before the share, across a restart', { timeoutMs: 30_000, message: "dora's file on ann-laptop" });
    await waitFor(() => (again.status().counts.failed ?? 0) === 0, { timeoutMs: 10_000, message: 'nothing failed' });
    await stopAgent('dora-laptop');
  }, 60_000);

  // A new-user try: a folder removed on the server (`ferry server folder remove`) left the device
  // that syncs it in error ("Pulls are refused: not_found"), a file there "going by itself" that
  // never went until the agent restarted. It is made again at once, as a start makes it.
  it('a folder removed on the server while a device syncs it is made again by that device, and its file goes', async () => {
    await cli('user', 'add', 'erin');
    await pairDevice('erin', 'erin-laptop');
    const erin = await startAgent('erin-laptop', 'erin-typo');
    const listed = async () => (JSON.parse(await cli('folders', '--json')) as Array<{ id: string; owner: string | null }>).find((f) => f.id === 'erin-typo');
    await waitFor(async () => (await listed())?.owner === 'erin', { timeoutMs: 20_000, message: 'the folder made by the device' });
    expect(await cli('folder', 'remove', 'erin-typo')).toContain('Removed folder erin-typo');
    expect(await listed()).toBeUndefined();
    writeFileSync(path.join(folderOf('erin-laptop'), 'after.txt'), 'written after the removal');
    await waitFor(async () => (await listed())?.owner === 'erin', { timeoutMs: 30_000, message: 'the folder made again' });
    await waitFor(() => erin.status().folders[0]?.state === 'ok' && erin.status().counts.failed === 0 && erin.status().state === 'idle', { timeoutMs: 30_000, message: 'the device syncing again' });
    const files = await fetch(`${server.url}/v1/folders/erin-typo/changes`, { headers: { authorization: `Bearer ${savedToken('erin-laptop')}`, 'x-ferry-device': 'checker' } });
    expect(((await files.json()) as { items: Array<{ path: string }> }).items.map((i) => i.path)).toContain('after.txt');
    await stopAgent('erin-laptop');
  }, 60_000);

  it('refuses a device revoked mid-sync, keeps its queue, and resumes once paired again', async () => {
    const desk = agents.get('ann-desk') as Agent;
    await cli('revoke', annDesk.deviceId);
    writeFileSync(path.join(folderOf('ann-desk'), 'offline-edit.txt'), 'written after revoke');
    await waitFor(() => desk.status().state === 'auth_failed', { timeoutMs: 20_000, message: 'ann-desk signed out' });
    expect(desk.status().reason).toBe(REVOKED_REASON);
    const refused = await api(annDesk.token, '/v1/folders');
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe('device_revoked');
    // The edit waits in the queue; nothing failed, nothing reached the server.
    await waitFor(() => (desk.status().counts.pending ?? 0) + (desk.status().counts.retry_wait ?? 0) + (desk.status().counts.in_flight ?? 0) >= 1, { timeoutMs: 10_000, message: 'edit queued' });
    expect(desk.status().counts.failed ?? 0).toBe(0);
    // `ferry why` says it is signed out, as the state does (a new-user try read "offline").
    const why = await desk.handlers.explainPath({ path: path.join(folderOf('ann-desk'), 'offline-edit.txt') });
    expect(why.reasons.map((r) => r.code)).toContain('signed_out');
    expect(why.reasons.map((r) => r.code)).not.toContain('offline');
    expect(why.reasons.find((r) => r.code === 'signed_out')?.message).toBe(REVOKED_REASON);
    // A file synced before the revoke is not said "in sync": nothing of the server's side is known now.
    const synced = await desk.handlers.explainPath({ path: path.join(folderOf('ann-desk'), 'plan.txt') });
    expect(synced.inSync).toBe(false);
    expect(synced.reasons[0]).toEqual({ code: 'signed_out', message: REVOKED_REASON });
    expect(read(path.join(folderOf('ann-laptop'), 'offline-edit.txt'))).toBeUndefined();
    expect(read(path.join(folderOf('ann-desk'), 'offline-edit.txt'))).toBe('written after revoke');

    // The other devices keep syncing meanwhile.
    writeFileSync(path.join(folderOf('ann-laptop'), 'still-on.txt'), 'laptop goes on');
    await waitFor(() => read(path.join(folderOf('bob-desk'), 'still-on.txt')) === 'laptop goes on', { timeoutMs: 20_000, message: 'still-on.txt on bob-desk' });
    expect(read(path.join(folderOf('ann-desk'), 'still-on.txt'))).toBeUndefined();

    // Paired again (as `ferry agent --pair` would: new token, same data directory), it sends what waited.
    await stopAgent('ann-desk');
    const again = await pairDevice('ann', 'ann-desk');
    expect(again.token).not.toBe(annDesk.token);
    await startAgent('ann-desk', 'ann-docs');
    await waitFor(() => read(path.join(folderOf('ann-laptop'), 'offline-edit.txt')) === 'written after revoke', { timeoutMs: 20_000, message: 'the queued edit on ann-laptop' });
    await waitFor(() => read(path.join(folderOf('ann-desk'), 'still-on.txt')) === 'laptop goes on', { timeoutMs: 20_000, message: 'still-on.txt on ann-desk' });
    // Each pairing made while the agent was stopped is said in Activity at its next start, once
    // (a new-user try found no line of the first pairing).
    const desk2 = agents.get('ann-desk') as Agent;
    const pairedLines = async () => (await desk2.handlers.listActivity({ limit: 1000 })).filter((l) => l.kind === 'paired').map((l) => l.message);
    expect(await pairedLines()).toEqual([`Paired with ${server.url} as ann`, `Paired with ${server.url} as ann`]);
    expect((await desk2.handlers.listActivity({ limit: 1000 })).filter((l) => l.kind === 'signed_out')).toHaveLength(1);
  });

  it('writes no token and no pairing code to any log file', async () => {
    const logs: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.log')) logs.push(full);
      }
    };
    walk(tmp.dir);
    expect(logs).toContain(logFile);
    const text = logs.map((f) => readFileSync(f, 'utf8')).join('\n');
    // The log did record this test's traffic, pairing included.
    expect(text).toMatch(/device paired/);
    expect(text).toMatch(/sync server link.*auth_failed.*signed out/);
    expect(secrets.length).toBeGreaterThanOrEqual(10);
    for (const secret of secrets) {
      expect(text.includes(secret), `a secret of ${secret.length} characters is in a log`).toBe(false);
      expect(text.includes(secret.replace(/-/g, '')), 'a pairing code without dashes is in a log').toBe(false);
    }
  });
});
