import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Status } from '../../shared/ui-contract';
import { EMPTY_HASH, isConflictName, keptAsCopyOf, withoutConflictMarks, type Ledger } from './ledger';
import { diffTrees, sha256Of, type Tree } from './snapshot';
import { CANARY, canaryBytes, outsideOf, type DeviceFolder, type LinkRecord } from './workload';

/**
 * The four invariants of a settled run (a fifth, no requeue loop, is checkRequeueLoops; a sixth,
 * no conflict left to its minute, is checkConflictWaits). Each failure is one line saying which invariant,
 * which device and which path, so a failing seed reads as a diff.
 */
export interface CheckInput {
  server: Tree;
  devices: Array<{ name: string; tree: Tree; status: Status }>;
  ledger: Ledger;
  compareEmptyDirs: boolean;
}

export const BUSY_STATES = ['pending', 'in_flight', 'retry_wait', 'failed'] as const;

export function checkInvariants({ server, devices, ledger, compareEmptyDirs }: CheckInput): string[] {
  const failures: string[] = [];
  const fail = (n: number, line: string) => failures.push(`[${n}] ${line}`);

  // 1. Convergence: every folder equals the server; queues empty, nothing failed.
  for (const d of devices) {
    for (const line of diffTrees(d.name, d.tree, server, compareEmptyDirs)) fail(1, line);
    for (const [p, file] of d.tree.files) {
      const s = server.files.get(p);
      if (s?.hash && file.hash && s.hash !== file.hash) fail(1, `${d.name}: ${JSON.stringify(p)} has other bytes than the server`);
    }
    const busy = BUSY_STATES.filter((s) => (d.status.counts[s] ?? 0) > 0).map((s) => `${s} ${d.status.counts[s]}`);
    if (busy.length) fail(1, `${d.name}: queue not empty (${busy.join(', ')})`);
    if (d.status.state !== 'idle') fail(1, `${d.name}: agent is ${d.status.state}, not idle`);
  }

  // 2. No data loss: every version a user wrote (and no user knowingly replaced) is on the
  // server at its path or as a conflict copy of it.
  const byHash = new Map<string, string[]>();
  for (const [p, f] of server.files) if (f.hash) byHash.set(f.hash, [...(byHash.get(f.hash) ?? []), p]);
  for (const v of ledger.live) {
    const at = byHash.get(v.hash) ?? [];
    const paths = ledger.pathsOf(v);
    if (at.some((p) => [...paths].some((q) => p === q || keptAsCopyOf(q, p)))) continue;
    const elsewhere = at.length ? ` (its bytes are at ${at.map((p) => JSON.stringify(p)).join(', ')})` : '';
    fail(2, `lost: ${v.device}'s version ${v.hash.slice(0, 12)} of ${JSON.stringify(v.path)} (written at step ${v.step})${elsewhere}`);
  }

  // 3. No spurious conflicts: a conflict copy only for a path two devices wrote concurrently.
  for (const p of server.files.keys()) {
    if (!isConflictName(p) || ledger.movedCopies.has(p)) continue;
    // Made at this path, or in a folder kept as a copy since (U9).
    const origin = withoutConflictMarks(p);
    // An empty copy where no user wrote an empty file: a file caught being written, kept by a
    // device whose change of it was not answered yet (docs/conflict-rules.md, "caught being written").
    if (server.files.get(p)?.hash === EMPTY_HASH && !ledger.userWrote(origin, EMPTY_HASH)) continue;
    // A path a user turned into the other kind (chaos --kinds) meets the other devices' edits of
    // it, and of what was below it, in more ways than the ledger follows: a copy there is no
    // spurious one, once another device came near it (with none, there was nothing to meet).
    if (ledger.kindChangeMetOther(origin)) continue;
    if (![...ledger.editedAsOf(origin)].some((o) => ledger.concurrent.has(o) || ledger.restoreReached(o))) fail(3, `spurious conflict copy ${JSON.stringify(p)}: no concurrent edits of ${JSON.stringify(origin)}`);
  }

  // 4. No temp or partial files left.
  for (const d of devices) for (const t of d.tree.temps) fail(4, `${d.name}: left behind ${JSON.stringify(t)}`);
  return failures;
}

export const conflictCopies = (tree: Tree): string[] => [...tree.files.keys()].filter(isConflictName);

/** More requeues of one path than this while nothing changes (the settle) is a livelock. */
export const MAX_SETTLE_REQUEUES = 3;
const REQUEUE_LINE = /file changed before commit: queued again path=(.*?) outcome=/;

/**
 * 5. No livelock: once the faults stop, no user changes anything, so a file the pusher finds
 * "changed before commit" more than a few times is going round in a loop (chaos seed 1051:
 * every 3 s for three minutes). `settleLogs` is each agent's log written during the settle.
 */
