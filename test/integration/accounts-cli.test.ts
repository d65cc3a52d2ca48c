import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFerry, spawnFerry, type RunningFerry } from '../helpers/ferry-cli';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Accounts as a person uses them: `ferry server` with users and devices, an agent paired with
// `ferry agent --pair`, revoked with `ferry server revoke`, all in child processes.
describe('ferry server accounts and ferry agent --pair', () => {
  const tmp = makeTempDir('ferry-accounts-cli-');
  const serverDir = path.join(tmp.dir, 'server');
  const dataDir = path.join(tmp.dir, 'agent');
  const folder = path.join(tmp.dir, 'Docs');
  let server: RunningFerry;
  let agent: RunningFerry | undefined;
  let serverUrl = '';
  /** The device the running agent is paired as. */
  let agentDevice = '';

  const ferry = async (...args: string[]) => {
    const run = await runFerry(args);
    expect(run.code, run.stderr).toBe(0);
    return run.stdout;
  };
  const pairingCode = async () => /: (\S+)\n/.exec(await ferry('server', 'pair', '--user', 'ann', '--data', serverDir))?.[1] as string;
  const status = async () => JSON.parse(await ferry('status', '--data', dataDir, '--json')) as { state: string; reason: string | null; counts: { done: number }; deviceId: string; deviceName: string };

  beforeAll(async () => {
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'a.txt'), 'from the paired agent');
    server = spawnFerry(['server', '--data', serverDir, '--port', '0']);
    serverUrl = (await server.line(/listening on (http:\/\/\S+)/))[1]!;
    await ferry('server', 'user', 'add', 'ann', '--data', serverDir);
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
    tmp.cleanup();
  });

  it('pairs with a code, keeps the token out of the terminal, and syncs', async () => {
    const code = await pairingCode();
    agent = spawnFerry(['agent', '--data', dataDir, '--server', serverUrl, '--pair', code, '--folder', `${folder}=docs`, '--device-name', 'ann-laptop']);
    agentDevice = (await agent.line(/^Paired with \S+ as a device of ann \(credential ([0-9a-f-]+), the DEVICE column/))[1]!;
    await agent.line(/^control: /);
    const token = (JSON.parse(readFileSync(path.join(dataDir, 'settings.json'), 'utf8')) as { token: string }).token;
    expect(token).toMatch(/^fdt_/);
    expect(agent.stdout() + agent.stderr()).not.toContain(token);
    await waitFor(async () => (await status()).counts.done >= 1, { timeoutMs: 30_000, message: 'a.txt uploaded' });
    const devices = JSON.parse(await ferry('server', 'devices', '--user', 'ann', '--json', '--data', serverDir)) as Array<{ user: string; revokedAt: string | null }>;
    expect(devices).toEqual([expect.objectContaining({ user: 'ann', revokedAt: null })]);
    // Which computer the credential is: the id its agent goes by in `ferry status` and `ferry devices`.
    const agentId = (JSON.parse(await ferry('status', '--data', dataDir, '--json')) as { deviceId: string }).deviceId;
    await waitFor(async () => {
      const listed = JSON.parse(await ferry('server', 'devices', '--user', 'ann', '--json', '--data', serverDir)) as Array<{ id: string; agents: string[] }>;
      return listed.find((d) => d.id === agentDevice)?.agents.includes(agentId);
    }, { timeoutMs: 20_000, message: "the agent's id listed with its credential" });
    const table = await ferry('server', 'devices', '--user', 'ann', '--data', serverDir);
    expect(table.split('\n')[0]).toMatch(/^DEVICE\s+USER\s+NAME\s+AGENT\s+PAIRED\s+STATE$/);
    expect(table).toMatch(new RegExp(`^${agentDevice}\\s+ann\\s+\\S+\\s+${agentId.slice(0, 8)}\\s`, 'm'));
  });

  // A new-user try: a typo in --data made a new, empty store, and its pairing code was unknown to the real server.
  it('refuses an account command on a directory that holds no server, and says when user add starts a new one', async () => {
    const typo = path.join(tmp.dir, 'servr');
    const refused = await runFerry(['server', 'pair', '--user', 'ann', '--data', typo]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`no Ferry server data in ${typo} (no server.db): check --data`);
    expect(existsSync(path.join(typo, 'server.db'))).toBe(false);
    // A user add refused anyway makes no store either.
    expect((await runFerry(['server', 'user', 'add', '--data', typo])).code).toBe(2);
    expect((await runFerry(['server', 'user', 'add', 'bad name', '--data', typo])).code).toBe(1);
    expect(existsSync(path.join(typo, 'server.db'))).toBe(false);
    const fresh = path.join(tmp.dir, 'second-server');
    expect(await ferry('server', 'user', 'add', 'zoe', '--data', fresh)).toBe(`Added user zoe (a new server's data in ${fresh})\n`);
    expect(await ferry('server', 'user', 'add', 'yan', '--data', fresh)).toBe('Added user yan\n');
  });

  it('refuses the same code twice with a clear reason', async () => {
    const code = await pairingCode();
    // Traded once (as another device would)…
    const first = await fetch(`${serverUrl}/v1/pair`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    expect(first.status).toBe(201);
    // …then refused before any agent starts.
    const again = await runFerry(['agent', '--data', path.join(tmp.dir, 'third'), '--server', serverUrl, '--pair', code]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/pairing code was used already/);
  });

  it('pairing this computer again signs its earlier credential out: one device for it, not two', async () => {
    type Listed = Array<{ id: string; revokedAt: string | null }>;
    const live = async () => (JSON.parse(await ferry('server', 'devices', '--user', 'ann', '--json', '--data', serverDir)) as Listed).filter((d) => d.revokedAt === null).map((d) => d.id);
    const before = await live();
    expect(before).toContain(agentDevice);
    await agent?.stop();
    // No --device-name this time: the credential is named as the device was named before, not after the host.
    agent = spawnFerry(['agent', '--data', dataDir, '--server', serverUrl, '--pair', await pairingCode(), '--folder', `${folder}=docs`]);
    const paired = (await agent.line(/^Paired with \S+ as a device of ann \(credential ([0-9a-f-]+), the DEVICE column/))[1]!;
    await agent.line(new RegExp(`earlier credential \\(${agentDevice}\\) is signed out`));
    await agent.line(/^control: /);
    // The new device in place of the old one; the other device of ann's untouched.
    expect((await live()).sort()).toEqual([...before.filter((id) => id !== agentDevice), paired].sort());
    agentDevice = paired;
    const listed = JSON.parse(await ferry('server', 'devices', '--user', 'ann', '--json', '--data', serverDir)) as Array<{ id: string; name: string }>;
    expect(listed.find((d) => d.id === paired)?.name).toBe('ann-laptop');
  });

  it('revokes by the id ferry status shows on that computer; shows the device as signed out there', async () => {
    // Too short to name one device safely, and an unknown one: refused, nothing revoked.
    const agentId = (await status()).deviceId;
    for (const given of [agentId.slice(0, 4), 'ffffffff']) {
      const refused = await runFerry(['server', 'revoke', given, '--data', serverDir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`No device '${given}': give its DEVICE id or its AGENT id`);
    }
    // The agent's short id (its earlier credential was revoked by the pairing again): the live one.
    const revoked = await ferry('server', 'revoke', agentId.slice(0, 8), '--data', serverDir);
    expect(revoked).toMatch(new RegExp(`^Revoked device ${agentDevice} \\(\\S+ of ann\\): its next request is refused`));
    writeFileSync(path.join(folder, 'b.txt'), 'after revoke');
    await waitFor(async () => (await status()).state === 'auth_failed', { timeoutMs: 30_000, message: 'auth_failed' });
    expect((await status()).reason).toMatch(/signed out.*pair it again/);
    const text = await ferry('status', '--data', dataDir);
    expect(text).toMatch(/auth_failed: This device was signed out/);
  });

  it("following that advice while the agent runs pairs the running agent: it syncs again, no second agent, no code spent for nothing", async () => {
    expect((await status()).state).toBe('auth_failed');
    // A wrong code is refused by the running agent's server, and changes nothing.
    const wrong = await runFerry(['agent', '--data', dataDir, '--pair', 'ZZZZ-ZZZZ-ZZZZ-ZZZZ']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/pairing code is not known/);
    // An address with a path does not reach the pairing route: said as the address's fault, not a token's (a new-user try).
    const withPath = await runFerry(['agent', '--data', path.join(tmp.dir, 'with-path'), '--server', `${serverUrl}/sync`, '--pair', 'ZZZZ-ZZZZ-ZZZZ-ZZZZ']);
    expect(withPath.code).toBe(1);
    expect(withPath.stderr).toContain(`${serverUrl}/sync did not take the pairing request`);
    // Not the shape of a code: refused here, not sent to spend one of the server's failed attempts.
    const garbage = await runFerry(['agent', '--data', dataDir, '--pair', 'garbage']);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toContain('That is not a pairing code: it reads like XXXX-XXXX-XXXX-XXXX');
    const handed = await runFerry(['agent', '--data', dataDir, '--pair', await pairingCode()]);
    expect(handed.code, handed.stderr).toBe(0);
    expect(handed.stdout).toContain(`Paired the agent already running with --data ${dataDir}`);
    // Revoked before, not by this pairing (a new-user try read it as signed out just then).
    expect(handed.stdout).toMatch(/Its earlier credential \([0-9a-f-]+, ann\) was signed out already: the server had refused it/);
    await waitFor(async () => (await status()).state === 'idle' && (await status()).counts.done >= 2, { timeoutMs: 30_000, message: 'b.txt uploaded with the new token' });
    expect(agent!.child.exitCode).toBeNull();
    // Its new credential is named as the device is (a new user's try found it named after the host).
    type Listed = Array<{ name: string; revokedAt: string | null; pairedAt?: string; createdAt?: string }>;
    const live = (JSON.parse(await ferry('server', 'devices', '--user', 'ann', '--json', '--data', serverDir)) as Listed).filter((d) => d.revokedAt === null);
    expect(live.at(-1)?.name).toBe('ann-laptop');
  });

  // A new-user try: paired as another user while it ran, the agent said all was well, then its
  // folder failed as "not found" (another user's, not shared), with nothing naming the switch.
  it('paired as another user while it runs: says whom it syncs as, that the old credential is signed out, and why the first user\'s folders fail', async () => {
    await ferry('server', 'user', 'add', 'bob', '--data', serverDir);
    const code = /: (\S+)\n/.exec(await ferry('server', 'pair', '--user', 'bob', '--data', serverDir))?.[1] as string;
    const handed = await runFerry(['agent', '--data', dataDir, '--pair', code, '--device-name', 'renamed']);
    expect(handed.code, handed.stderr).toBe(0);
    expect(handed.stdout).toMatch(/with http:\S+ as a device of bob \(credential [0-9a-f-]+\); it syncs with its new token now/);
    expect(handed.stdout).toMatch(/Its earlier credential \([0-9a-f-]+, ann\) is signed out/);
    // Said as a condition: the server knows whose each folder is (a new-user try read it of folders that were the new user's).
    expect(handed.stdout).toContain("A folder of ann's that is not shared with bob fails until it is: 'ferry server share FOLDER --with bob' on the server");
    // Only the pairing reaches the running agent: the other flags are said not applied.
    expect(handed.stderr).toContain('Note: not applied to the agent already running: --device-name (change them in its Settings, or stop it and start it again with them)');
    expect((await status()).deviceName).not.toBe('renamed');
    await waitFor(async () => (await status()).state === 'error', { timeoutMs: 30_000, message: "ann's folder refused to bob" });
    expect((await status()).reason).toContain("(removed there, or another user's folder not shared with this device's user; folder ids are one namespace on the server, so a folder of your own needs another remote id)");
  });
});
