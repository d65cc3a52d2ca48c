import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlServer } from '../../main/control/control-server';
import type { ControlServer } from '../../main/control/control-server';
import { ensureControlToken, writeAgentInfo } from '../../main/control/control-token';
import os from 'node:os';
import path from 'node:path';
import { clientCommands } from '../../main/control/commands';
import { resolveDataDir } from '../../main/control/commands/with-agent';
import type { CommandIo } from '../../main/control/commands/args';
import * as queue from '../../main/control/commands/queue';
import * as retry from '../../main/control/commands/retry';
import * as status from '../../main/control/commands/status';
import * as pause from '../../main/control/commands/pause';
import * as resume from '../../main/control/commands/resume';
import * as syncNow from '../../main/control/commands/sync-now';
import * as massDelete from '../../main/control/commands/mass-delete';
import * as why from '../../main/control/commands/why';
import { createFakeAgent, makeQueueItems } from '../fakes/control-fake-agent';
import type { FakeAgent } from '../fakes/control-fake-agent';
import { makeTempDir } from '../helpers/local-temp';

let temp: { dir: string; cleanup: () => void };
let agent: FakeAgent;
let server: ControlServer;

function captureIo(): CommandIo & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (text: string) => void (io.stdout += text + '\n'), err: (text: string) => void (io.stderr += text + '\n') };
  return io;
}

beforeAll(async () => {
  temp = makeTempDir('ferry-cli-');
  agent = createFakeAgent({ items: makeQueueItems(12, { failedEvery: 4 }) });
  const token = await ensureControlToken(temp.dir);
  server = await startControlServer({ service: agent, token });
  await writeAgentInfo(temp.dir, { pid: process.pid, controlUrl: server.url, startedAt: new Date().toISOString() });
});

afterAll(async () => {
  await server.close();
  temp.cleanup();
});