export function checkRequeueLoops(settleLogs: Array<{ name: string; log: string }>): string[] {
  const failures: string[] = [];
  for (const { name, log } of settleLogs) {
    const counts = new Map<string, number>();
    for (const line of log.split('\n')) {
      const m = REQUEUE_LINE.exec(line);
      if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
    }
    for (const [p, n] of counts) {
      if (n > MAX_SETTLE_REQUEUES) failures.push(`[5] ${name}: ${JSON.stringify(p)} was queued again ${n} times after the faults stopped, with no user change (a requeue loop)`);
    }
  }
  return failures;
}

/** An item the settle found still waiting out its retry 20 s in, and retried at once. */
export interface RecheckNote {
  device: string;
  path: string;
  code: string | null;
  message: string | null;
}

export const describeRecheck = (n: RecheckNote): string => `${n.device} ${n.path} (${n.code}: ${n.message})`;

/**
 * 6. No conflict waits for its minute once the faults stop: a push the server answered with
 * `conflict` is due again right after the next pull of its folder that applied changes
 * (docs/conflict-rules.md, "Conflicts that wait"), so 20 s into the settle none is still waiting
 * with its minute ahead. Other waits (a network backoff the faults grew) are not this invariant's.
 */
export function checkConflictWaits(notes: readonly RecheckNote[]): string[] {
  return notes
    .filter((n) => n.code === 'conflict')
    .map((n) => `[6] ${n.device}: ${JSON.stringify(n.path)} still waited for the minute-long conflict recheck 20 s after the faults stopped (${n.message})`);
}

/**
 * 8. Nothing through a link, no link replaced (chaos --links; 7 is the why check). For each device
 * that made a link:
 * - the folder its links point into, outside its synced folder, is there and holds its canary
 *   alone and unchanged (Ferry wrote nothing through a link and removed nothing), and no version
 *   on the server holds a canary's bytes (nothing read through one and uploaded);
 * - each link it made is still a link at its path, unless a user since moved, removed or replaced
 *   a folder at, above or below that path, or this device's user did anything there (Ferry never
 *   replaces a link: another device's file at that path stays on the server only, U8);
 * - nothing on the server lies at or below one of its links unless a user of another device did
 *   something there, or a restore reached it (a loop link read through would put copies below
 *   it, which no one wrote).
 */
export async function checkLinks(devices: readonly DeviceFolder[], trees: readonly Tree[], server: Tree, record: LinkRecord, ledger: Ledger): Promise<string[]> {
  const failures: string[] = [];
  const near = (a: string, b: string) => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
  for (const [i, device] of devices.entries()) {
    const made = record.links.filter((l) => l.device === i);
    if (made.length === 0) continue;
    const outside = outsideOf(device);
    const names = await fsp.readdir(outside).catch(() => null);
    if (names === null) failures.push(`[8] ${device.name}: the folder its links point into is gone`);
    else if (names.join() !== CANARY) failures.push(`[8] ${device.name}: the folder its links point into holds ${JSON.stringify(names)}, not its canary alone`);
    const canary = canaryBytes(device);
    const bytes = await fsp.readFile(path.join(outside, CANARY)).catch(() => null);
    if (bytes && !bytes.equals(canary)) failures.push(`[8] ${device.name}: its canary outside the synced folder was changed`);
    const hash = sha256Of(canary);
    for (const [p, f] of server.files) if (f.hash === hash) failures.push(`[8] the server holds ${device.name}'s canary at ${JSON.stringify(p)}: read through a link and uploaded`);
    for (const link of made) {
      const excused = record.ops.some((o) => o.step > link.step && o.paths.some((p) => near(p, link.path)) && (o.dirOp || o.device === i));
      if (excused) continue;
      const st = await fsp.lstat(path.join(device.root, link.path)).catch(() => null);
      if (st && !st.isSymbolicLink()) failures.push(`[8] ${device.name}: its link ${JSON.stringify(link.path)} was replaced by a ${st.isDirectory() ? 'folder' : 'file'}`);
    }
    const links = trees[i]?.links ?? [];
    // A conflict copy another device made is at its origin's path, as far as the ledger goes (chaos seed 72007).
    const wroteThere = (p: string) => [p, withoutConflictMarks(p)].some((q) => ledger.touchedByOther(q, device.name) || ledger.restoreReached(q));
    for (const p of [...server.files.keys(), ...server.dirs]) {
      const under = links.find((l) => p === l || p.startsWith(`${l}/`));
      if (under !== undefined && !wroteThere(p)) failures.push(`[8] the server holds ${JSON.stringify(p)} at or below ${device.name}'s link ${JSON.stringify(under)}, which no other device wrote: read through the link`);
    }
  }
  return failures;
}
