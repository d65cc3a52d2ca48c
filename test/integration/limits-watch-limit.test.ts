import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { startServer, type RunningServer } from '../../server/main';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Issue 21, the inotify watch limit reached. fs.inotify.max_user_watches is one setting for
// the whole machine (every test and process running as root shares it), so the limit is an
// injected fault: the native watcher refuses its fourth watch with ENOSPC, as the kernel
// refuses one past the limit. A real agent, real folders, the real server over loopback.
// What is refused: a change in an unwatched folder that never arrives, or a limit not said.
describe('watch limit reached', () => {
  const tmp = makeTempDir('ferry-watch-limit-');
  const folder = path.join(tmp.dir, 'Docs');
  const dirs = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  let server: RunningServer;
  let agent: Agent;

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    for (const d of dirs) {
      mkdirSync(path.join(folder, d, 'deep'), { recursive: true });
      writeFileSync(path.join(folder, d, 'old.txt'), `old ${d}`);
    }
    agent = await createAgent({
      dataDir: path.join(tmp.dir, 'agent'),
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId: 'watch-limit' }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 30, nativeWatch: { maxWatches: 3, unwatchedScanMs: 300 } }, pull: { pollTimeoutSec: 1 } },
    });
    await agent.start();
  });
  afterAll(async () => {
    await agent?.stop();
    await server?.close();
    tmp.cleanup();
  });

  const onServer = async () => {
    const res = await fetch(`${server.url}/v1/folders/watch-limit/changes?syncModifications=true`, {
      headers: { authorization: `Bearer ${server.token}`, 'x-ferry-device': 'test-device', 'x-ferry-run': 'test;2024-01-01T00:00:00Z' },
    });
    const body = (await res.json()) as { items: Array<{ path: string; deleted: boolean; size: number }> };
    return new Map(body.items.filter((i) => !i.deleted).map((i) => [i.path, i.size]));
  };

  it('says so with the fix, and finds every change in the folders it could not watch', async () => {
    // Every start-up scan over (the folder idle): what follows can only be found by watching or polling.
    await waitFor(async () => (await onServer()).size >= dirs.length * 3 && agent.status().state === 'idle', { timeoutMs: 30_000, message: 'first sync' });
    const activity = await agent.handlers.listActivity({ limit: 200 });
    const limit = activity.find((e) => e.kind === 'watch_limit');
    expect(limit?.message).toMatch(/fs\.inotify\.max_user_watches/);
    expect(limit?.message).toMatch(/sudo sysctl fs\.inotify\.max_user_watches=\d+/);

    // Changes everywhere: new files, a new folder, an edit and a delete, watched or not.
    for (const d of dirs) {
      writeFileSync(path.join(folder, d, 'new.txt'), `new in ${d}`);
      writeFileSync(path.join(folder, d, 'deep', 'deeper.txt'), `deeper in ${d}`);
      mkdirSync(path.join(folder, d, 'made'));
      writeFileSync(path.join(folder, d, 'made', 'inside.txt'), `inside ${d}`);
      writeFileSync(path.join(folder, d, 'old.txt'), `edited in ${d}, longer`);
    }
    rmSync(path.join(folder, 'h', 'old.txt'));
    await waitFor(
      async () => {
        const now = await onServer();
        return dirs.every(
          (d) =>
            now.has(`${d}/new.txt`) &&
            now.has(`${d}/deep/deeper.txt`) &&
            now.has(`${d}/made/inside.txt`) &&
            (d === 'h' ? !now.has('h/old.txt') : now.get(`${d}/old.txt`) === `edited in ${d}, longer`.length),
        );
      },
      { timeoutMs: 30_000, message: 'every change on the server, without a Sync now' },
    );
    expect(agent.status().counts.failed).toBe(0);
  }, 90_000);
});