describe('ferry client commands', () => {
  it('exports every client command for the dispatcher', () => {
    expect(Object.keys(clientCommands).sort()).toEqual(['conflicts', 'devices', 'history', 'mass-delete', 'pause', 'queue', 'restore', 'resume', 'retry', 'status', 'sync-now', 'ui', 'why']);
    for (const command of Object.values(clientCommands)) expect(command.summary.length).toBeGreaterThan(10);
  });

  it('status prints counts and folders, or JSON with --json', async () => {
    const io = captureIo();
    expect(await status.run(['--data', temp.dir], io)).toBe(0);
    expect(io.stdout).toMatch(/3 failed/);
    expect(io.stdout).toContain('/home/ada/Documents');
    const jsonIo = captureIo();
    expect(await status.run(['--data', temp.dir, '--json'], jsonIo)).toBe(0);
    expect(JSON.parse(jsonIo.stdout)).toMatchObject({ counts: { failed: 3 } });
  });

  it('queue filters by state and pages', async () => {
    const io = captureIo();
    expect(await queue.run(['--data', temp.dir, '--state', 'failed', '--limit', '2', '--offset', '1', '--json'], io)).toBe(0);
    const page = JSON.parse(io.stdout) as { items: Array<{ id: number }>; total: number };
    expect(page.total).toBe(3);
    expect(page.items.map((item) => item.id)).toEqual([8, 12]);
    const text = captureIo();
    await queue.run(['--data', temp.dir, '--state', 'failed'], text);
    expect(text.stdout).toContain('dir-0/file-4.txt');
    expect(text.stdout).toContain('Showing 1-3 of 3.');
  });

  it('queue refuses a bad state or limit with a usage error (exit 2)', async () => {
    const io = captureIo();
    expect(await queue.run(['--data', temp.dir, '--state', 'stuck'], io)).toBe(2);
    expect(io.stderr).toContain('--state must be one of');
    expect(io.stderr).not.toContain('"waiting"');
    // What the list shows while the server is away is not a state: the refusal names the filter that lists those items.
    const waiting = captureIo();
    expect(await queue.run(['--data', temp.dir, '--state', 'waiting'], waiting)).toBe(2);
    expect(waiting.stderr).toContain('("waiting" is how in_flight items show while the server cannot be reached: --state in_flight lists them)');
    expect(await queue.run(['--data', temp.dir, '--limit', '0'], io)).toBe(2);
    const bogus = captureIo();
    expect(await queue.run(['--data', temp.dir, '--bogus'], bogus)).toBe(2);
    // In our words on every Node line (Node 22 and later add a hint whose quotes do not balance).
    expect(bogus.stderr.trim()).toBe("ferry queue: Unknown option '--bogus'\nRun 'ferry queue --help' for the options.");
    // A command that takes a path says where one starting with '-' goes.
    const dash = captureIo();
    expect(await why.run(['-notes.txt'], dash)).toBe(2);
    expect(dash.stderr).toContain("Unknown option '-notes.txt' (a path that starts with '-' goes after '--': ferry why -- -notes.txt)");
    // One that takes none says no such thing; a flag without its value says which.
    const plain = captureIo();
    expect(await massDelete.run(['confirm', '--bogus'], plain)).toBe(2);
    expect(plain.stderr).toMatch(/^ferry mass-delete: Unknown option '--bogus'\n/);
    const bare = captureIo();
    expect(await massDelete.run(['confirm', '--folder'], bare)).toBe(2);
    expect(bare.stderr).toMatch(/^ferry mass-delete: --folder needs a value\n/);
  });

  // A new user's try: outside the folder, `ferry history` took a path inside the folder and `ferry
  // why` did not ("is not in any synced folder"). With one folder it does (agent-cli.test.ts).
  it('why says how to name a path inside one of several folders when it is in none here', async () => {
    const io = captureIo();
    expect(await why.run(['dir-0/file-4.txt', '--data', temp.dir], io)).toBe(1);
    expect(io.stderr).toContain('is not in any synced folder; for a path inside a folder, say which with --folder (one of docs, photos)');
    const named = captureIo();
    expect(await why.run(['dir-0/file-4.txt', '--folder', 'photos', '--data', temp.dir, '--json'], named)).toBe(0);
    expect(JSON.parse(named.stdout)).toMatchObject({ path: 'dir-0/file-4.txt', inSync: false });
  });

  it('retry takes one ID or --all, never both', async () => {
    const io = captureIo();
    expect(await retry.run(['--data', temp.dir], io)).toBe(2);
    expect(await retry.run(['--data', temp.dir, '--all', '4'], io)).toBe(2);
    expect(await retry.run(['--data', temp.dir, 'x'], io)).toBe(2);
    expect(await retry.run(['--data', temp.dir, '4'], io)).toBe(0);
    expect(io.stdout).toContain('Retrying 1 item.');
    expect(agent.queue.find((item) => item.id === 4)?.state).toBe('pending');
    expect(await retry.run(['--data', temp.dir, '--all'], io)).toBe(0);
    expect(io.stdout).toContain('Retrying 2 items.');
    expect(agent.queue.some((item) => item.state === 'failed')).toBe(false);
  });

  it("reports the agent's refusal with its code and exit 1", async () => {
    const io = captureIo();
    expect(await retry.run(['--data', temp.dir, '1'], io)).toBe(1);
    expect(io.stderr).toMatch(/not failed \(not_failed\)/);
  });

  it("with --json, the agent's refusal is one JSON object on stderr, not text", async () => {
    const io = captureIo();
    expect(await retry.run(['--data', temp.dir, '1', '--json'], io)).toBe(1);
    expect(io.stdout).toBe('');
    expect(JSON.parse(io.stderr)).toEqual({ error: { code: 'not_failed', message: expect.stringContaining('not failed'), retryable: false } });
  });

  it('with --json, no running agent is a JSON error too (exit 1)', async () => {
    const empty = makeTempDir('ferry-cli-empty-');
    try {
      const io = captureIo();
      expect(await status.run(['--data', empty.dir, '--json'], io)).toBe(1);
      expect(JSON.parse(io.stderr)).toMatchObject({ error: { code: 'agent_not_running', retryable: expect.any(Boolean) } });
    } finally {
      empty.cleanup();
    }
  });

  it('with --json, a usage error is a JSON error too (exit 2); without it, a line and where help is', async () => {
    const io = captureIo();
    expect(await retry.run(['--data', temp.dir, '--json'], io)).toBe(2);
    expect(JSON.parse(io.stderr)).toEqual({ error: { code: 'usage', message: "give either --all or one item ID; run 'ferry retry --help' for the options", retryable: false } });
    const bad = captureIo();
    expect(await status.run(['--bogus', '--json'], bad)).toBe(2);
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: 'usage', message: expect.stringContaining("Unknown option '--bogus'") } });
    const text = captureIo();
    expect(await retry.run(['--data', temp.dir], text)).toBe(2);
    expect(text.stderr).toBe("ferry retry: give either --all or one item ID\nRun 'ferry retry --help' for the options.\n");
  });

  it('mass-delete confirm names an unknown folder as unknown, and a folder with nothing held as such (text or JSON)', async () => {
    const unknown = captureIo();
    expect(await massDelete.run(['confirm', '--folder', 'nope', '--data', temp.dir], unknown)).toBe(1);
    expect(unknown.stderr.trim()).toBe("ferry mass-delete: No folder 'nope' (ferry status lists them) (not_found)");
    // Two folders here: which one is said, not guessed.
    const which = captureIo();
    expect(await massDelete.run(['confirm', '--data', temp.dir], which)).toBe(1);
    expect(which.stderr.trim()).toBe('ferry mass-delete: Say which folder with --folder (one of docs, photos) (invalid_request)');
    const idle = captureIo();
    expect(await massDelete.run(['confirm', '--folder', 'docs', '--data', temp.dir, '--json'], idle)).toBe(1);
    expect(JSON.parse(idle.stderr)).toEqual({ error: { code: 'not_held', message: "Folder 'docs' has no mass delete waiting for an answer", retryable: false } });
  });

  it('mass-delete confirm counts the deletes it let through apart from those that had gone to the server before the hold (text and JSON)', async () => {
    agent.pauseForMassDelete('docs', 12, 20, 2);
    const text = captureIo();
    expect(await massDelete.run(['confirm', '--folder', 'docs', '--data', temp.dir], text)).toBe(0);
    // Refused: "(2 more reached the server …)", words the other surfaces of the same hold do not use.
    expect(text.stdout.trim()).toBe("Confirmed: deleting 10 of 20 files in 'docs' (2 more had gone to the server before the hold).");
    agent.pauseForMassDelete('docs', 12, 20, 2);
    const json = captureIo();
    expect(await massDelete.run(['confirm', '--folder', 'docs', '--data', temp.dir, '--json'], json)).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ folderId: 'docs', answer: 'confirmed', count: 12, total: 20, side: 'scan', sentBeforeHold: 2 });
  });

  it('pause, resume and sync-now act on the agent', async () => {
    const io = captureIo();
    expect(await pause.run(['--data', temp.dir], io)).toBe(0);
    expect(agent.paused).toBe(true);
    expect(await resume.run(['--data', temp.dir], io)).toBe(0);
    expect(agent.paused).toBe(false);
    expect(await syncNow.run(['--data', temp.dir, '--folder', 'docs'], io)).toBe(0);
    expect(agent.calls.at(-1)).toEqual({ method: 'syncNow', input: { folderId: 'docs' } });
  });

  it('sync-now --afresh takes up one folder: it asks the agent for exactly that, and says what the agent refused', async () => {
    const missing = captureIo();
    expect(await syncNow.run(['--afresh', '--data', temp.dir], missing)).toBe(2);
    expect(missing.stderr).toBe("ferry sync-now: --afresh takes up one folder: give --folder ID\nRun 'ferry sync-now --help' for the options.\n");
    const refused = captureIo();
    expect(await syncNow.run(['--afresh', '--folder', 'docs', '--data', temp.dir], refused)).toBe(1);
    expect(agent.calls.at(-1)).toEqual({ method: 'syncAfresh', input: { folderId: 'docs' } });
    expect(refused.stderr.trim()).toBe('ferry sync-now: This fake keeps no folder records (not_detached)');
  });

  it('explains every flag with --help', async () => {
    for (const [name, command] of [['queue', queue], ['retry', retry], ['status', status]] as const) {
      const io = captureIo();
      expect(await command.run(['--help'], io)).toBe(0);
      expect(io.stdout).toContain(`Usage: ferry ${name}`);
      for (const flag of command.definition.flags) expect(io.stdout).toContain(flag[0]);
      expect(io.stdout).toContain('--data DIR');
    }
  });

  it('says no agent runs for an empty directory (exit 1)', async () => {
    const empty = makeTempDir('ferry-cli-empty-');
    try {
      const io = captureIo();
      expect(await status.run(['--data', empty.dir], io)).toBe(1);
      expect(io.stderr.trim()).toBe(`No Ferry agent is running for ${empty.dir} (start one with: ferry agent --data ${empty.dir} ...)`);
    } finally {
      empty.cleanup();
    }
  });

  it('without --data looks in $FERRY_HOME', async () => {
    const saved = process.env.FERRY_HOME;
    process.env.FERRY_HOME = temp.dir;
    try {
      const io = captureIo();
      expect(await status.run(['--json'], io)).toBe(0);
      expect(JSON.parse(io.stdout)).toMatchObject({ deviceName: 'test-laptop' });
    } finally {
      if (saved === undefined) delete process.env.FERRY_HOME;
      else process.env.FERRY_HOME = saved;
    }
  });

  it('resolves the default data directory like ferry start', () => {
    expect(resolveDataDir('rel', {})).toBe(path.resolve('rel'));
    expect(resolveDataDir(undefined, { FERRY_HOME: '/srv/ferry' })).toBe('/srv/ferry');
    expect(resolveDataDir(undefined, {})).toBe(path.join(os.homedir(), '.ferry'));
  });
});
