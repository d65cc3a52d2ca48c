import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/main';
import { runFerry } from '../helpers/ferry-cli';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

const bin = path.resolve(import.meta.dirname, '../../bin/ferry.mjs');
const DIRS = 100;
const PER_DIR = 100;

/** `ferry agent` in a child shell that lowered its open-file limit first. */
function agentUnderUlimit(dataDir: string, folder: string, server: RunningServer): { child: ChildProcess; output: () => string } {
  const args = [bin, 'agent', '--data', dataDir, '--server', server.url, '--token', server.token, '--folder', `${folder}=open-files`].map((a) => `'${a}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -n 256 && exec '${process.execPath}' ${args}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn' } });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  return { child, output: () => out };
}

// Issue 21, the open-file limit: two real `ferry agent` processes, each started from a child
// shell under `ulimit -n 256`, push and pull 10,000 files through the real server over
// loopback (the server runs in the test process, without the limit). What is refused: a
// file failed or missing because a descriptor could not be had.
describe('open-file limit of 256', () => {
  const tmp = makeTempDir('ferry-open-files-');
  const senderDir = path.join(tmp.dir, 'sender');
  const receiverDir = path.join(tmp.dir, 'receiver');
  let server: RunningServer;
  const agents: ChildProcess[] = [];

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    for (let d = 0; d < DIRS; d++) {
      mkdirSync(path.join(senderDir, `d${d}`), { recursive: true });
      for (let f = 0; f < PER_DIR; f++) writeFileSync(path.join(senderDir, `d${d}`, `f${f}.txt`), `file ${d}/${f}`);
    }
    mkdirSync(receiverDir, { recursive: true });
  }, 180_000);
  afterAll(async () => {
    for (const child of agents) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await server?.close();
    tmp.cleanup();
  }, 120_000);

  const status = async (dataDir: string) => {
    const run = await runFerry(['status', '--data', dataDir, '--json']);
    if (run.code !== 0) return null;
    return JSON.parse(run.stdout) as { state: string; counts: { done: number; failed: number } };
  };

  const countFiles = (dir: string) => readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile() && !e.parentPath.includes('.ferry')).length;

  it('pushes and pulls 10,000 files with no failures', async () => {
    const sender = agentUnderUlimit(path.join(tmp.dir, 'sender-data'), senderDir, server);
    agents.push(sender.child);
    const receiver = agentUnderUlimit(path.join(tmp.dir, 'receiver-data'), receiverDir, server);
    agents.push(receiver.child);
    await waitFor(() => /^control: http/m.test(sender.output()) && /^control: http/m.test(receiver.output()), { timeoutMs: 60_000, message: 'both agents up' });

    await waitFor(
      async () => {
        const s = await status(path.join(tmp.dir, 'sender-data'));
        expect(s?.counts.failed ?? 0, sender.output()).toBe(0);
        return s !== null && s.counts.done >= DIRS * PER_DIR + DIRS && s.state === 'idle';
      },
      { timeoutMs: 240_000, intervalMs: 1000, message: 'sender pushed every file' },
    );
    await waitFor(() => countFiles(receiverDir) === DIRS * PER_DIR, { timeoutMs: 240_000, intervalMs: 1000, message: 'receiver pulled every file' });
    for (const [d, f] of [[0, 0], [57, 42], [99, 99]] as const) {
      expect(readFileSync(path.join(receiverDir, `d${d}`, `f${f}.txt`), 'utf8')).toBe(`file ${d}/${f}`);
    }
    expect((await status(path.join(tmp.dir, 'sender-data')))?.counts.failed).toBe(0);
    expect((await status(path.join(tmp.dir, 'receiver-data')))?.counts.failed).toBe(0);
    expect(sender.output() + receiver.output()).not.toMatch(/EMFILE|ENFILE/);
  }, 600_000);
});
