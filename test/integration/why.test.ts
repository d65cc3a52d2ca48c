import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { SyncApiClient } from '../../main/remote';
import { startServer, type RunningServer } from '../../server/main';
import { FaultProxy } from '../fakes/fault-proxy';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Issue 17, "why": for any path the agent says what it knows and why it is not in sync, each
// reason reached here through the real condition: an ignore rule (from .ferryignore and from
// the settings), a server that fails (uploads waiting to retry, an upload refused for good, an
// upload held in flight, pulls refused, a pulled file whose blocks cannot be read), a path the
// pull refuses as unsafe, a pause, a bulk delete held, a conflict with another device.
// Refused: a path outside every folder. A real agent, the real server behind a proxy.

/** Another device writes a file on the server; returns the revision. */
async function writeAs(client: SyncApiClient, p: string, text: string, base: string | null): Promise<string> {
  const bytes = Buffer.from(text);
  const hash = createHash('sha256').update(bytes).digest('hex');
  await client.putBlock(hash, bytes);
  const reply = await client.submitBatch('docs', [{ key: 'k', action: 'upsert', path: p, size: bytes.length, mtime: Date.now(), blocks: [hash], baseRevision: base }]);
  const result = 'results' in reply ? reply.results.k : undefined;
  if (!result?.ok) throw new Error(`the other device's write failed: ${JSON.stringify(result)}`);
  return result.revision;
}

