import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryPage } from '../../protocol/history';
import { agentsOnServer } from '../helpers/agents-on-server';
import { makeTestFolder } from '../helpers/local-folder';
import { LocalSide } from '../../main/engine/local-side';
import { hashFile as defaultHashFile } from '../../main/engine/hashing';
import { waitFor } from '../helpers/wait';

/**
 * The short settle (a saved file goes at once) must not send a file that is still being
 * written: a copy that arrives in steps is looked at once it is done and goes to the server
 * exactly once, with its final bytes. Agents with the default local timing, a real server.
 */
/** argv: source, target, chunk size. Copies in chunks with a 10 ms sleep after each. */
const SLOW_COPY = `
const fs = require('node:fs');
const [src, dst, chunk] = process.argv.slice(1);
const data = fs.readFileSync(src);
const fd = fs.openSync(dst, 'w');
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let at = 0; at < data.length; at += Number(chunk)) {
  fs.writeSync(fd, data, at, Math.min(Number(chunk), data.length - at));
  Atomics.wait(pause, 0, 0, 10);
}
fs.closeSync(fd);
`;

describe('a file copied into the folder slowly', () => {
  // The default local timing (no settle given): that is what is under test.
  const setup = agentsOnServer('ferry-slow-copy-', { pull: { pollTimeoutSec: 2 } });
  const agents = setup.agents;
  const folderA = path.join(setup.dir, 'A');
  const folderB = path.join(setup.dir, 'B');

  async function history(p: string) {
    const { url, token } = setup.server;
    const res = await fetch(`${url}/v1/folders/shared/history?path=${encodeURIComponent(p)}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return HistoryPage.parse(await res.json()).items;
  }

  beforeAll(async () => {
    await setup.start();
    await setup.agent('alpha', folderA);
    await setup.agent('beta', folderB);
  }, 30_000);

  afterAll(() => setup.stop());

  it('is uploaded once, when complete, with its final bytes', async () => {
    const a = agents[0]!;
    const content = randomBytes(6 * 1024 * 1024);
    const chunk = 96 * 1024;
    const target = path.join(folderA, 'video.bin');
    const source = path.join(setup.dir, 'video.src');
    writeFileSync(source, content);
    // The writer: 64 steps 10 ms apart (about a second), as a copy from slow media arrives. A
    // process of its own, sleeping without an event loop: a timer in this process, shared with
    // two agents and the server, stretched a pause past the short settle on a loaded CI machine,
    // and the agent rightly took the pause for the end of the copy.
    // Asynchronous: the agents (in this process) keep looking while the copy arrives.
    const writer = spawn(process.execPath, ['-e', SLOW_COPY, source, target, String(chunk)], { stdio: 'inherit' });
    const code = await new Promise<number | null>((resolve) => writer.on('exit', resolve));
    expect(code).toBe(0);
    await waitFor(() => existsSync(path.join(folderB, 'video.bin')) && readFileSync(path.join(folderB, 'video.bin')).equals(content), { timeoutMs: 30_000 });
    await waitFor(() => a.status().state === 'idle', { timeoutMs: 15_000 });
    const revisions = await history('video.bin');
    // Refused: any revision holding a part of the file (a look while it was being written).
    expect(revisions.map((r) => r.size)).toEqual([content.length]);
  });
});

describe('a file written in steps, on the local side alone', () => {
  it('is looked at once its writer pauses for the long settle, not after every step', async () => {
    const f = makeTestFolder();
    const looks: string[] = [];
    const side = new LocalSide({
      store: f.store,
      folderId: f.folderId,
      // Every look at a changed file hashes it: the hashes of log.txt are its looks.
      hashFile: (abs) => {
        if (path.basename(abs) === 'log.txt') looks.push(abs);
        return defaultHashFile(abs);
      },
    });
    try {
      await side.start();
      const fd = openSync(f.abs('log.txt'), 'a');
      try {
        writeSync(fd, 'line 0\n');
        // The first look comes after the short settle (a saved file goes at once).
        await waitFor(() => looks.length === 1, { timeoutMs: 5000 });
        // Then 20 steps 60 ms apart: longer than the short settle, shorter than the long one.
        for (let i = 1; i <= 20; i++) {
          writeSync(fd, `line ${i}\n`);
          await new Promise((resolve) => setTimeout(resolve, 60));
        }
      } finally {
        closeSync(fd);
      }
      await waitFor(() => side.idle && f.store.index.get(f.folderId, 'log.txt')?.size === readFileSync(f.abs('log.txt')).length, { timeoutMs: 10_000 });
      // Refused: a look (hash, queue, upload) after every step. One after the first line, one
      // when the writer is done; a third when a step was late on a loaded machine.
      expect(looks.length).toBeLessThanOrEqual(3);
      expect(f.pendingOps()['log.txt']).toBe('file:upsert');
    } finally {
      await side.stop();
      f.cleanup();
    }
  });
});
