import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as history from '../../main/control/commands/history';
import * as restore from '../../main/control/commands/restore';
import { startControlServer, type ControlServer } from '../../main/control/control-server';
import { ensureControlToken, writeAgentInfo } from '../../main/control/control-token';
import type { Agent } from '../../main/engine/agent';
import { SyncApiClient } from '../../main/remote';
import { toAgentService } from '../../main/ui-adapter/agent-service';
import { startServer, type RunningServer } from '../../server/main';
import { startTestAgent } from '../helpers/agent-settings';
import { captureIo } from '../helpers/agents-on-server';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// A file's History tells its versions apart by content (a short fingerprint each, and which ones
// hold the same bytes), and every form of `ferry restore --dry-run` lists what it would do and
// changes nothing. A real agent on a real server over loopback, driven through the commands.
describe('history fingerprints and restore dry runs', () => {
  const tmp = makeTempDir('ferry-history-content-');
  const folder = path.join(tmp.dir, 'Docs');
  const data = path.join(tmp.dir, 'agent');
  let server: RunningServer;
  let agent: Agent;
  let observer: SyncApiClient;
  let control: ControlServer;

  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  /** The fingerprint the server's hash gives a small file (one block): SHA-256 over its block's SHA-256. */
  const fingerprint = (content: string) => sha(sha(content)).slice(0, 8);
  const read = (rel: string) => readFileSync(path.join(folder, rel), 'utf8');
  const revisions = async (rel: string) => (await observer.historyPage('docs', { path: rel })).items.map((i) => i.revision);
  const serverHas = async (rel: string, content: string) => {
    const [newest] = (await observer.historyPage('docs', { path: rel })).items;
    return newest !== undefined && !newest.deleted && newest.contentHash === sha(sha(content));
  };
  const idle = () => waitFor(() => agent.status().state === 'idle' && agent.status().counts.pending === 0 && agent.status().counts.in_flight === 0, { timeoutMs: 15_000, message: 'idle' });
  const write = async (rel: string, content: string) => {
    mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
    writeFileSync(path.join(folder, rel), content);
    await waitFor(() => serverHas(rel, content), { timeoutMs: 15_000, message: `${rel} on the server` });
  };
  const run = async (command: typeof restore | typeof history, args: string[], now?: number) => {
    const io = captureIo();
    if (now !== undefined) Object.assign(io, { now: () => now });
    const code = await command.run([...args, '--data', data], io);
    return { code, out: io.stdout, err: io.stderr };
  };

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    observer = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'observer' });
    mkdirSync(folder);
    agent = await startTestAgent(data, { url: server.url, token: server.token }, [{ localPath: folder, remoteId: 'docs' }]);
    control = await startControlServer({ service: toAgentService(agent), token: await ensureControlToken(data) });
    await writeAgentInfo(data, { pid: process.pid, controlUrl: control.url, startedAt: new Date().toISOString() });
  }, 30_000);

  afterAll(async () => {
    await control?.close();
    await agent?.stop();
    observer?.close();
    await server?.close();
    tmp.cleanup();
  });

  it('ferry history shows each version’s fingerprint, the one like the current, and one like an earlier', async () => {
    // Three versions of one size: the third has the first's bytes again.
    await write('report.txt', 'alpha 1');
    await write('report.txt', 'bravo 2');
    await write('report.txt', 'alpha 1');
    await idle();
    const [r3, r2, r1] = await revisions('report.txt');
    const shown = await run(history, ['report.txt']);
    expect(shown.code, shown.err).toBe(0);
    const lines = shown.out.trimEnd().split('\n');
    expect(lines[1]).toMatch(/^REVISION\s+WHEN\s+SIZE\s+CONTENT\s+DEVICE$/);
    const row = (rev: string) => lines.find((l) => l.startsWith(`${rev} `)) ?? '';
    expect(row(r3!)).toMatch(new RegExp(`^${r3} \\(current\\)\\s+\\S+\\s+7 B\\s+${fingerprint('alpha 1')} \\(same as ${r1}\\)\\s`));
    expect(row(r2!)).toMatch(new RegExp(`^${r2}\\s+\\S+\\s+7 B\\s+${fingerprint('bravo 2')}\\s+\\S`));
    expect(row(r2!)).not.toContain('same as');
    expect(row(r1!)).toMatch(new RegExp(`^${r1}\\s+\\S+\\s+7 B\\s+${fingerprint('alpha 1')} \\(current content\\)\\s`));

    // A deletion has no fingerprint; it reads as what it is.
    rmSync(path.join(folder, 'report.txt'));
    await waitFor(async () => (await observer.historyPage('docs', { path: 'report.txt' })).items[0]?.deleted === true, { timeoutMs: 15_000 });
    const after = await run(history, ['report.txt']);
    const deletedRow = after.out.split('\n').find((l) => /^\d+\s/.test(l)) ?? '';
    expect(deletedRow).toMatch(/^\d+\s+\S+\s+deleted\s+-\s+\S/);
    // No current version now: nothing is 'current content'; the same bytes still pair up.
    expect(after.out).not.toContain('current content');
    expect(after.out).toContain(`${fingerprint('alpha 1')} (same as ${r1})`);

    // --json carries the whole hash.
    const json = await run(history, ['report.txt', '--json']);
    const items = (JSON.parse(json.out) as { items: Array<{ revision: string; contentHash?: string }> }).items;
    expect(items.find((i) => i.revision === r2)?.contentHash).toBe(sha(sha('bravo 2')));
  });

  it('--dry-run of one path to a revision lists it and changes nothing; the restore then says what it did', async () => {
    await write('plan.txt', 'plan one');
    await write('plan.txt', 'plan two, longer');
    await idle();
    const [now, first] = await revisions('plan.txt');
    const look = await run(restore, ['plan.txt', '--revision', first!, '--dry-run']);
    expect(look.code, look.err).toBe(0);
    expect(look.out.trimEnd().split('\n')).toEqual([
      "Would restore 1 file in 'docs' (nothing restored yet; run again without --dry-run):",
      expect.stringMatching(new RegExp(`^ {2}plan\\.txt: revision ${first} \\(\\d{4}-\\d\\d-\\d\\dT[^,]+, 8 B\\)$`)),
    ]);
    const looked = await run(restore, ['plan.txt', '--revision', first!, '--dry-run', '--json']);
    expect(JSON.parse(looked.out)).toMatchObject({ dryRun: true, restored: 0, wouldRestore: [{ path: 'plan.txt', revision: first, kind: 'file' }] });
    // Nothing changed, on the server or on disk.
    expect(await revisions('plan.txt')).toEqual([now, first]);
    expect(read('plan.txt')).toBe('plan two, longer');

    const done = await run(restore, ['plan.txt', '--revision', first!]);
    expect(done.code, done.err).toBe(0);
    const [made] = await revisions('plan.txt');
    expect(done.out).toContain(`  restored: plan.txt to revision ${first} (saved as revision ${made})`);
    await waitFor(() => read('plan.txt') === 'plan one', { timeoutMs: 15_000, message: 'the restored version here' });
  });

  // Found by review: the dry run listed what the restore itself refuses (a revision of another
  // path) or leaves (a version with the bytes the file has now).
  it('--dry-run says what the restore would refuse and skip: a revision of another path, a version with the current bytes', async () => {
    await write('other.txt', 'other one');
    await write('same.txt', 'same bytes');
    await write('same.txt', 'changed');
    await write('same.txt', 'same bytes');
    await idle();
    const [otherRevision] = await revisions('other.txt');
    const [now, , first] = await revisions('same.txt');
    const foreign = await run(restore, ['same.txt', '--revision', otherRevision!, '--dry-run', '--json']);
    expect(foreign.code).toBe(1);
    expect(JSON.parse(foreign.out)).toMatchObject({ dryRun: true, wouldRestore: [], failed: [{ path: 'same.txt', code: 'unknown_revision' }] });
    // The restore itself refuses it the same way.
    const refused = await run(restore, ['same.txt', '--revision', otherRevision!, '--json']);
    expect(JSON.parse(refused.out)).toMatchObject({ failed: [{ path: 'same.txt', code: 'unknown_revision' }] });
    const same = await run(restore, ['same.txt', '--revision', first!, '--dry-run']);
    expect(same.code, same.err).toBe(0);
    expect(same.out).toContain('  skipped: same.txt: it has those bytes already: no new version would be made');
    expect(same.out).not.toContain(`same.txt: revision ${first}`);
    expect(await revisions('same.txt')).toEqual([now, expect.any(String), first]);
  });

  it('--at accepts a time ago against the clock, --dry-run lists the folder as it was then and changes nothing', async () => {
    await write('photos/a.txt', 'a as it was');
    await write('photos/b.txt', 'b never changes');
    await idle();
    await new Promise((r) => setTimeout(r, 50));
    const moment = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    await write('photos/a.txt', 'a changed since');
    await write('photos/c.txt', 'c is new');
    await idle();
    const [, aThen] = await revisions('photos/a.txt');
    const before = { a: await revisions('photos/a.txt'), b: await revisions('photos/b.txt'), c: await revisions('photos/c.txt') };

    // "2h" two hours before a clock that reads the moment plus two hours: the moment itself.
    const clock = moment + 2 * 3_600_000;
    const look = await run(restore, ['photos', '--at', '2h', '--dry-run'], clock);
    expect(look.code, look.err).toBe(0);
    const at = new Date(moment).toISOString();
    const lines = look.out.trimEnd().split('\n');
    expect(lines[0]).toBe(`Would restore 1 file in 'docs' as it was at ${at} (nothing restored yet; run again without --dry-run):`);
    expect(lines, look.out).toHaveLength(4);
    expect(lines[1]).toMatch(new RegExp(`^ {2}photos/a\\.txt: revision ${aThen} \\(`));
    expect(lines, look.out).toContain('  1 file and 1 folder have not changed since then: left as they are'); // b.txt and photos/
    expect(lines).toContain(`  skipped: photos/c.txt: it did not exist at ${at}`);
    const json = await run(restore, ['photos', '--at', '2h', '--dry-run', '--json'], clock);
    expect((JSON.parse(json.out) as { wouldRestore: Array<{ path: string }> }).wouldRestore.map((w) => w.path)).toEqual(['photos/a.txt']);

    // Nothing changed: the same revisions on the server, the same bytes here.
    expect({ a: await revisions('photos/a.txt'), b: await revisions('photos/b.txt'), c: await revisions('photos/c.txt') }).toEqual(before);
    expect([read('photos/a.txt'), read('photos/c.txt')]).toEqual(['a changed since', 'c is new']);

    // Without --dry-run, the same plan is what is done.
    const done = await run(restore, ['photos', '--at', '2h'], clock);
    expect(done.code, done.err).toBe(0);
    expect(done.out).toContain(`  restored: photos/a.txt to revision ${aThen} (saved as revision `);
    await waitFor(() => read('photos/a.txt') === 'a as it was', { timeoutMs: 15_000, message: 'a as it was, here' });
  });

  it('a time that is neither a date nor a time ago is refused with its message, exit 2', async () => {
    for (const garbage of ['yesterday', '12', '2 h', '3 days', '5y']) {
      const refused = await run(restore, ['photos', '--at', garbage, '--dry-run']);
      expect(refused.code).toBe(2);
      expect(refused.err).toContain(`--at must be a date and time, e.g. 2030-01-02T10:00:00Z, or a time ago, e.g. 30m, 2h, 3d or 1w, not ${JSON.stringify(garbage)}`);
    }
    const since = await run(restore, ['--deleted', '--since', 'soon']);
    expect(since.code).toBe(2);
    expect(since.err).toContain('--since must be a date and time');
  });
});
