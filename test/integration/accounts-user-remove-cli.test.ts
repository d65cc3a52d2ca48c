import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFerry, spawnFerry, type RunningFerry } from '../helpers/ferry-cli';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// `ferry server user remove` as a person uses it: a server, an agent paired as the user it
// removes, all in child processes through the real `ferry` entry.
describe('ferry server user remove, with a running agent of that user', () => {
  const tmp = makeTempDir('ferry-user-remove-cli-');
  const serverDir = path.join(tmp.dir, 'server');
  const dataDir = path.join(tmp.dir, 'agent');
  const folder = path.join(tmp.dir, 'Docs');
  let server: RunningFerry;
  let agent: RunningFerry | undefined;

  const ferry = async (...args: string[]) => {
    const run = await runFerry(args);
    expect(run.code, run.stderr).toBe(0);
    return run.stdout;
  };
  const status = async () => JSON.parse(await ferry('status', '--data', dataDir, '--json')) as { state: string; reason: string | null; counts: { done: number } };

  beforeAll(async () => {
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'a.txt'), 'from ann');
    server = spawnFerry(['server', '--data', serverDir, '--port', '0']);
    const serverUrl = (await server.line(/listening on (http:\/\/\S+)/))[1]!;
    await ferry('server', 'user', 'add', 'ann', '--data', serverDir);
    await ferry('server', 'user', 'add', 'bob', '--data', serverDir);
    const code = /: (\S+)\n/.exec(await ferry('server', 'pair', '--user', 'ann', '--data', serverDir))?.[1] as string;
    agent = spawnFerry(['agent', '--data', dataDir, '--server', serverUrl, '--pair', code, '--folder', `${folder}=ann-docs`, '--device-name', 'ann-laptop']);
    await agent.line(/^control: /);
    await waitFor(async () => (await status()).counts.done >= 1, { timeoutMs: 30_000, message: 'a.txt uploaded' });
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
    tmp.cleanup();
  });

  it('refuses with exit 2 for wrong words and exit 1 while ann owns a folder, then signs the running agent out once the folder goes to bob', async () => {
    expect((await runFerry(['server', 'user', 'remove', '--data', serverDir])).code).toBe(2);
    const refused = await runFerry(['server', 'user', 'remove', 'ann', '--data', serverDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ann owns the folder ann-docs: give it to another user with --folders-to NAME');
    expect((await status()).state).not.toBe('auth_failed');

    const removed = await ferry('server', 'user', 'remove', 'ann', '--folders-to', 'bob', '--data', serverDir);
    expect(removed).toBe('Removed user ann: 1 device signed out (refused from their next request), 0 shares dropped, folder ann-docs now owned by bob; no file on the server was deleted\n');
    // The agent is refused as a revoked one is: signed out, pair it again.
    writeFileSync(path.join(folder, 'b.txt'), 'after the removal');
    await waitFor(async () => (await status()).state === 'auth_failed', { timeoutMs: 30_000, message: 'auth_failed' });
    expect((await status()).reason).toMatch(/signed out.*pair it again/);
    expect(await ferry('server', 'folders', '--data', serverDir)).toMatch(/^ann-docs\s+bob\s+-\s/m);
    expect(await ferry('server', 'user', 'list', '--data', serverDir)).not.toMatch(/^ann/m);
    const pairing = await runFerry(['server', 'pair', '--user', 'ann', '--data', serverDir]);
    expect(pairing.code).toBe(1);
    expect(pairing.stderr).toContain("User 'ann' was removed");
    expect(await ferry('server', 'devices', '--data', serverDir)).toMatch(/\sann \(removed\)\s+ann-laptop\s/);
  });
});