describe('why a path is not in sync', () => {
  const tmp = makeTempDir('ferry-why-');
  const folder = path.join(tmp.dir, 'Docs');
  let server: RunningServer;
  let proxy: FaultProxy;
  let agent: Agent;
  let other: SyncApiClient;

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    proxy = await FaultProxy.start({ target: server.url });
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, '.ferryignore'), '*.log\n');
    agent = await createAgent({
      dataDir: path.join(tmp.dir, 'data'),
      deviceName: 'laptop',
      settings: testSettings(proxy.url, server.token, [{ localPath: folder, remoteId: 'docs' }], { ignoreRules: ['*.bak'], retryLimit: 10 }),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 50 }, pull: { pollTimeoutSec: 1, retryBaseMs: 200, retryMaxMs: 1000 }, push: { backoffBaseMs: 200, backoffCapMs: 400 } },
    });
    await agent.start();
    other = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'desktop-2' });
  }, 30_000);

  afterAll(async () => {
    await agent.stop();
    other.close();
    await proxy.close();
    await server.close();
    tmp.cleanup();
  });

  const why = (p: string) => agent.handlers.explainPath({ path: p, folderId: 'docs' });
  const codes = async (p: string) => (await why(p)).reasons.map((r) => r.code);
  const queued = (p: string) => agent.handlers.listQueue({ folderId: 'docs', offset: 0, limit: 1000 }).then((q) => q.items.find((i) => i.path === p));
  /** Sync now (a pull), then why's answer once its first reason is `code`. */
  const pulledAndSaid = async (p: string, code: string, also: (a: Awaited<ReturnType<typeof why>>) => boolean = () => true) => {
    await agent.handlers.syncNow({}).catch(() => undefined);
    return waitFor(async () => {
      const a = await why(p);
      return a.reasons[0]?.code === code && also(a) ? a : undefined;
    }, { timeoutMs: 15_000, message: `${p}: ${code}` });
  };
  const settled = (p: string) => waitFor(async () => (await queued(p))?.state === 'done', { timeoutMs: 15_000, message: `${p} synced` });

  it('in sync: the revision this device has; by absolute path too', async () => {
    writeFileSync(path.join(folder, 'notes.txt'), 'hello');
    await settled('notes.txt');
    const answer = await why('notes.txt');
    expect(answer).toMatchObject({ inSync: true, local: { exists: true, kind: 'file', size: 5 }, synced: { size: 5 } });
    // The writer by name: this device, as its agent is called.
    expect(answer.reasons[0]!.message).toMatch(/^In sync: this device has the server's revision \d+, written by laptop$/);
    expect((await agent.handlers.explainPath({ path: path.join(folder, 'notes.txt') })).path).toBe('notes.txt');
  });

  it('a folder made here is in sync once its own echo comes back from the server, never "left as it is"', async () => {
    mkdirSync(path.join(folder, 'made-here'));
    writeFileSync(path.join(folder, 'made-here', 'inner.txt'), 'inside');
    await settled('made-here');
    await settled('made-here/inner.txt');
    // The feed is in commit order: a later change of another device pulled means the folder's
    // own entry (its echo, DU1) was read before it.
    await writeAs(other, 'after-the-echo.txt', 'later', null);
    await agent.handlers.syncNow({}).catch(() => undefined);
    await waitFor(() => existsSync(path.join(folder, 'after-the-echo.txt')), { timeoutMs: 15_000, message: "the other device's later file pulled" });
    const answer = await why('made-here');
    expect(answer.inSync).toBe(true);
    expect(answer.reasons.map((r) => r.code)).not.toContain('pull_refused');
    const mine = (await agent.handlers.listDevices({ folderId: 'docs' }))[0]!.devices.find((d) => d.self);
    expect(mine?.failures.map((f) => f.path) ?? []).not.toContain('made-here');
  });

  it('ignored: names the rule and where it comes from', async () => {
    writeFileSync(path.join(folder, 'debug.log'), 'x');
    writeFileSync(path.join(folder, 'old.bak'), 'x');
    expect((await why('debug.log')).reasons).toEqual([{ code: 'ignored', message: 'Ignored by the rule "*.log" from .ferryignore' }]);
    expect((await why('old.bak')).reasons).toEqual([{ code: 'ignored', message: 'Ignored by the rule "*.bak" from the settings' }]);
  });

  // Refused by git without a word, said here: a rule that can match nothing (docs/conflict-rules.md,
  // "Rules that match nothing"), named beside the verdict of a path no rule ignores, and in Activity.
  it('dead_rule: a .ferryignore rule that can match nothing is named beside the verdict and in Activity', async () => {
    const rulesFile = path.join(folder, '.ferryignore');
    writeFileSync(rulesFile, '*.log\n# drafts\n[draft\n');
    try {
      const answer = await why('draft-notes.txt');
      expect(answer.reasons[0]!.code).toBe('unknown');
      expect(answer.reasons.at(-1)).toEqual({
        code: 'dead_rule',
        message: 'No ignore rule matches it; one rule matches nothing: "[draft" (.ferryignore line 3) has a [ without its ], so it matches nothing: write \\[ for a [ in a name',
      });
      // An ignored path is said as ignored, with nothing beside it.
      expect(await codes('debug.log')).toEqual(['ignored']);
      // Once the scan reads the rules anew (the watcher sees the file change).
      await waitFor(async () => (await agent.handlers.listActivity({ limit: 50 })).some((e) => e.message === 'The ignore rule "[draft" of .ferryignore line 3 has a [ without its ], so it matches nothing: write \\[ for a [ in a name'), { timeoutMs: 10_000, message: 'the dead rule in Activity' });
    } finally {
      writeFileSync(rulesFile, '*.log\n');
    }
    expect(await codes('draft-notes.txt')).toEqual(['unknown']);
  });

  // A new user's try: `ferry why` said a file whose name is not UTF-8 was "not on disk here".
  it('a name that cannot be synced says why, whether on disk or read back as another name', async () => {
    writeFileSync(path.join(folder, 'ring\u0007.txt'), 'x');
    expect((await why('ring\u0007.txt')).reasons).toEqual([{ code: 'unsyncable', message: 'Not synced: its name contains a control character; rename it to sync it' }]);
    // Not UTF-8 ("é" in Latin-1): found by its bytes, on disk; deleted, nothing is known of it
    // (refused, from a new-user try: "Not synced: its name is not valid UTF-8 … not on disk" for one deleted).
    const bytes = Buffer.concat([Buffer.from(`${folder}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]);
    writeFileSync(bytes, 'latin');
    const there = await why('caf\uFFFD.txt');
    expect(there.reasons).toEqual([{ code: 'unsyncable', message: 'Not synced: its name is not valid UTF-8; rename it to sync it' }]);
    expect(there.local).toMatchObject({ exists: true, kind: 'file', size: 5 });
    rmSync(bytes);
    expect((await why('caf\uFFFD.txt')).reasons.map((r) => r.code)).toEqual(['unknown']);
    // Below a folder whose name is not UTF-8: found step by step (review: "unknown").
    const dir = Buffer.concat([Buffer.from(`${folder}/d`), Buffer.from([0xe9])]);
    mkdirSync(dir);
    writeFileSync(Buffer.concat([dir, Buffer.from('/x.txt')]), 'x');
    const below = await why('d\uFFFD/x.txt');
    expect(below.reasons).toEqual([{ code: 'unsyncable', message: 'Not synced: its name is not valid UTF-8; rename it to sync it' }]);
    expect(below.local).toMatchObject({ exists: true, kind: 'file' });
    rmSync(dir, { recursive: true });
  });

  it('unknown, and a path outside every folder is refused', async () => {
    expect(await codes('never/was.txt')).toEqual(['unknown']);
    await expect(agent.handlers.explainPath({ path: path.join(tmp.dir, 'elsewhere.txt') })).rejects.toMatchObject({ code: 'not_found' });
  });

  // Found by a new-user try: `ferry why .` inside the folder failed inside Ferry ("internal"), and
  // the folder's own path read "not in any synced folder".
  it('"." and ".." are steps of a path, and the folder itself is refused as such, not as a path elsewhere', async () => {
    writeFileSync(path.join(folder, 'steps.txt'), 'x');
    await waitFor(async () => (await why('steps.txt')).inSync, { timeoutMs: 15_000, message: 'steps.txt in sync' });
    expect((await why('./sub/../steps.txt')).path).toBe('steps.txt');
    const itself = { code: 'folder_root', message: expect.stringContaining("is the synced folder 'docs' itself") };
    await expect(why('.')).rejects.toMatchObject(itself);
    await expect(why('./')).rejects.toMatchObject(itself);
    await expect(agent.handlers.explainPath({ path: folder })).rejects.toMatchObject(itself);
    await expect(agent.handlers.explainPath({ path: `${folder}/` })).rejects.toMatchObject(itself);
    // Refused: a path that leaves the folder is not one in it.
    await expect(why('../elsewhere.txt')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('waiting to retry while the server fails, with the attempt and the error', async () => {
    const heal = proxy.add({ method: 'POST', path: /\/sync$/, times: Infinity, action: { kind: 'status', status: 500, code: 'internal', message: 'disk on fire' } });
    try {
      writeFileSync(path.join(folder, 'draft.txt'), 'draft');
      await waitFor(async () => (await queued('draft.txt'))?.state === 'retry_wait', { timeoutMs: 15_000, message: 'draft.txt waits to retry' });
      const answer = await why('draft.txt');
      expect(answer.inSync).toBe(false);
      expect(answer.reasons[0]).toMatchObject({ code: 'retry_wait', message: expect.stringMatching(/^Its upload waits to retry \(attempt \d+, next try .+\): internal/) });
    } finally {
      heal();
    }
    await settled('draft.txt');
    expect(await codes('draft.txt')).toEqual(['in_sync']);
  });

  it('failed: an upload the server refuses for good, until Retry sends it again', async () => {
    const heal = proxy.add({ method: 'POST', path: /\/sync$/, times: Infinity, action: { kind: 'status', status: 422, code: 'invalid_request', message: 'no such thing' } });
    let id: number;
    try {
      writeFileSync(path.join(folder, 'refused-up.txt'), 'up');
      id = (await waitFor(async () => ((await queued('refused-up.txt'))?.state === 'failed' ? queued('refused-up.txt') : undefined), { timeoutMs: 15_000, message: 'upload failed' }))!.id;
      const answer = await why('refused-up.txt');
      expect(answer.inSync).toBe(false);
      expect(answer.reasons[0]).toMatchObject({ code: 'failed', message: expect.stringMatching(/^Its upload failed after 1 attempt \(invalid_request: .*\); Retry sends it again$/) });
    } finally {
      heal();
    }
    await agent.handlers.retry({ id });
    await settled('refused-up.txt');
    expect(await codes('refused-up.txt')).toEqual(['in_sync']);
  });

  it('in flight: an upload the server is still answering', async () => {
    // The server takes its time over the commit: the upload is in flight meanwhile.
    const heal = proxy.add({ method: 'POST', path: /\/sync$/, times: 1, action: { kind: 'delay', ms: 4000 } });
    try {
      writeFileSync(path.join(folder, 'slow.txt'), 'slow');
      await waitFor(async () => (await queued('slow.txt'))?.state === 'in_flight', { timeoutMs: 15_000, message: 'slow.txt in flight' });
      const answer = await why('slow.txt');
      expect(answer.inSync).toBe(false);
      expect(answer.reasons[0]).toEqual({ code: 'in_flight', message: 'Its upload is being sent now' });
    } finally {
      heal();
    }
    await settled('slow.txt');
  });

  it("the folder's failing pull: a change on the server the pull never brings names the pull's error, not the next pull", async () => {
    // The server refuses this device's reads of the changes feed (its long poll still answers).
    const heal = proxy.add({ method: 'GET', path: /\/folders\/docs\/changes$/, times: Infinity, action: { kind: 'status', status: 503, code: 'unavailable', message: 'feed under maintenance' } });
    let fresh: string;
    try {
      fresh = await writeAs(other, 'from-elsewhere.txt', 'theirs', null);
      await agent.handlers.syncNow({}).catch(() => undefined);
      const answer = await waitFor(async () => {
        const a = await why('from-elsewhere.txt');
        return a.lastPullError?.nextTryAt ? a : undefined;
      }, { timeoutMs: 15_000, message: 'the failed pull said' });
      expect(existsSync(path.join(folder, 'from-elsewhere.txt'))).toBe(false);
      expect(answer.inSync).toBe(false);
      expect(answer.reasons.map((r) => r.code)).toEqual(['on_server', 'pull_failed']);
      expect(answer.reasons[0]!.message).toBe(`On the server at revision ${fresh} written by desktop-2; this device has not got it: the pull that would bring it here fails`);
      expect(answer.reasons[1]!.message).toMatch(/^The folder's pulls fail, so the server's newest version may not be here: unavailable: feed under maintenance \(last failed .+; retryable; next try .+\)$/);
      expect(answer.lastPullError).toMatchObject({ code: 'unavailable', message: 'feed under maintenance', retryable: true });
      expect(Date.parse(answer.lastPullError!.nextTryAt!)).toBeGreaterThanOrEqual(Date.parse(answer.lastPullError!.at));
      // A path the server confirms this device has at its newest is in sync all the same.
      expect(await codes('notes.txt')).toEqual(['in_sync']);
      // The CLI's words, as `ferry why` prints them.
      const { formatExplanation } = await import('../../main/control/commands/why');
      expect(formatExplanation(answer).join('\n')).toContain('pull_failed: The folder\'s pulls fail');
      // The status says it too, not just "ok" and an old last sync.
      // One status for both checks: the pull fails again every second or so, with a new time.
      const statusNow = agent.status();
      const folderNow = statusNow.folders.find((f) => f.id === 'docs')!;
      expect(folderNow.pullError).toMatch(/^unavailable: feed under maintenance \(last failed .+\)$/);
      const { formatStatus } = await import('../../main/control/commands/status');
      expect(formatStatus(statusNow)).toContain(`    pulls failing: ${folderNow.pullError}; 'ferry why PATH' says what it keeps from here`);

      // The server down (an upload finds it so, and the pulls wait for it): the next try waits for
      // it, at no set time (a new-user try read "trying again now" and a next try in the past for
      // as long as the server was down).
      await proxy.goOffline();
      try {
        writeFileSync(path.join(folder, 'while-down.txt'), 'goes once the server answers');
        const offline = await waitFor(async () => {
          const a = await why('from-elsewhere.txt');
          return agent.status().state === 'offline' && a.lastPullError?.untilOnline ? a : undefined;
        }, { timeoutMs: 15_000, message: 'the pulls wait for the server' });
        expect(offline.lastPullError).toMatchObject({ nextTryAt: null, untilOnline: true });
        expect(offline.reasons.find((r) => r.code === 'pull_failed')!.message).toMatch(/; next try once the server answers\)$/);
        expect(agent.status().folders.find((f) => f.id === 'docs')!.pullError).toMatch(/\(last failed .+, tried again once the server answers\)$/);
      } finally {
        await proxy.goOnline();
      }
    } finally {
      heal();
    }
    await waitFor(() => existsSync(path.join(folder, 'from-elsewhere.txt')), { timeoutMs: 15_000, message: 'pulled once the server answers' });
    await waitFor(async () => (await why('from-elsewhere.txt')).inSync, { timeoutMs: 10_000, message: 'in sync once pulled' });
    expect((await why('from-elsewhere.txt')).lastPullError).toBeNull();
    expect(agent.status().folders.find((f) => f.id === 'docs')!.pullError).toBeNull();
  });

  // Chaos --kinds seed 60604: another device moved a file away while this one could not reach the
  // server; its why said "In sync: this device has the server's revision 55" for as long.
  it('chaos --kinds seed 60604: a file as its last pull left it is not said in sync while the server cannot be reached', async () => {
    await waitFor(async () => (await why('notes.txt')).inSync, { timeoutMs: 15_000, message: 'notes.txt in sync' });
    await proxy.goOffline();
    try {
      // An upload finds the server gone (the agent's state: offline).
      writeFileSync(path.join(folder, 'while-down-again.txt'), 'goes once the server answers');
      await waitFor(() => agent.status().state === 'offline', { timeoutMs: 15_000, message: 'offline' });
      const answer = await why('notes.txt');
      expect(answer.inSync).toBe(false);
      expect(answer.reasons[0]!.code).toBe('offline');
      expect(answer.reasons[0]!.message).toMatch(/: this device has revision \S+ from its last pull; whether the server has a newer one is not known until it answers$/);
    } finally {
      await proxy.goOnline();
    }
    await waitFor(async () => (await why('notes.txt')).inSync, { timeoutMs: 15_000, message: 'in sync once the server answers' });
  });

  it('a pulled file whose blocks the server cannot read: the path says its own failure', async () => {
    const heal = proxy.add({ path: /\/blocks\/(fetch|[0-9a-f]{64})$/, method: 'POST', times: Infinity, action: { kind: 'status', status: 500, code: 'internal', message: 'block store unreadable' } });
    const healGet = proxy.add({ path: /\/blocks\/[0-9a-f]{64}$/, method: 'GET', times: Infinity, action: { kind: 'status', status: 500, code: 'internal', message: 'block store unreadable' } });
    try {
      const revision = await writeAs(other, 'unreadable.txt', 'bytes the server lost for now', null);
      const answer = await pulledAndSaid('unreadable.txt', 'pull_failed');
      expect(existsSync(path.join(folder, 'unreadable.txt'))).toBe(false);
      expect(answer.reasons.map((r) => r.code)).toEqual(['pull_failed', 'on_server']);
      expect(answer.reasons[0]!.message).toMatch(/^Its pull failed at .+ \(internal: .*block store unreadable.*\); the pull (tries again at .+|runs again)$/);
      expect(answer.reasons[1]!.message).toBe(`On the server at revision ${revision} written by desktop-2; this device has not got it`);
      expect(answer.lastPullError).toMatchObject({ code: 'internal', retryable: true });
      // This path's, and possibly another the same pull could not apply yet.
      expect(answer.lastPullError!.message).toMatch(/^(1 change|\d+ changes) could not be applied; the pull will run again/);
    } finally {
      heal();
      healGet();
    }
    await waitFor(async () => (await why('unreadable.txt')).inSync, { timeoutMs: 15_000, message: 'in sync once the blocks read again' });
    expect(readFileSync(path.join(folder, 'unreadable.txt'), 'utf8')).toBe('bytes the server lost for now');
  });

  // A new-user try read "On disk but not recorded yet: the next scan picks it up" for a link, for good.
  it('a symbolic link is said to be one that Ferry does not sync, not a path the next scan picks up', async () => {
    symlinkSync('somewhere', path.join(folder, 'a-link'));
    await agent.handlers.syncNow({ folderId: 'docs' });
    const answer = await why('a-link');
    expect(answer.reasons).toEqual([{ code: 'unsyncable', message: 'A symbolic link: Ferry does not follow links nor sync them; what it points to stays where it is' }]);
    expect(answer.inSync).toBe(false);
    // What it is on disk, said as such (a new-user try read "on disk: other").
    expect(answer.local).toMatchObject({ exists: true, kind: 'link' });
    const { formatExplanation } = await import('../../main/control/commands/why');
    expect(formatExplanation(answer).join('\n')).toMatch(/on disk: symbolic link, /);
    unlinkSync(path.join(folder, 'a-link'));
  });

  it('a path the pull refuses as unsafe: under a link out of the folder, never written through it', async () => {
    const outside = path.join(tmp.dir, 'outside');
    mkdirSync(outside, { recursive: true });
    symlinkSync(outside, path.join(folder, 'linked'));
    const revision = await writeAs(other, 'linked/escape.txt', 'not through a link', null);
    // Once a pull got through: an earlier test's failed pull is no longer the folder's last word.
    const answer = await pulledAndSaid('linked/escape.txt', 'pull_refused', (a) => a.lastPullError === null);
    expect(answer.reasons[0]!.message).toMatch(/^The pull left it as it is at .+: Refusing 'linked\/escape\.txt': /);
    expect(answer.reasons.slice(1)).toEqual([{ code: 'on_server', message: `On the server at revision ${revision} written by desktop-2; this device has not got it` }]);
    // Refused, not failed: the pull went on (its token moved past the path).
    expect(answer.lastPullError).toBeNull();
    expect(readdirSync(outside)).toEqual([]);
    // The device's digest lists it as failing here, for every device to see.
    const self = await waitFor(async () => {
      const mine = (await agent.handlers.listDevices({ folderId: 'docs' }))[0]!.devices.find((d) => d.self);
      return mine?.failures.some((f) => f.path === 'linked/escape.txt') ? mine : undefined;
    }, { timeoutMs: 10_000, message: 'the refusal in the digest' });
    expect(self.failures).toContainEqual({ path: 'linked/escape.txt', code: 'unsafe_path' });
    expect(self.failedCount).toBeGreaterThanOrEqual(1);
    // The folder says it too, not "everything in sync" (a new-user try).
    const shown = agent.status().folders.find((f) => f.id === 'docs')!.unsyncable?.shown ?? [];
    expect(shown.find((n) => n.path === 'linked/escape.txt')?.reason).toMatch(/^the pull left it as it is: Refusing 'linked\/escape\.txt': /);
    unlinkSync(path.join(folder, 'linked'));
  });

  it('pending while paused says it waits for the resume', async () => {
    await agent.handlers.pause({});
    try {
      writeFileSync(path.join(folder, 'later.txt'), 'later');
      await waitFor(async () => (await queued('later.txt'))?.state === 'pending', { timeoutMs: 10_000, message: 'later.txt queued' });
      const answer = await why('later.txt');
      // And the server has nothing of it yet.
      expect(answer.reasons.map((r) => r.code)).toEqual(['pending', 'paused', 'not_on_server']);
      expect(answer.reasons[0]!.message).toContain('waiting for you to resume');
    } finally {
      await agent.handlers.resume({});
    }
    await settled('later.txt');
  });

  it('a conflict names the other device and where this device’s version went', async () => {
    writeFileSync(path.join(folder, 'shared.txt'), 'base');
    await settled('shared.txt');
    await agent.handlers.pause({});
    writeFileSync(path.join(folder, 'shared.txt'), 'mine');
    await waitFor(async () => (await queued('shared.txt'))?.state === 'pending', { timeoutMs: 10_000, message: 'local edit queued' });
    const revision = (await why('shared.txt')).synced!.revision;
    await writeAs(other, 'shared.txt', 'theirs', revision);
    await agent.handlers.resume({});
    await agent.handlers.syncNow({});
    const copy = await waitFor(() => readdirSync(folder).find((f) => f.startsWith('shared (conflict')), { timeoutMs: 15_000, message: 'conflict copy' });
    await waitFor(() => readFileSync(path.join(folder, 'shared.txt'), 'utf8') === 'theirs', { timeoutMs: 15_000 });
    await waitFor(async () => (await codes('shared.txt')).includes('conflict'), { timeoutMs: 10_000, message: 'conflict reason' });
    const answer = await why('shared.txt');
    expect(answer.reasons.find((r) => r.code === 'conflict')!.message).toBe(
      `Changed here and on desktop-2: desktop-2's version is here, this device's was kept as ${copy}`,
    );
    expect((await why(copy!)).reasons.map((r) => r.code)).toContain('conflict');
    // Settled by the user (the copy removed): no longer said.
    unlinkSync(path.join(folder, copy!));
    expect(await codes('shared.txt')).not.toContain('conflict');
  });

  // A new user's try: `why` on a conflict copy another device made (it came here through the pull)
  // said nothing of what it was.
  it('a conflict copy another device made, pulled here, says so from its name', async () => {
    const copy = 'plan (conflict from desktop-2 2026-12-06 141025).md';
    await writeAs(other, copy, "desktop-2's version", null);
    const answer = await pulledAndSaid(copy, 'in_sync', (a) => a.reasons.some((r) => r.code === 'conflict'));
    expect(answer.reasons.find((r) => r.code === 'conflict')!.message).toBe(
      "A conflict copy keeping desktop-2's version of plan.md (its name's time: 2026-12-06 14:10:25 UTC), kept when another change took that name; keep the one you want and delete the other (to keep the copy's version, rename the copy to the original's name)",
    );
    // The name it is a copy of says where the other version is (the pull lists the copy here too).
    expect((await why('plan.md')).reasons.find((r) => r.code === 'conflict')?.message).toBe(
      `desktop-2's version of it is kept beside it as ${copy}, made there when another change took this name; keep the one you want and delete the other (to keep the copy's version, rename the copy to the original's name)`,
    );
  });

  it('on the server at revision R written by another device, by its name, while this device has not applied it', async () => {
    writeFileSync(path.join(folder, 'plan.txt'), 'first');
    await settled('plan.txt');
    const mine = (await why('plan.txt')).synced!.revision;
    // A device with a random id, named by its digest: why names it, never by its id.
    const deviceId = '3f2a9c1b-0000-4000-8000-000000000001';
    const desktop = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId });
    try {
      await desktop.reportDevice('docs', { name: 'desktop-3', version: 'ferry/test', pending: 0, failedCount: 0, failures: [] });
      await agent.handlers.pause({});
      const write = (p: string, text: string, base: string | null) => writeAs(desktop, p, text, base);
      const edited = await write('plan.txt', 'second', mine);
      const fresh = await write('theirs-only.txt', 'new there', null);

      // Paused: the next pull waits for the resume (found by a new-user try: said as if it came by itself).
      const changed = await why('plan.txt');
      expect(changed.inSync).toBe(false);
      expect(changed.reasons[0]).toEqual({ code: 'on_server', message: `On the server at revision ${edited} written by desktop-3; this device has revision ${mine}: the next pull brings it here once you resume` });
      const absent = await why('theirs-only.txt');
      expect(absent.inSync).toBe(false);
      expect(absent.reasons).toEqual([{ code: 'on_server', message: `On the server at revision ${fresh} written by desktop-3; this device has not got it: the next pull brings it here once you resume` }]);
      // Its history names the writer the same way (the id stays beside it).
      const { items: versions } = await agent.handlers.getHistory({ folderId: 'docs', path: 'plan.txt' });
      expect(versions.map((v) => v.deviceName)).toEqual(['desktop-3', 'laptop']);
      expect(versions[0]!.device).toBe(deviceId);

      // Not on the server yet: a new file here, held by the pause.
      writeFileSync(path.join(folder, 'unsent.txt'), 'only here');
      await waitFor(async () => (await queued('unsent.txt'))?.state === 'pending', { timeoutMs: 10_000, message: 'unsent.txt queued' });
      const unsent = await why('unsent.txt');
      expect(unsent.reasons.map((r) => r.code)).toEqual(['pending', 'paused', 'not_on_server']);
      expect(unsent.reasons[2]!.message).toBe('Not on the server yet');
    } finally {
      desktop.close();
      await agent.handlers.resume({});
    }
    await waitFor(() => existsSync(path.join(folder, 'theirs-only.txt')), { timeoutMs: 15_000, message: 'pulled after the resume' });
    await settled('unsent.txt');
    await waitFor(async () => (await why('theirs-only.txt')).inSync, { timeoutMs: 10_000, message: 'in sync once pulled' });
    expect((await why('theirs-only.txt')).reasons[0]!.message).toMatch(/written by desktop-3$/);
  });

  it('held: a delete waiting in a bulk delete the user has not answered', async () => {
    // More than half the folder's files (the tests above left a dozen or so): a bulk delete.
    const names = Array.from({ length: 30 }, (_, i) => `bulk-${i}.txt`);
    for (const n of names) writeFileSync(path.join(folder, n), n);
    for (const n of names) await settled(n);
    for (const n of names) unlinkSync(path.join(folder, n));
    await waitFor(() => agent.status().folders[0]?.state === 'paused_mass_delete', { timeoutMs: 15_000, message: 'held' });
    await waitFor(async () => (await codes('bulk-0.txt')).includes('held'), { timeoutMs: 10_000, message: 'held reason' });
    const answer = await why('bulk-0.txt');
    expect(answer.reasons[0]).toEqual({ code: 'held', message: 'Its delete is held with a bulk delete on this computer until you confirm or cancel it' });
    expect(answer.local.exists).toBe(false);
    // The server's part: this device had the file and deleted it. Refused: "this device has not got it".
    const revision = (await other.changesPage('docs', { limit: 10_000 })).items.find((i) => i.path === 'bulk-0.txt')!.revision;
    expect(answer.reasons).toContainEqual({ code: 'on_server', message: `On the server at revision ${revision} written by laptop; this device deleted it and has not sent the delete yet` });
    await agent.handlers.cancelMassDelete({ folderId: 'docs' });
    await waitFor(() => names.every((n) => existsSync(path.join(folder, n))), { timeoutMs: 20_000, message: 'restored' });
  });
});
