import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runFerry, spawnFerry, type RunningFerry } from '../helpers/ferry-cli';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Issue 23 items 4 and 5, as a user runs Ferry: data directories that other users could read,
// and tokens shown to everyone by `ps`.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const mode = (p: string) => statSync(p).mode & 0o777;

function loose(dir: string, logName: string): void {
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  writeFileSync(path.join(dir, 'logs', logName), 'an old line\n');
  chmodSync(path.join(dir, 'logs', logName), 0o644);
  chmodSync(path.join(dir, 'logs'), 0o755);
  chmodSync(dir, 0o755);
}

function started(args: string[], env: Record<string, string> = {}): RunningFerry {
  const run = spawnFerry(args, env);
  cleanups.push(async () => void (await run.stop()));
  return run;
}

/** Every file directly in dir and dir/logs, with its mode. */
function filesWithModes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const sub of [dir, path.join(dir, 'logs')]) {
    for (const e of readdirSync(sub, { withFileTypes: true })) {
      if (e.isFile()) out[path.relative(dir, path.join(sub, e.name))] = mode(path.join(sub, e.name)).toString(8);
    }
  }
  return out;
}

describe.skipIf(process.platform === 'win32')('data directory modes (issue 23 item 4)', () => {
  it('the server makes an existing 0755 directory 0700 and its database, token, secret and log 0600', async () => {
    const tmp = makeTempDir('ferry-perm-');
    cleanups.push(tmp.cleanup);
    const dir = path.join(tmp.dir, 'server');
    mkdirSync(dir);
    loose(dir, 'server.log');
    const server = started(['server', '--data', dir, '--port', '0']);
    await server.line(/token/);
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, 'logs'))).toBe(0o700);
    const files = filesWithModes(dir);
    for (const name of ['server.db', 'token', 'server-secret', path.join('logs', 'server.log')]) expect(files[name], name).toBe('600');
    expect(Object.entries(files).filter(([, m]) => m !== '600')).toEqual([]);
  }, 30_000);

  it('the agent makes an existing 0755 directory 0700 and its state database, tokens and log 0600', async () => {
    const tmp = makeTempDir('ferry-perm-');
    cleanups.push(tmp.cleanup);
    const serverDir = path.join(tmp.dir, 'server');
    const agentDir = path.join(tmp.dir, 'agent');
    mkdirSync(agentDir);
    loose(agentDir, 'agent.log');
    const server = started(['server', '--data', serverDir, '--port', '0']);
    const url = (await server.line(/listening on (http:\/\/\S+)/))[1]!;
    await server.line(/token/);
    const agent = started(['agent', '--data', agentDir, '--server', url, '--token-file', path.join(serverDir, 'token')]);
    await agent.line(/^control: /, 60_000);
    expect(mode(agentDir)).toBe(0o700);
    expect(mode(path.join(agentDir, 'logs'))).toBe(0o700);
    const files = filesWithModes(agentDir);
    for (const name of ['state.db', 'control-token', 'agent.json', path.join('logs', 'agent.log')]) expect(files[name], name).toBe('600');
    expect(Object.entries(files).filter(([, m]) => m !== '600')).toEqual([]);
  }, 120_000);
});

