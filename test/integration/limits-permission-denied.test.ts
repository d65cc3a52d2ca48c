import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../main/store';
import { startServer, type RunningServer } from '../../server/main';
import { runFerry } from '../helpers/ferry-cli';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

const NOBODY = 65534;
const bin = path.resolve(import.meta.dirname, '../../bin/ferry.mjs');

// Issue 21, permission denied on a file and a subfolder. The tests run as root, which ignores
// permission bits, so the agent runs in a child process with a dropped uid (`setpriv` to
// nobody) against the real server over loopback and a real temp folder nobody owns. What is
// refused: a silent skip, the rest of the folder stalling, or a delete sent to the server for
// what could not be read.
describe('permission denied on a file and a subfolder', () => {
  const tmp = makeTempDir('ferry-perm-');
  const folder = path.join(tmp.dir, 'Docs');
  const dataDir = path.join(tmp.dir, 'agent');
  let server: RunningServer;
  let agent: ReturnType<typeof spawn> | null = null;
  let out = '';

  const asNobody = (p: string) => chownSync(p, NOBODY, NOBODY);

  beforeAll(async () => {
    // The temp dir is root's 0700: nobody needs to get through it.
    chmodSync(tmp.dir, 0o755);
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    for (const dir of [folder, path.join(folder, 'locked'), dataDir]) {
      mkdirSync(dir, { recursive: true });
      asNobody(dir);
    }
    for (const [rel, text] of [
      ['ok.txt', 'readable'],
      ['secret.txt', 'will be unreadable'],
      ['locked/inner.txt', 'inside a folder that will be unreadable'],
    ] as const) {
      writeFileSync(path.join(folder, rel), text);
      asNobody(path.join(folder, rel));
    }
    agent = spawn(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, bin, 'agent', '--data', dataDir, '--server', server.url, '--token', server.token, '--folder', `${folder}=perm`],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: dataDir, FERRY_LOG_LEVEL: 'warn' } },
    );
    agent.stdout!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
    agent.stderr!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
    await waitFor(() => /^control: http/m.test(out), { timeoutMs: 40_000, message: 'agent (as nobody) up' });
  }, 60_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((resolve) => agent!.once('exit', resolve));
      agent.kill('SIGTERM');
      await exited;
    }
    await server?.close();
    chmodSync(path.join(folder, 'locked'), 0o755);
    tmp.cleanup();
  });

  const status = async () => {
    const run = await runFerry(['status', '--data', dataDir, '--json']);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { state: string; counts: { pending: number; done: number; failed: number } };
  };

  /** The server's current version of each path (deleted ones left out). */
  const onServer = async () => {
    const res = await fetch(`${server.url}/v1/folders/perm/changes?syncModifications=true`, {
      headers: { authorization: `Bearer ${server.token}`, 'x-ferry-device': 'test-device', 'x-ferry-run': 'test;2024-01-01T00:00:00Z' },
    });
    const body = (await res.json()) as { items: Array<{ path: string; deleted: boolean; size: number }> };
    return new Map(body.items.filter((i) => !i.deleted).map((i) => [i.path, i.size]));
  };

  it('reports each unreadable path with its reason, keeps syncing the rest, and deletes nothing on the server', async () => {
    await waitFor(async () => (await onServer()).size >= 4, { timeoutMs: 30_000, message: 'first sync: ok, secret, locked/, locked/inner' });

    // Changed while unreadable (a chmod alone changes nothing the scanner looks at): it must
    // be read to be sent, and cannot be.
    writeFileSync(path.join(folder, 'secret.txt'), 'changed, and unreadable now');
    chmodSync(path.join(folder, 'secret.txt'), 0o000);
    chmodSync(path.join(folder, 'locked'), 0o000);
    writeFileSync(path.join(folder, 'new.txt'), 'written after the others became unreadable');
    asNobody(path.join(folder, 'new.txt'));
    // A full rescan walks into the unreadable folder and hashes the unreadable file.
    expect((await runFerry(['sync-now', '--data', dataDir])).code).toBe(0);

    await waitFor(async () => (await onServer()).has('new.txt'), { timeoutMs: 30_000, message: 'new.txt uploaded' });
    await waitFor(async () => (await status()).state === 'idle', { timeoutMs: 30_000, message: 'agent idle' });
    const server = await onServer();
    expect([...server.keys()].sort()).toEqual(['locked', 'locked/inner.txt', 'new.txt', 'ok.txt', 'secret.txt']);
    // The server keeps the last version it could read.
    expect(server.get('secret.txt')).toBe('will be unreadable'.length);
    expect((await status()).counts.failed).toBe(0);

    // Reported per path, with the reason (read from the agent's own state database).
    const store = openStore(path.join(dataDir, 'state.db'));
    try {
      const unreadable = store.activity.recent({ limit: 200 }).filter((e) => e.kind === 'unreadable');
      expect(unreadable.map((e) => e.path).sort()).toEqual(['locked', 'secret.txt']);
      expect(unreadable.find((e) => e.path === 'secret.txt')?.message).toMatch(/permission denied/);
      expect(unreadable.find((e) => e.path === 'locked')?.message).toMatch(/permission denied/i);
    } finally {
      store.close();
    }
  }, 120_000);
});
