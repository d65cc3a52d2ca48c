import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait';
import type { TestServer } from '../helpers/server-harness';
import { makeAgent, startPullServer, type Agent, type Writer } from './pull-harness';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('kill -9 in the middle of a pull', () => {
  let server: TestServer;
  let writer: Writer;
  let b: Agent | undefined;
  afterEach(async () => {
    await b?.close();
    writer?.client.close();
    await server?.close();
  });

  it('converges after a restart: every file once, no conflicts, no leftovers', async () => {
    ({ server, writer } = await startPullServer());
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i++) files[`dir${i % 7}/file-${i}.txt`] = `content of file ${i}\n`.repeat(1 + (i % 5));
    await writer.commit(files);
    b = makeAgent(server, 'b');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'pull-crash-child.ts'), b.folder.dbFile, server.server.url, server.server.token], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    await waitFor(() => b!.folder.store.index.count('fb') >= 40, { timeoutMs: 20_000, message: `child applied some files (${stderr})` });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    // Files only: the parents the pull created are indexed too (kind 'dir').
    const atKill = [...b.folder.store.index.snapshot('fb').values()].filter((e) => e.kind === 'file').length;
    expect(atKill).toBeLessThan(200);
    expect(b.folder.store.tokens.get('fb')).toBeUndefined();

    const s = await b.puller.pullNow('fb');
    expect(s).toMatchObject({ conflicts: 0, tokenStored: true });
    expect(s.downloaded).toBeLessThanOrEqual(200 - atKill + 2);
    expect(b.tree()).toEqual(files);
    expect(b.folder.store.conflicts.countOpen('fb')).toBe(0);
    expect(readdirSync(path.join(b.folder.root, '.ferry', 'tmp'))).toEqual([]);
    expect((await b.scanner.reconcile()).ok).toBe(true);
    expect(Object.keys(b.folder.pendingOps()).filter((p) => p.includes('.txt'))).toEqual([]);
    // The 7 parents the pull made are recorded and never queued back, even across the kill.
    expect(Object.keys(b.folder.pendingOps())).toEqual([]);
  });
});
