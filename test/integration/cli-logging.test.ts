import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFerry, spawnFerry } from '../helpers/ferry-cli';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Issue 24 item 7: run outside the checkout (no package.json above the working directory),
// `ferry server` and `ferry agent` printed "Unhandled electron-log error … can't determine the
// app name" after log lines and wrote no DIR/logs/. Both now log to their data directory.
describe('logging when run from another directory', () => {
  const tmp = makeTempDir('ferry-cli-logging-');
  afterAll(() => tmp.cleanup());

  it('writes DIR/logs/server.log and DIR/logs/agent.log, and prints no electron-log error', async () => {
    const serverDir = path.join(tmp.dir, 'server');
    const agentDir = path.join(tmp.dir, 'agent');
    const cwd = tmp.dir;
    const server = spawnFerry(['server', '--data', 'server', '--port', '0', '--log-level', 'info'], {}, { cwd });
    const agent = await (async () => {
      const url = (await server.line(/listening on (http:\/\/\S+)/))[1]!;
      await server.line(/token/);
      const token = readFileSync(path.join(serverDir, 'token'), 'utf8').trim();
      const run = spawnFerry(['agent', '--data', 'agent', '--server', url, '--token', token, '--log-level', 'info'], {}, { cwd });
      await run.line(/^control: /);
      return run;
    })();
    try {
      const serverLog = path.join(serverDir, 'logs', 'server.log');
      const agentLog = path.join(agentDir, 'logs', 'agent.log');
      await waitFor(() => existsSync(serverLog) && readFileSync(serverLog, 'utf8').includes('listening'), { timeoutMs: 10_000, message: 'server.log' });
      await waitFor(() => existsSync(agentLog) && readFileSync(agentLog, 'utf8').includes('agent started'), { timeoutMs: 10_000, message: 'agent.log' });
    } finally {
      expect((await agent.stop()).code).toBe(0);
      await server.stop();
    }
    expect(server.stderr()).not.toMatch(/electron-log/);
    expect(agent.stderr()).not.toMatch(/electron-log/);
    expect(agent.stdout()).not.toMatch(/electron-log/);
  }, 60_000);

  // Issue 17: `ferry start` printed a line per request of its embedded server, burying the ui:
  // link. The console now holds what a person needs (the addresses, state changes, warnings);
  // the log file keeps every line. Refused here: a request line on the terminal.
  it('ferry start prints state changes, not request lines, which go to DIR/logs/agent.log', async () => {
    const home = path.join(tmp.dir, 'home');
    const env = { HOME: home, FERRY_HOME: path.join(home, '.ferry') };
    const start = spawnFerry(['start', '--port', '0', '--control-port', '0'], env, { cwd: tmp.dir });
    try {
      await start.line(/^ui: /);
      const pause = spawnFerry(['pause'], env, { cwd: tmp.dir });
      expect((await pause.exited).code).toBe(0);
      await start.line(/ state: paused — /);
      const agentLog = path.join(home, '.ferry', 'logs', 'agent.log');
      await waitFor(() => existsSync(agentLog) && /method=GET path=\/v1\/folders\/\S+\/changes/.test(readFileSync(agentLog, 'utf8')), {
        timeoutMs: 10_000,
        message: 'request lines in agent.log',
      });
    } finally {
      expect((await start.stop()).code).toBe(0);
    }
    expect(start.stdout() + start.stderr()).not.toMatch(/method=|\(server\) request/);
  }, 60_000);

  // A new-user try: the embedded server took a new port at each start, and a second device paired
  // with it went offline for good. It keeps its port now (DIR/server-port), as the control port does.
  it('ferry start keeps its embedded server on the port it had', async () => {
    const home = path.join(tmp.dir, 'home-ports');
    const env = { HOME: home, FERRY_HOME: path.join(home, '.ferry') };
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      // Named once (a new-user try: both devices were the host's "vm"), and kept.
      const start = spawnFerry(['start', ...(i === 0 ? ['--device-name', 'studio'] : [])], env, { cwd: tmp.dir });
      try {
        urls.push((await start.line(/embedded reference server at (http:\/\/127\.0\.0\.1:\d+)/))[1]!);
        await start.line(/^ui: /);
        const status = await runFerry(['status', '--json'], env);
        expect((JSON.parse(status.stdout) as { deviceName: string }).deviceName).toBe('studio');
      } finally {
        expect((await start.stop()).code).toBe(0);
      }
    }
    expect(urls[1]).toBe(urls[0]);
    expect(readFileSync(path.join(home, '.ferry', 'server-port'), 'utf8').trim()).toBe(new URL(urls[0]!).port);
  }, 60_000);
});