describe('tokens off the command line (issue 23 item 5)', () => {
  it('the server takes its token from --token-file or $FERRY_SERVER_TOKEN silently, and warns about --token', async () => {
    const tmp = makeTempDir('ferry-token-');
    cleanups.push(tmp.cleanup);
    const tokenFile = path.join(tmp.dir, 'the-token');
    writeFileSync(tokenFile, 'from-the-file-1234\n');
    const viaFile = started(['server', '--data', path.join(tmp.dir, 's1'), '--port', '0', '--token-file', tokenFile]);
    const url1 = (await viaFile.line(/listening on (http:\/\/\S+)/))[1]!;
    const s1 = path.join(tmp.dir, 's1');
    // It names the store it serves.
    expect((await viaFile.line(/^Storage: (.*)$/))[1]).toBe(`metadata in ${path.join(s1, 'server.db')}; blocks in ${path.join(s1, 'blocks')}`);
    expect((await fetch(`${url1}/v1/folders`, { headers: { authorization: 'Bearer from-the-file-1234' } })).status).toBe(200);
    expect(viaFile.stdout()).not.toMatch(/Generated a token/);

    const viaEnv = started(['server', '--data', path.join(tmp.dir, 's2'), '--port', '0'], { FERRY_SERVER_TOKEN: 'from-the-env-5678' });
    const url2 = (await viaEnv.line(/listening on (http:\/\/\S+)/))[1]!;
    expect((await fetch(`${url2}/v1/folders`, { headers: { authorization: 'Bearer from-the-env-5678' } })).status).toBe(200);

    const viaFlag = started(['server', '--data', path.join(tmp.dir, 's3'), '--port', '0', '--token', 'on-the-command-line']);
    await viaFlag.line(/listening on/);
    for (const run of [viaFile, viaEnv]) expect(run.stderr()).not.toMatch(/--token shows the token/);
    await waitFor(() => /--token shows the token to every user of this machine \(ps\); use --token-file FILE or FERRY_SERVER_TOKEN/.test(viaFlag.stderr()), {
      message: 'the --token warning',
    });
    expect(viaFlag.stderr()).not.toContain('on-the-command-line');
  }, 120_000);

  it('refuses --token with --token-file, and a token file that is missing or holds more than a token', async () => {
    const tmp = makeTempDir('ferry-token-');
    cleanups.push(tmp.cleanup);
    const twoWords = path.join(tmp.dir, 'two-words');
    writeFileSync(twoWords, 'one two\n');
    const absent = path.join(tmp.dir, 'absent');
    const refusals: Array<[string[], string]> = [
      [['server', '--data', tmp.dir, '--token', 'abcdefgh1', '--token-file', twoWords], 'give either --token or --token-file, not both'],
      // A missing file says where a token comes from, for each command.
      [['server', '--data', tmp.dir, '--token-file', absent], `cannot read --token-file ${absent}: ENOENT (no such file: write a long random token into it first`],
      [['server', '--data', tmp.dir, '--token-file', twoWords], `--token-file ${twoWords} must hold the token alone, on one line`],
      [['agent', '--data', path.join(tmp.dir, 'a'), '--server', 'http://127.0.0.1:9', '--token-file', absent], "(no such file: it holds the server's token"],
    ];
    for (const [args, said] of refusals) {
      const run = await runFerry(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toContain(said);
    }
  }, 120_000);

  it('the agent warns about --token and not about --token-file or $FERRY_TOKEN', async () => {
    const tmp = makeTempDir('ferry-token-');
    cleanups.push(tmp.cleanup);
    const serverDir = path.join(tmp.dir, 'server');
    const server = started(['server', '--data', serverDir, '--port', '0']);
    const url = (await server.line(/listening on (http:\/\/\S+)/))[1]!;
    await server.line(/token/);
    const token = (await import('node:fs')).readFileSync(path.join(serverDir, 'token'), 'utf8').trim();
    const viaEnv = started(['agent', '--data', path.join(tmp.dir, 'a1'), '--server', url], { FERRY_TOKEN: token });
    await viaEnv.line(/^control: /, 60_000);
    expect(viaEnv.stderr()).not.toMatch(/--token shows/);
    await viaEnv.stop();
    const viaFlag = started(['agent', '--data', path.join(tmp.dir, 'a2'), '--server', url, '--token', token]);
    await viaFlag.line(/^control: /, 60_000);
    expect(viaFlag.stderr()).toMatch(/ferry agent: --token shows the token to every user of this machine \(ps\); use --token-file FILE or FERRY_TOKEN/);
    expect(viaFlag.stderr()).not.toContain(token);
  }, 120_000);
});

// A second `ferry server` on the same SQLite directory ran beside the first: two task runners,
// two sets of waiting long polls, and two garbage collections, each blind to what the other had
// just been sent. Refused now, as a second agent is; a lock left by a killed server is taken over.
describe('one server per SQLite data directory', () => {
  it('refuses a second server on the directory, naming the first, and starts after the first was killed', async () => {
    const tmp = makeTempDir('ferry-server-lock-');
    cleanups.push(tmp.cleanup);
    const dir = path.join(tmp.dir, 'server');
    const first = started(['server', '--data', dir, '--port', '0']);
    const url = (await first.line(/listening on (http:\/\/\S+)/))[1]!;
    const second = await runFerry(['server', '--data', dir, '--port', '0']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`Another Ferry server (pid ${first.child.pid}) is already running with --data ${dir}`);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    first.child.kill('SIGKILL');
    await first.exited;
    const after = started(['server', '--data', dir, '--port', '0']);
    await after.line(/listening on /);
  }, 30_000);
});
