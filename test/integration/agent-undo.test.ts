import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as massDelete from '../../main/control/commands/mass-delete';
import { startControlServer, type ControlServer } from '../../main/control/control-server';
import { ensureControlToken, writeAgentInfo } from '../../main/control/control-token';
import type { Agent } from '../../main/engine/agent';
import { toAgentService } from '../../main/ui-adapter/agent-service';
import { agentsOnServer, blockUploads, captureIo, deleteConfirmedOnBoth, holdsAll, twoDevicesHolding } from '../helpers/agents-on-server';
import { waitFor } from '../helpers/wait';

// Undo of a confirmed mass delete (docs/conflict-rules.md, "Undo of a confirmed mass delete"):
// two real agents on the real server over loopback. A deletes 1,000 files, both devices confirm,
// A restarts, and one `ferry mass-delete undo` brings exactly that batch back on both devices,
// byte for byte, with no block uploaded (a proxy in front of the server counts every request).
// A file written again after the delete is not overwritten by the Undo (refused: skipped).
describe('ferry mass-delete undo brings back exactly the confirmed batch on every device', () => {
  const setup = agentsOnServer('ferry-undo-', { local: { settleMs: 30 } }, undefined, { remoteId: 'docs', proxied: true });
  const deleted = Array.from({ length: 1000 }, (_, i) => `batch/doomed-${String(i).padStart(4, '0')}.txt`);
  const kept = Array.from({ length: 10 }, (_, i) => `kept-${i}.txt`);
  // Deleted on B before the batch, on its own: not part of it, so Undo leaves it deleted.
  const earlier = 'batch/earlier.txt';
  let a: Agent;
  let b: Agent;
  let folderA: string;
  let folderB: string;
  let control: ControlServer | undefined;

  const listed = (folder: string) => [
    ...readdirSync(folder).filter((n) => !n.startsWith('.ferry') && n !== 'batch'),
    ...(existsSync(path.join(folder, 'batch')) ? readdirSync(path.join(folder, 'batch')).map((n) => `batch/${n}`) : []),
  ].sort();
  const folderOf = (agent: Agent) => agent.status().folders[0]!;

  beforeAll(async () => {
    await setup.start();
    ({ a, b, folderA, folderB } = await twoDevicesHolding(setup, [...deleted, ...kept, earlier]));
    rmSync(path.join(folderB, earlier));
    await waitFor(() => !existsSync(path.join(folderA, earlier)), { timeoutMs: 30_000, message: 'the earlier delete reached A' });
  }, 120_000);

  afterAll(async () => {
    await control?.close();
    await setup.stop();
  });

  it('restores the 1,000 files on both devices after a restart, with one command and nothing uploaded', async () => {
    // The delete: held by the guard on each device, confirmed there by the user; nothing to undo before a confirm.
    await deleteConfirmedOnBoth(a, b, folderA, folderB, deleted, () => expect(folderOf(a).undoDelete).toBeNull());
    expect(listed(folderB)).toEqual(kept);
    expect(listed(folderA)).toEqual(kept);

    // Each device offers Undo for exactly its confirmed batch: A's deletes, and what B's pull deleted.
    await waitFor(() => folderOf(a).undoDelete?.sending === 0, { timeoutMs: 60_000, message: "A's deletes all sent" });
    expect(folderOf(a).undoDelete).toMatchObject({ count: deleted.length, side: 'scan', sample: deleted.slice(0, 10) });
    expect(folderOf(b).undoDelete).toMatchObject({ count: deleted.length, side: 'pull', sample: deleted.slice(0, 10) });
    // B's offer names the device whose deletes it applied, as the held delete did (a new-user try
    // read "deleted here by another device"); A's own has none.
    expect(folderOf(a).undoDelete?.devices).toEqual([]);
    await waitFor(() => folderOf(b).undoDelete?.devices.join() === a.deviceName, { timeoutMs: 10_000, message: "B's offer names A" });

    // A file of the batch written again on B after the delete: Undo must not overwrite it.
    const rewritten = deleted[500]!;
    writeFileSync(path.join(folderB, rewritten), 'written again after the delete\n');
    await waitFor(() => readIfThere(path.join(folderA, rewritten)) === 'written again after the delete\n', { timeoutMs: 60_000, message: 'the rewrite reached A' });

    // The offer outlives a restart.
    a = await setup.restart('a');
    const dataA = setup.dataDir('a');
    expect(folderOf(a).undoDelete).toMatchObject({ count: deleted.length, side: 'scan' });
    control = await startControlServer({ service: toAgentService(a), token: await ensureControlToken(dataA) });
    await writeAgentInfo(dataA, { pid: process.pid, controlUrl: control.url, startedAt: new Date().toISOString() });
    // A file of the batch made again on A while paused: its upload has not gone, so it is still
    // deleted on the server. Undo leaves it out: refused, the old version restored over it and
    // the upload then a conflict with it (found by review).
    await a.handlers.pause({});
    const madeHere = deleted[501]!;
    writeFileSync(path.join(folderA, madeHere), 'made here while paused\n');
    await waitFor(async () => (await a.handlers.listQueue({ offset: 0, limit: 100 })).items.some((i) => i.path === madeHere && i.state === 'pending'), { timeoutMs: 30_000, message: 'the new file queued on A' });
    const uploadsBefore = blockUploads(setup.proxy);

    // One command on device A.
    const io = captureIo();
    expect(await massDelete.run(['undo', '--folder', 'docs', '--data', dataA, '--json'], io), io.stderr).toBe(0);
    const answer = JSON.parse(io.stdout) as { restored: number; failed: unknown[]; skipped: Array<{ path: string; reason: string }> };
    expect(answer.restored).toBe(deleted.length - 2);
    expect(answer.failed).toEqual([]);
    expect(answer.skipped).toEqual([
      { path: rewritten, reason: 'it is here again (made again or restored since)' },
      { path: madeHere, reason: 'it is here again (made again or restored since)' },
    ]);
    await a.handlers.resume({});

    const back = deleted.filter((n) => n !== rewritten && n !== madeHere);
    await waitFor(() => holdsAll(folderA, back) && holdsAll(folderB, back), { timeoutMs: 90_000, message: 'every file back on both devices' });
    await waitFor(() => readIfThere(path.join(folderB, madeHere)) === 'made here while paused\n', { timeoutMs: 60_000, message: "A's new file on B" });
    const expected = [...deleted, ...kept].sort();
    expect(listed(folderA)).toEqual(expected);
    expect(listed(folderB)).toEqual(expected);
    expect(readFileSync(path.join(folderA, rewritten), 'utf8')).toBe('written again after the delete\n');
    expect(readFileSync(path.join(folderB, rewritten), 'utf8')).toBe('written again after the delete\n');
    expect(readFileSync(path.join(folderA, madeHere), 'utf8')).toBe('made here while paused\n');
    // Only the batch: the file deleted before it stays deleted.
    expect(existsSync(path.join(folderA, earlier)) || existsSync(path.join(folderB, earlier))).toBe(false);
    await waitFor(() => a.status().state === 'idle' && b.status().state === 'idle', { timeoutMs: 30_000 });
    // The one upload: A's new file. The Undo sent no block.
    expect(blockUploads(setup.proxy)).toBe(uploadsBefore + 1);

    // Done once: A's offer is gone and a second undo is refused; B's batch is back already, nothing to do.
    expect(folderOf(a).undoDelete).toBeNull();
    const again = captureIo();
    expect(await massDelete.run(['undo', '--folder', 'docs', '--data', dataA], again)).not.toBe(0);
    expect(again.stderr).toMatch(/Nothing to undo in this folder: no confirmed mass delete waits for Undo \(it was undone or dismissed already, or its 24 hours passed\)/);
    // The same code as a dismiss with nothing offered (it said `not_found`: a new-user try).
    const againJson = captureIo();
    expect(await massDelete.run(['undo', '--folder', 'docs', '--data', dataA, '--json'], againJson)).toBe(1);
    expect(JSON.parse(againJson.stderr)).toMatchObject({ error: { code: 'nothing_to_undo', retryable: false } });
    // B's batch is all here again: its Undo says so, as its banner does, and asks the server nothing
    // (refused, found by a new-user try: it ran, and listed 1,000 skips).
    await expect(b.handlers.undoMassDelete({ folderId: 'docs' })).rejects.toMatchObject({ code: 'nothing_to_undo' });
    // One of them deleted again on B: Undo brings that one back. Asked while paused, the Undo
    // answers what it did: the pull that brings the file back waits for the resume. Refused
    // (found by a new-user try): "Request aborted", though the Undo was done.
    const again1 = deleted[0]!;
    rmSync(path.join(folderB, again1));
    await waitFor(() => !existsSync(path.join(folderA, again1)), { timeoutMs: 30_000, message: "B's delete reached A" });
    await b.handlers.pause({});
    const fromB = await b.handlers.undoMassDelete({ folderId: 'docs' });
    expect(fromB.restored.map((r) => r.path)).toEqual([again1]);
    expect(fromB.skipped).toHaveLength(deleted.length - 1);
    await b.handlers.resume({});
    await waitFor(() => existsSync(path.join(folderA, again1)) && existsSync(path.join(folderB, again1)), { timeoutMs: 30_000, message: 'the file back on both' });
  }, 300_000);
});

function readIfThere(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}
