import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureControlToken, readAgentInfo, readControlToken, removeAgentInfo, writeAgentInfo } from '../../main/control/control-token';
import { connectToAgent } from '../../main/control/control-client';
import { makeTempDir } from '../helpers/local-temp';
import { withAgent } from '../../main/control/commands/with-agent';
import { createServer } from 'node:net';

let temp: { dir: string; cleanup: () => void } | undefined;
afterEach(() => temp?.cleanup());

describe('control token and agent info', () => {
  it('creates a 32-byte hex token with mode 0600 and keeps it', async () => {
    temp = makeTempDir();
    const token = await ensureControlToken(temp.dir);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(path.join(temp.dir, 'control-token')).mode & 0o777).toBe(0o600);
    expect(await ensureControlToken(temp.dir)).toBe(token);
    expect(await readControlToken(temp.dir)).toBe(token);
  });

  it('round-trips agent.json and ignores the file of a dead process', async () => {
    temp = makeTempDir();
    const info = { pid: process.pid, controlUrl: 'http://127.0.0.1:4321', startedAt: new Date(0).toISOString() };
    await writeAgentInfo(temp.dir, info);
    expect(await readAgentInfo(temp.dir)).toEqual(info);
    await writeAgentInfo(temp.dir, { ...info, pid: 2 ** 22 + 12345 });
    expect(await readAgentInfo(temp.dir)).toBeUndefined();
    await removeAgentInfo(temp.dir);
    expect(await readAgentInfo(temp.dir)).toBeUndefined();
  });

  it('says clearly when no agent runs for a directory', async () => {
    temp = makeTempDir();
    await expect(connectToAgent(temp.dir)).rejects.toMatchObject({
      code: 'agent_not_running',
      message: `No Ferry agent is running for ${temp.dir} (start one with: ferry agent --data ${temp.dir} ...)`,
    });
    // A data directory `ferry start` made (its embedded server inside): started the same way (a new-user try).
    mkdirSync(path.join(temp.dir, 'server'));
    await expect(connectToAgent(temp.dir)).rejects.toMatchObject({ message: `No Ferry agent is running for ${temp.dir} (start one with: ferry start --data ${temp.dir})` });
    writeFileSync(path.join(temp.dir, 'agent.json'), '{not json');
    await expect(readAgentInfo(temp.dir)).rejects.toMatchObject({ code: 'invalid_agent_info' });
  });

  // A new-user try: `ferry status` with the agent down read "cannot reach the Ferry agent at … (agent_unreachable)", nothing more.
  it('says how to start the agent, or resume it, when the one agent.json names does not answer', async () => {
    temp = makeTempDir();
    // A port nothing listens on: one taken, then given back.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    await ensureControlToken(temp.dir);
    await writeAgentInfo(temp.dir, { pid: process.pid, controlUrl: `http://127.0.0.1:${port}`, startedAt: new Date(0).toISOString() });
    writeFileSync(path.join(temp.dir, 'settings.json'), '{}');
    const errors: string[] = [];
    const code = await withAgent({ name: 'status' }, { data: temp.dir }, { out: () => {}, err: (t) => void errors.push(t) }, async (client) => (await client.call('getStatus', {}), 0));
    expect(code).toBe(1);
    expect(errors.join('\n')).toBe(
      `ferry status: cannot reach the Ferry agent at http://127.0.0.1:${port}: it does not answer: if it was stopped with Ctrl-Z, 'fg' in its terminal resumes it; if it is not running, start it with: ferry agent --data ${temp.dir} (agent_unreachable)`,
    );
  });
});
