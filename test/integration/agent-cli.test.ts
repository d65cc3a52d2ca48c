import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFerry, spawnFerry, type RunningFerry } from '../helpers/ferry-cli';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// The headless agent end to end, as a user runs it: `ferry server`, `ferry agent` and the
// CLI clients in child processes, on real temp folders.
describe('ferry agent and its CLI clients', () => {
  const tmp = makeTempDir('ferry-agent-cli-');
  const dataDir = path.join(tmp.dir, 'agent');
  const folder = path.join(tmp.dir, 'Docs');
  let server: RunningFerry;
  let agent: RunningFerry;
  let serverUrl = '';
  let token = '';

  const status = async () => {
    const run = await runFerry(['status', '--data', dataDir, '--json']);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { state: string; counts: { pending: number; done: number }; folders: Array<{ pendingDelete: unknown; undoDelete: unknown }> };
  };

  beforeAll(async () => {
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'before-start.txt'), 'written while Ferry was off');
    server = spawnFerry(['server', '--data', path.join(tmp.dir, 'server'), '--port', '0']);
    serverUrl = (await server.line(/listening on (http:\/\/\S+)/))[1]!;
    await server.line(/token/);
    token = readFileSync(path.join(tmp.dir, 'server', 'token'), 'utf8').trim();
    agent = spawnFerry(['agent', '--data', dataDir, '--server', serverUrl, '--token', token, '--folder', `${folder}=docs`, '--log-level', 'debug']);
    await agent.line(/^control: http:\/\/127\.0\.0\.1:\d+$/);
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
    tmp.cleanup();
  });

  it('prints the control URL and a UI link that carries a login code, not the token', async () => {
    const ui = (await agent.line(/^ui: (\S+)$/))[1]!;
    expect(ui).toMatch(/#login=/);
    const controlToken = readFileSync(path.join(dataDir, 'control-token'), 'utf8').trim();
    expect(agent.stdout()).not.toContain(controlToken);
    expect(agent.stdout()).not.toContain(token);
  });

  it('syncs what changed while it was off and what changes while it runs', async () => {
    writeFileSync(path.join(folder, 'while-running.txt'), 'hello');
    await waitFor(
      async () => {
        const now = await status();
        return now.counts.done >= 2 && now.state === 'idle';
      },
      { timeoutMs: 20_000 },
    );
    const queue = await runFerry(['queue', '--data', dataDir, '--state', 'done', '--json']);
    const paths = (JSON.parse(queue.stdout) as { items: Array<{ path: string }> }).items.map((i) => i.path).sort();
    expect(paths).toEqual(['before-start.txt', 'while-running.txt']);
  });

  it('pauses and resumes through the CLI', async () => {
    expect((await runFerry(['pause', '--data', dataDir])).code).toBe(0);
    expect((await status()).state).toBe('paused');
    // Sync now cannot sync while paused: it says so and fails rather than answer "requested".
    const syncWhilePaused = await runFerry(['sync-now', '--data', dataDir]);
    expect(syncWhilePaused.code).toBe(1);
    expect(syncWhilePaused.stderr).toMatch(/paused: resume it/);
    writeFileSync(path.join(folder, 'during-pause.txt'), 'waits');
    await waitFor(async () => (await status()).counts.pending === 1, { timeoutMs: 10_000 });
    expect((await runFerry(['resume', '--data', dataDir])).code).toBe(0);
    await waitFor(async () => (await status()).counts.done >= 3, { timeoutMs: 15_000 });
    // Each CLI run is a Node start: seconds apiece on a loaded machine.
  }, 90_000);

  it('ferry ui prints a fresh single-use sign-in link each time', async () => {
    const links = await Promise.all([runFerry(['ui', '--data', dataDir]), runFerry(['ui', '--data', dataDir])]);
    const urls = links.map((run) => {
      expect(run.code, run.stderr).toBe(0);
      return run.stdout.match(/^ui: (http:\/\/127\.0\.0\.1:\d+\/#login=[\w-]+)$/m)![1]!;
    });
    expect(urls[0]).not.toBe(urls[1]);
    const { origin, hash } = new URL(urls[0]!);
    const trade = (code: string) =>
      fetch(`${origin}/api/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }) });
    const code = hash.slice('#login='.length);
    expect((await trade(code)).status).toBe(200);
    // Single use: the same link is refused the second time.
    expect((await trade(code)).status).toBe(401);
  });

  // A new user's try: outside the folder `ferry history` took a path inside the folder, `ferry why`
  // did not. The CLI runs from the repository here, outside the synced folder.
  it('why takes a relative path typed outside the folder as one inside it, with one folder', async () => {
    const run = await runFerry(['why', 'before-start.txt', '--data', dataDir, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ folderId: 'docs', path: 'before-start.txt', inSync: true });
    // "." and ".." here are this directory and its parent, not the folder (review: "the synced folder itself").
    for (const here of ['.', '..']) {
      const refused = await runFerry(['why', here, '--data', dataDir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/ is not in any synced folder/);
    }
  });

  // A new-user try: an absolute path with --folder was read as a path inside the folder ("tmp/… not known here", exit 0).
  it('why takes an absolute path beside --folder as the file on disk, and refuses one outside that folder', async () => {
    const inside = await runFerry(['why', path.join(folder, 'before-start.txt'), '--folder', 'docs', '--data', dataDir, '--json']);
    expect(inside.code, inside.stderr).toBe(0);
    expect(JSON.parse(inside.stdout)).toMatchObject({ folderId: 'docs', path: 'before-start.txt', inSync: true });
    // Refused: a file outside every synced folder, named with --folder.
    const outside = await runFerry(['why', path.join(tmp.dir, 'elsewhere.txt'), '--folder', 'docs', '--data', dataDir]);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain(`${path.join(tmp.dir, 'elsewhere.txt')} is not in any synced folder`);
  });

  // A new-user try: `why Ferry/a1.txt --folder docs` typed in the folder's parent read "not known here".
  it('why with --folder takes a relative path that leads into the folder from where it is typed as that file', async () => {
    const fromParent = await runFerry(['why', 'Docs/before-start.txt', '--folder', 'docs', '--data', dataDir, '--json'], {}, { cwd: tmp.dir });
    expect(fromParent.code, fromParent.stderr).toBe(0);
    expect(JSON.parse(fromParent.stdout)).toMatchObject({ folderId: 'docs', path: 'before-start.txt', inSync: true });
    // Typed elsewhere, it is a path inside the folder, as before.
    const elsewhere = await runFerry(['why', 'before-start.txt', '--folder', 'docs', '--data', dataDir, '--json']);
    expect(JSON.parse(elsewhere.stdout)).toMatchObject({ folderId: 'docs', path: 'before-start.txt', inSync: true });
  });

  // A new-user try: `ferry status` shows a name with a tab as `bell\tname.txt`; typed back so,
  // `ferry why` answered "not known here" for a name with a backslash.
  it('why reads a name typed as ferry status shows it, escapes and all', async () => {
    writeFileSync(path.join(folder, 'bell\tname.txt'), 'a tab in its name');
    await waitFor(async () => (await runFerry(['status', '--data', dataDir])).stdout.includes('bell\\tname.txt'), { timeoutMs: 15_000, message: 'status names it' });
    const run = await runFerry(['why', 'bell\\tname.txt', '--folder', 'docs', '--data', dataDir]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n').slice(0, 3)).toEqual([
      '(bell\\tname.txt read with its escapes: \\t as a tab, \\n as a newline, \\xNN as that control character)',
      'bell\\tname.txt in folder docs: not in sync',
      '  unsyncable: Not synced: its name contains a control character; rename it to sync it',
    ]);
    rmSync(path.join(folder, 'bell\tname.txt'));
  });

  it('sync-now answers and retry --all reports how many it retried', async () => {
    expect((await runFerry(['sync-now', '--data', dataDir])).code).toBe(0);
    const retry = await runFerry(['retry', '--all', '--data', dataDir, '--json']);
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.stdout)).toEqual({ retried: 0 });
  });

  it('holds a mass delete and takes the answer from ferry mass-delete', async () => {
    const extra = Array.from({ length: 6 }, (_, i) => `bulk-${i}.txt`);
    for (const name of extra) writeFileSync(path.join(folder, name), name);
    await waitFor(async () => (await status()).counts.done >= 9 && (await status()).state === 'idle', { timeoutMs: 20_000 });
    // Paused, none of the deletes goes out before the watcher has reported them all.
    expect((await runFerry(['pause', '--data', dataDir])).code).toBe(0);
    for (const name of extra) rmSync(path.join(folder, name));
    await waitFor(async () => (await status()).counts.pending >= 6, { timeoutMs: 15_000 });
    expect((await runFerry(['resume', '--data', dataDir])).code).toBe(0);
    await waitFor(async () => (await runFerry(['status', '--data', dataDir])).stdout.includes('waiting for you: 6 of'), { timeoutMs: 15_000 });

    const wrong = await runFerry(['mass-delete', 'maybe', '--folder', 'docs', '--data', dataDir]);
    expect(wrong.code).toBe(2);
    // The agent's only folder needs no --folder (refused with one folder: a new-user try).
    const cancel = await runFerry(['mass-delete', 'cancel', '--data', dataDir]);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/Cancelled: the 6 files/);
    await waitFor(() => extra.every((name) => existsSync(path.join(folder, name))), { timeoutMs: 15_000 });

    // Deleted again and confirmed: undo is offered, and `dismiss` withdraws the offer (the banner's
    // Dismiss; with every file back the CLI had no way to drop it).
    await waitFor(async () => (await status()).state === 'idle', { timeoutMs: 20_000 });
    expect((await runFerry(['pause', '--data', dataDir])).code).toBe(0);
    for (const name of extra) rmSync(path.join(folder, name));
    await waitFor(async () => (await status()).counts.pending >= 6, { timeoutMs: 15_000 });
    expect((await runFerry(['resume', '--data', dataDir])).code).toBe(0);
    await waitFor(async () => (await status()).folders[0]?.pendingDelete != null, { timeoutMs: 15_000 });
    const confirm = await runFerry(['mass-delete', 'confirm', '--folder', 'docs', '--data', dataDir, '--json']);
    expect(confirm.code, confirm.stderr).toBe(0);
    // A new user's try: `--json` said only {"ok": true}, not which delete it let through.
    expect(JSON.parse(confirm.stdout)).toEqual({ ok: true, folderId: 'docs', answer: 'confirmed', count: 6, total: 9, side: 'scan', devices: [] });
    await waitFor(async () => (await status()).folders[0]?.undoDelete != null, { timeoutMs: 15_000 });
    const dismiss = await runFerry(['mass-delete', 'dismiss', '--folder', 'docs', '--data', dataDir]);
    expect(dismiss.code, dismiss.stderr).toBe(0);
    expect(dismiss.stdout).toMatch(/^Dismissed: undo is no longer offered for the 6 files deleted on this computer in 'docs'\./);
    expect((await status()).folders[0]?.undoDelete).toBeNull();
    const again = await runFerry(['mass-delete', 'dismiss', '--folder', 'docs', '--data', dataDir, '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { code: 'nothing_to_undo', retryable: false } });
    // Fourteen CLI processes, each a second or more on a loaded machine, plus two holds of a bulk delete.
  }, 150_000);

  it('refuses a second agent on the same data directory', async () => {
    const second = await runFerry(['agent', '--data', dataDir, '--server', serverUrl, '--token', token, '--folder', `${folder}=docs`]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/already running/);
    // Refused, it drops nothing, and says of no folder that it is no longer synced (a new-user try).
    const other = path.join(tmp.dir, 'other-folder');
    mkdirSync(other, { recursive: true });
    const third = await runFerry(['agent', '--data', dataDir, '--server', serverUrl, '--token', token, '--folder', `${other}=other`]);
    expect(third.code).toBe(1);
    expect(third.stderr).toMatch(/already running/);
    expect(third.stderr).not.toMatch(/no longer synced/);
  });

  it('never writes a token to its log', async () => {
    const log = readFileSync(path.join(dataDir, 'logs', 'agent.log'), 'utf8');
    expect(log.length).toBeGreaterThan(0);
    expect(log).not.toContain(token);
    expect(log).not.toContain(readFileSync(path.join(dataDir, 'control-token'), 'utf8').trim());
  });

  it('stops cleanly on SIGTERM: exit 0, agent.json and the lock removed, clients told', async () => {
    const { code } = await agent.stop('SIGTERM');
    expect(code).toBe(0);
    expect(existsSync(path.join(dataDir, 'agent.json'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'agent.lock'))).toBe(false);
    const after = await runFerry(['status', '--data', dataDir]);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/No Ferry agent is running/);
  });

  it('says what runs before the state at its start (a server that does not answer yet), and the state once', async () => {
    const own = path.join(tmp.dir, 'no-server-yet-folder');
    mkdirSync(own);
    const alone = spawnFerry(['agent', '--data', path.join(tmp.dir, 'no-server-yet'), '--server', 'http://127.0.0.1:1', '--token', token, '--folder', `${own}=docs`], {}, { cwd: tmp.dir, mergeStderr: true });
    try {
      await waitFor(() => /state: offline — Sync server unreachable/.test(alone.stdout()), { timeoutMs: 15_000, message: 'the state of the unreachable server' });
      // A new-user try read two warnings above "Ferry agent running"; another a warning of the
      // remote folder ("could not create … yet") and no state line: the state says it, once.
      expect(alone.stdout().indexOf('state: offline')).toBeGreaterThan(alone.stdout().indexOf('(the ui: link works once'));
      expect(alone.stdout()).not.toMatch(/remote folder/);
    } finally {
      await alone.stop();
    }
  });

  it('without --data keeps its state in $FERRY_HOME, where the client commands look, and names a folder not made yet', async () => {
    const home = path.join(tmp.dir, 'home-of-a-new-user');
    const notYet = path.join(tmp.dir, 'NotYet');
    const second = spawnFerry(['agent', '--server', serverUrl, '--token', token, '--folder', `${notYet}=later`], { FERRY_HOME: home }, { cwd: tmp.dir, mergeStderr: true });
    try {
      await second.line(/^control: http:\/\/127\.0\.0\.1:\d+$/);
      expect(second.stdout()).toContain(`data in ${home}`);
      expect(second.stdout()).toContain(`Note: ${notYet} does not exist (yet)`);
      // Said by the Note: not again as a warning of the folder's local side (a new-user try read it
      // three times). Checked below, once `ferry status` has seen the folder waiting.
      const found = await runFerry(['status', '--json'], { FERRY_HOME: home });
      expect(found.code, found.stderr).toBe(0);
      const folders = (JSON.parse(found.stdout) as { folders: Array<{ remoteId: string; error?: string; notMadeYet?: boolean }> }).folders;
      expect(folders.map((f) => f.remoteId)).toEqual(['later']);
      // Waiting for the folder, not in error (as the README says; a new-user try read "error").
      expect(folders[0]?.notMadeYet).toBe(true);
      await waitFor(async () => (await runFerry(['status'], { FERRY_HOME: home })).stdout.includes('later  waiting for the folder to be created'), { timeoutMs: 10_000, message: 'status says it waits for the folder' });
      expect(second.stdout()).not.toContain('folder problem');
      expect(second.stdout()).not.toContain('local side problem');
    } finally {
      await second.stop();
    }
    // The next start needs no flags but the token's: the server and folders are kept, the token
    // given by a flag is not written down.
    const saved = JSON.parse(readFileSync(path.join(home, 'settings.json'), 'utf8')) as Record<string, unknown>;
    expect(saved).toMatchObject({ serverUrl, folders: [{ localPath: notYet, remoteId: 'later' }] });
    expect(saved).not.toHaveProperty('token');
    const again = spawnFerry(['agent', '--token', token], { FERRY_HOME: home }, { cwd: tmp.dir });
    try {
      await again.line(/^control: http:\/\/127\.0\.0\.1:\d+$/);
      expect(again.stdout()).toContain(`  ${notYet} ⇄ later`);
    } finally {
      await again.stop();
    }
  });

  it('a server that goes away is said once, by the state (offline), not again by each retry of the pull', async () => {
    const serverDir = path.join(tmp.dir, 'server-going-away');
    const own = spawnFerry(['server', '--data', serverDir, '--port', '0']);
    const data = path.join(tmp.dir, 'agent-offline');
    const docs = path.join(tmp.dir, 'DocsOffline');
    mkdirSync(docs);
    let watcher: RunningFerry | undefined;
    try {
      const url = (await own.line(/listening on (http:\/\/\S+)/))[1]!;
      await own.line(/token/);
      watcher = spawnFerry(['agent', '--data', data, '--server', url, '--token-file', path.join(serverDir, 'token'), '--folder', `${docs}=offline`]);
      await watcher.line(/^control: http:\/\/127\.0\.0\.1:\d+$/);
      await watcher.line(/state: idle/, 20_000);
      expect((await own.stop('SIGTERM')).code).toBe(0);
      await watcher.line(/state: offline/, 20_000);
      // Pulls go on failing while the server is away (each failure has its own time).
      const failures = new Set<string>();
      await waitFor(
        async () => {
          const run = await runFerry(['status', '--data', data, '--json']);
          const line = (JSON.parse(run.stdout) as { folders: Array<{ pullError?: string | null }> }).folders[0]?.pullError;
          if (line) failures.add(line);
          return failures.size >= 2;
        },
        { timeoutMs: 20_000, message: 'two pulls failing while offline' },
      );
      const terminal = watcher.stdout() + watcher.stderr();
      expect(terminal.match(/state: offline/g)).toHaveLength(1);
      expect(terminal).not.toMatch(/pull failed|long poll failed/);
      // Started again while the server is still away: the state at start is said (a new-user try read none).
      expect((await watcher.stop('SIGTERM')).code).toBe(0);
      watcher = spawnFerry(['agent', '--data', data, '--server', url, '--token-file', path.join(serverDir, 'token'), '--folder', `${docs}=offline`]);
      await watcher.line(/state: offline — Sync server unreachable \(ECONNREFUSED\)/, 20_000);
    } finally {
      await watcher?.stop();
      await own.stop();
    }
  });

  it('blocks the server lost: the device that cannot download says so once, and the files come once the device holding them sends them again', async () => {
    const serverDir = path.join(tmp.dir, 'server-losing');
    const own = spawnFerry(['server', '--data', serverDir, '--port', '0']);
    const [aDocs, bDocs] = [path.join(tmp.dir, 'LostA'), path.join(tmp.dir, 'LostB')];
    mkdirSync(aDocs);
    mkdirSync(bDocs);
    writeFileSync(path.join(aDocs, 'minutes.txt'), 'minutes of the meeting\n');
    writeFileSync(path.join(aDocs, 'budget.csv'), 'item,cost\n');
    let a: RunningFerry | undefined;
    let b: RunningFerry | undefined;
    try {
      const url = (await own.line(/listening on (http:\/\/\S+)/))[1]!;
      await own.line(/token/);
      const agentFlags = (name: string, docs: string) => ['agent', '--data', path.join(tmp.dir, name), '--server', url, '--token-file', path.join(serverDir, 'token'), '--folder', `${docs}=lost`];
      a = spawnFerry(agentFlags('lost-a', aDocs));
      await a.line(/state: idle/, 20_000);
      await waitFor(() => readdirSync(path.join(serverDir, 'blocks', 'packs')).length > 0, { timeoutMs: 10_000, message: 'the blocks stored in a pack' });
      // The server loses them: its pack file is removed behind its back.
      for (const pack of readdirSync(path.join(serverDir, 'blocks', 'packs'))) rmSync(path.join(serverDir, 'blocks', 'packs', pack));
      b = spawnFerry(agentFlags('lost-b', bDocs));
      // B's pulls fail on the missing blocks, again and again; each path is said once.
      const failures = new Set<string>();
      await waitFor(
        async () => {
          const run = await runFerry(['status', '--data', path.join(tmp.dir, 'lost-b'), '--json']);
          const line = (JSON.parse(run.stdout) as { folders: Array<{ pullError?: string | null }> }).folders[0]?.pullError;
          if (line) failures.add(line);
          return failures.size >= 2;
        },
        { timeoutMs: 20_000, message: 'two pulls of B failing' },
      );
      const said = b.stdout() + b.stderr();
      expect(said.match(/pull item failed folder=lost path=minutes\.txt code=not_found/g)).toHaveLength(1);
      expect(said.match(/pull failed folder=lost code=not_found/g)).toHaveLength(1);
      // A edits a file: its report after the push is answered with the lost blocks, and it sends them.
      writeFileSync(path.join(aDocs, 'later.txt'), 'a later edit');
      await waitFor(() => existsSync(path.join(bDocs, 'minutes.txt')) && existsSync(path.join(bDocs, 'budget.csv')), { timeoutMs: 30_000, message: 'B has both files' });
      expect(readFileSync(path.join(bDocs, 'minutes.txt'), 'utf8')).toBe('minutes of the meeting\n');
    } finally {
      await b?.stop();
      await a?.stop();
      await own.stop();
    }
  });

  it('comes back on the same control port, so an open tab finds it again', async () => {
    const before = readFileSync(path.join(dataDir, 'control-port'), 'utf8').trim();
    expect(agent.stdout()).toContain(`control: http://127.0.0.1:${before}`);
    const again = spawnFerry(['agent', '--data', dataDir, '--server', serverUrl, '--token', token, '--folder', `${folder}=docs`]);
    try {
      expect((await again.line(/^control: (\S+)$/))[1]).toBe(`http://127.0.0.1:${before}`);
    } finally {
      await again.stop();
    }
  });
});

describe('ferry agent settings validation', () => {
  const tmp = makeTempDir('ferry-agent-settings-');
  afterAll(() => tmp.cleanup());

  it('refuses invalid flags naming the field, and starts nothing', async () => {
    const dataDir = path.join(tmp.dir, 'a');
    const run = await runFerry(['agent', '--data', dataDir, '--server', 'ftp://example', '--token', 't', '--concurrency', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/serverUrl: enter an http/);
    expect(run.stderr).toMatch(/concurrency:/);
    expect(existsSync(path.join(dataDir, 'agent.lock'))).toBe(false);
  });

  it('reads --config, lets flags win, and names the bad field of the file', async () => {
    const config = path.join(tmp.dir, 'ferry.json');
    writeFileSync(config, JSON.stringify({ serverUrl: 'http://127.0.0.1:9', token: 'x', folders: [{ localPath: tmp.dir, remoteId: '../up' }] }));
    const bad = await runFerry(['agent', '--data', path.join(tmp.dir, 'b'), '--config', config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/folders\.0\.remoteId/);

    writeFileSync(config, '{ not json');
    const garbled = await runFerry(['agent', '--data', path.join(tmp.dir, 'c'), '--config', config]);
    expect(garbled.code).toBe(2);
    expect(garbled.stderr).toMatch(/not valid JSON/);
  });

  it('a first start with no server says which flags to give, not which settings fields are missing', async () => {
    const run = await runFerry(['agent'], { FERRY_HOME: path.join(tmp.dir, 'fresh-home') });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`no sync server yet for ${path.join(tmp.dir, 'fresh-home')}: give --server URL with --pair CODE`);
    expect(run.stderr).not.toContain('serverUrl');
    expect(existsSync(path.join(tmp.dir, 'fresh-home', 'agent.lock'))).toBe(false);
  });

  it('explains every flag in --help', async () => {
    const help = await runFerry(['agent', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--data', '--server', '--token', '--folder', '--config', '--control-port', '--log-level']) expect(help.stdout).toContain(flag);
  });
});
