import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Status } from '../../shared/ui-contract';
import { Cluster, FOLDER_ID, deviceName } from './cluster';
import { DeviceDisks, describeDiskEvent, makeDiskPlan } from './disk-fault';
import { describeEvent, makeFaultPlan, SQLITE_SERVER, type FaultEvent, type ServerSetup } from './faults';
import { BUSY_STATES, checkConflictWaits, checkInvariants, checkLinks, checkRequeueLoops, conflictCopies, describeRecheck, type RecheckNote } from './invariants';
import { Ledger } from './ledger';
import { renameProbe } from './rename-probe';
import { createRng, deriveSeed } from './rng';
import { diffTrees, fetchContents, liveLocalTree, localTree, serverTree } from './snapshot';
import { checkWhyReasons } from './why-check';
import { Executor, makePlan, type Op } from './workload';

/**
 * On since the Sync API carries directories (`kind` in protocol/changes.ts ChangeItem):
 * empty folders are compared too, not only the directories that files imply.
 */
export const COMPARE_EMPTY_DIRECTORIES = true;

export interface SeedOptions {
  seed: number;
  ops: number;
  /** 2 or 3; by default the seed picks. */
  devices?: number;
  faults?: boolean;
  /** Each device on a small disk of its own that a fault fills for a few steps (test/chaos/disk-fault.ts). */
  diskFull?: boolean;
  /** Names in NFD as well as NFC (default true). Off, the same plan uses NFC names only. */
  nfd?: boolean;
  verbose?: boolean;
  /** Keep the temp folder of a failing seed (its path is printed). */
  keep?: boolean;
  settleTimeoutMs?: number;
  /** SQLite and one server process (the default), or PostgreSQL + S3 and N processes (test/chaos/cluster.ts). */
  server?: ServerSetup;
  log?: (line: string) => void;
}

export interface SeedResult {
  seed: number;
  devices: number;
  ops: number;
  executed: number;
  skipped: number;
  writes: number;
  concurrentPaths: number;
  conflictCopies: number;
  faultsInjected: Record<string, number>;
  agentKills: number;
  serverRestarts: number;
  /** kill -9 of one server process while the others served (`--servers N`). */
  serverKills: number;
  /** PostgreSQL stopped and started again (`--backend postgres`). */
  postgresRestarts: number;
  /** Times a server process's LISTEN connection was lost and made again (its log), i.e. it saw PostgreSQL go. */
  listenReconnects: number;
  /** Requests the proxy forwarded to each server process, in process order. */
  requestsPerServer: number[];
  /** Times a device's disk was filled (the full-disk fault). */
  diskFills: number;
  /** Server garbage collections that ran (`--gc`), and the versions they pruned. */
  gcRuns: number;
  /** Mass deletes the guard held on any device (--guard), and of them, questions withdrawn by the server's changes. */
  holds: number;
  holdsWithdrawn: number;
  /** Files turned into folders and folders into files (--kinds). */
  kindChanges: number;
  /** Symbolic links the users made (--links). */
  links: number;
  /** Restores of deleted files the users asked for (--restore) that the agent answered, and the files they brought back. */
  restores: number;
  restoredFiles: number;
  gcPrunedVersions: number;
  /** Failed queue items retried during settle (a fault outlasted the retry limit). */
  retriedAfterFaults: number;
  /** Items still waiting out a conflict recheck 20 s into the settle, retried at once. */
  forcedRechecks: number;
  /** What each forced recheck was for ("dev-b a/x.txt (conflict: …)"): items that waited on the minute-long recheck. */
  recheckNotes: string[];
  durationMs: number;
  settleMs: number;
  /** Block requests made while a pure rename after the settle synced (renameProbe): zero. */
  renameBlockRequests: number | null;
  failures: string[];
  keptDir?: string;
}

function describeOp(op: Op): string {
  const j = JSON.stringify;
  switch (op.kind) {
    case 'write':
    case 'append':
      return `dev${op.device} ${op.kind} ${j(op.path)} ${op.size} B`;
    case 'truncate':
      return `dev${op.device} truncate ${j(op.path)} to ${op.to}`;
    case 'delete':
    case 'mkdir':
    case 'delete-dir':
      return `dev${op.device} ${op.kind} ${j(op.path)}`;
    case 'rename':
    case 'rename-dir':
      return `dev${op.device} ${op.kind} ${j(op.from)} → ${j(op.to)}`;
    case 'burst':
      return `burst ${j(op.path)} on ${op.writes.map((w) => `dev${w.device} (${w.size} B)`).join(', ')}`;
    case 'restore':
      return `dev${op.device} restore deleted ${op.prefix === null ? 'in the whole folder' : `under ${j(op.prefix)}`}`;
    case 'file-to-dir':
      return `dev${op.device} file ${j(op.path)} → folder holding ${j(op.name)} (${op.size} B)`;
    case 'dir-to-file':
      return `dev${op.device} folder ${j(op.path)} → file (${op.size} B)`;
    case 'symlink':
      return `dev${op.device} symlink ${j(op.path)} → ${op.to}`;
  }
}

export async function runSeed(options: SeedOptions): Promise<SeedResult> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const vlog = options.verbose ? log : () => undefined;
  const seed = options.seed >>> 0;
  const devices = options.devices ?? createRng(deriveSeed(seed, 'devices')).int(2, 3);
  const plan = makePlan(deriveSeed(seed, 'workload'), devices, options.ops, {
    nfd: options.nfd ?? true,
    bulkDeletes: process.env.FERRY_CHAOS_GUARD === '1',
    restores: process.env.FERRY_CHAOS_RESTORE === '1',
    kinds: process.env.FERRY_CHAOS_KINDS === '1',
    links: process.env.FERRY_CHAOS_LINKS === '1',
  });
  const server = options.server ?? SQLITE_SERVER;
  const faults = makeFaultPlan(deriveSeed(seed, 'faults'), devices, options.ops, options.faults ?? true, server);
  const diskPlan = options.diskFull ? makeDiskPlan(seed, devices, options.ops, faults.events) : null;
  const dir = mkdtempSync(path.join(os.tmpdir(), `ferry-chaos-${seed}-`));
  const disks = diskPlan ? new DeviceDisks(dir, Array.from({ length: devices }, (_, i) => deviceName(i))) : null;
  const cluster = new Cluster(dir, devices, faults.proxySeed, disks ? (i) => disks.home(i) : undefined, server);
  const ledger = new Ledger();
  const result: SeedResult = {
    seed, devices, ops: options.ops, executed: 0, skipped: 0, writes: 0, concurrentPaths: 0, conflictCopies: 0,
    faultsInjected: {}, agentKills: 0, serverRestarts: 0, serverKills: 0, postgresRestarts: 0, requestsPerServer: [], listenReconnects: 0, diskFills: 0, holds: 0, holdsWithdrawn: 0, kindChanges: 0, links: 0, restores: 0, restoredFiles: 0, gcRuns: 0, gcPrunedVersions: 0, retriedAfterFaults: 0, forcedRechecks: 0, recheckNotes: [], durationMs: 0, settleMs: 0, renameBlockRequests: null, failures: [],
  };
  // A user's restore of deleted files goes through the device's agent, as `ferry restore --deleted`.
  const executor = new Executor(cluster.devices, ledger, vlog, {
    restore: async (device, prefix) => {
      const client = cluster.devices[device]!.client;
      if (!client) throw new Error('the agent is not running');
      const outcome = await client.call('restore', { folderId: FOLDER_ID, deleted: true, ...(prefix === null ? {} : { prefix }) });
      result.restores++;
      result.restoredFiles += outcome.restored;
      vlog(`       restored ${outcome.restored}, ${outcome.failed.length} failed, ${outcome.skipped.length} skipped`);
    },
  });

  const applyEvent = async (e: FaultEvent): Promise<void> => {
    vlog(`  ! ${describeEvent(e)}`);
    if (e.kind === 'kill-agent') await cluster.killAgent(e.device);
    else if (e.kind === 'start-agent') await cluster.startAgent(e.device);
    else if (e.kind === 'restart-server') await cluster.restartServer(e.hard);
    else if (e.kind === 'kill-server') await cluster.killServer(e.process);
    else if (e.kind === 'start-server') await cluster.startServerProcess(e.process);
    else if (e.kind === 'restart-postgres') await cluster.restartPostgres(e.downMs);
    else if (e.kind === 'proxy-offline') await cluster.proxy.goOffline();
    else await cluster.proxy.goOnline();
  };

  try {
    await cluster.start();
    for (const rule of faults.rules) cluster.proxy.add(rule);
    vlog(`seed ${seed}: ${devices} devices, ${server.backend} with ${server.servers} server process(es), ${plan.ops.length} ops, ${faults.rules.length} proxy rules, ${[...faults.events.values()].flat().length} process events in ${dir}`);

    for (let step = 0; step < plan.ops.length; step++) {
      for (const e of faults.events.get(step) ?? []) await applyEvent(e);
      for (const e of diskPlan?.events.get(step) ?? []) {
        vlog(`  ! ${describeDiskEvent(e)}`);
        disks!.apply(e);
      }
      const planned = plan.ops[step]!;
      const op = disks ? disks.allow(planned) : planned;
      vlog(`${String(step).padStart(4)} ${describeOp(planned)}${op === planned ? '' : op ? ' (only the devices with room)' : ' (not made: that disk is full)'}`);
      if (op) await executor.run(op, step);
      else executor.stats.skipped++;
      const pause = plan.pauses[step]!;
      if (pause > 0) await delay(pause);
    }

    const settleStart = Date.now();
    disks?.freeAll();
    await cluster.heal();
    // The moment the faults stop: every path that differs has a reason (invariant 7).
    result.failures.push(...(await checkWhyReasons(cluster, 'when the faults stopped', vlog)));
    // Where each agent's log stands now: what it writes from here on is the settle's.
    const logStart = cluster.devices.map((d, i) => ({ name: d.name, file: cluster.agentLogs()[i]!, offset: sizeOf(cluster.agentLogs()[i]!) }));
    const settled = await settle(cluster, options.settleTimeoutMs ?? 180_000, vlog);
    result.failures.push(...checkRequeueLoops(logStart.map((l) => ({ name: l.name, log: readFrom(l.file, l.offset) }))));
    result.settleMs = Date.now() - settleStart;
    result.retriedAfterFaults = settled.retried;
    result.forcedRechecks = settled.rechecks;
    result.recheckNotes = settled.notes.map(describeRecheck);
    result.failures.push(...checkConflictWaits(settled.notes));
    // Every file the server lists can be served (converged or not: a file it cannot serve holds
    // every device back, the server's fault, not theirs).
    const served = await serverTree(cluster.api, FOLDER_ID);
    result.failures.push(...(await fetchContents(cluster.api, served)).map((p) => `[1] ${p}`));
    // Converged or not (a pull that wrote through a link and then never converged says so too),
    // and before the rename probe moves anything.
    if (executor.linkRecord.links.length > 0) {
      const trees = await Promise.all(cluster.devices.map((d) => liveLocalTree(d.root)));
      result.failures.push(...(await checkLinks(cluster.devices, trees, served, executor.linkRecord, ledger)));
    }
    if (!settled.ok) {
      const answers: string[] = [];
      result.failures.push(...(await checkWhyReasons(cluster, 'at the end of an unconverged run', vlog, (line) => answers.push(line))));
      result.failures.push(
        `[1] did not converge within ${Math.round((options.settleTimeoutMs ?? 180_000) / 1000)} s after the faults stopped:`,
        ...settled.last.map((l) => `    ${l}`),
        ...answers.slice(0, 20).map((l) => `    ${l}`),
      );
    } else {
      const trees = await Promise.all(cluster.devices.map((d) => localTree(d.root)));
      const statuses = await Promise.all(cluster.devices.map((d) => d.client!.call('getStatus', {})));
      result.failures.push(
        ...checkInvariants({
          server: served,
          devices: cluster.devices.map((d, i) => ({ name: d.name, tree: trees[i]!, status: statuses[i]! })),
          ledger,
          compareEmptyDirs: COMPARE_EMPTY_DIRECTORIES,
        }),
      );
      result.conflictCopies = conflictCopies(served).length;
      if (result.failures.length === 0) {
        const probe = await renameProbe(cluster, async () => (await settle(cluster, options.settleTimeoutMs ?? 180_000, vlog)).ok);
        result.renameBlockRequests = probe.blockRequests;
        vlog(`rename probe: ${probe.renamed ?? 'nothing to rename'}, ${probe.blockRequests} block request(s)`);
        if (!probe.settled) result.failures.push(`[6] a pure rename (${probe.renamed}) did not converge`);
        if (probe.blockRequests > 0) result.failures.push(`[6] a pure rename (${probe.renamed}) made ${probe.blockRequests} block request(s); it moves bytes every device holds`);
      }
    }
  } catch (error) {
    result.failures.push(`harness error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    result.executed = executor.stats.executed;
    result.skipped = executor.stats.skipped;
    result.kindChanges = (executor.stats.byKind['file-to-dir'] ?? 0) + (executor.stats.byKind['dir-to-file'] ?? 0);
    result.links = executor.stats.byKind.symlink ?? 0;
    result.writes = ledger.writes;
    result.concurrentPaths = ledger.concurrent.size;
    result.agentKills = cluster.devices.reduce((n, d) => n + d.kills, 0);
    result.serverRestarts = cluster.serverRestarts;
    result.serverKills = cluster.serverKills;
    result.postgresRestarts = cluster.postgresRestarts;
    if (cluster.postgresRestartSkipped) vlog(`PostgreSQL restart skipped: ${cluster.postgresRestartSkipped}`);
    result.failures.push(...cluster.serverCrashes.map((c) => `[server] ${c}`));
    result.diskFills = disks?.fills ?? 0;
    Object.assign(result, gcFigures(cluster.serverLogs()));
    result.holds = logLines(cluster.agentLogs(), 'mass delete held for confirmation').length;
    result.holdsWithdrawn = logLines(cluster.agentLogs(), 'mass delete question withdrawn').length;
    result.listenReconnects = logLines(cluster.serverLogs(), 'change notifications back').length;
    result.requestsPerServer = cluster.serverHosts().map((host) => (cluster.proxy?.log ?? []).filter((e) => e.target === host).length);
    for (const entry of cluster.proxy?.log ?? []) if (entry.fault) result.faultsInjected[entry.fault] = (result.faultsInjected[entry.fault] ?? 0) + 1;
    if (result.failures.length) result.failures.push(...cluster.ended.map((e) => `ended: ${e}`));
    await cluster.close().catch((error: unknown) => result.failures.push(`cleanup: ${String(error)}`));
    if (result.failures.length === 0 || !options.keep) disks?.unmount();
    if (result.failures.length && options.keep) {
      result.keptDir = dir;
      result.failures.push(`logs: ${cluster.logs().join(' ')}`);
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
    result.durationMs = Date.now() - started;
  }
  return result;
}

const sizeOf = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

const readOr = (file: string): Buffer => {
  try {
    return readFileSync(file);
  } catch {
    return Buffer.alloc(0);
  }
};

/** What was written to a log from `offset` on; a log that rotated meanwhile went to `<name>.old.log`. */
const readFrom = (file: string, offset: number): string => {
  const now = readOr(file);
  if (now.length >= offset) return now.subarray(offset).toString('utf8');
  return readOr(file.replace(/\.log$/, '.old.log')).subarray(offset).toString('utf8') + now.toString('utf8');
};

const busy = (s: Status) => BUSY_STATES.reduce((n, k) => n + (s.counts[k] ?? 0), 0);

/**
 * Waits (on conditions, with a deadline) until every agent is idle with an empty queue and
 * every folder equals the server, twice in a row with a "Sync now" in between. Items that
 * failed during the faults are retried, as a user would; folders paused by the mass-delete
 * guard are confirmed.
 */
async function settle(cluster: Cluster, timeoutMs: number, vlog: (line: string) => void): Promise<{ ok: boolean; retried: number; rechecks: number; notes: RecheckNote[]; last: string[] }> {
  const start = Date.now();
  const deadline = start + timeoutMs;
  let retried = 0;
  let rechecks = 0;
  const notes: RecheckNote[] = [];
  const recheckedAt = new Map<string, number>();
  let lastKick = 0;
  let equalRounds = 0;
  let last: string[] = ['no round completed'];
  /** Each device's failed items as last listed: a run that never settles says what kept failing. */
  const failedSeen = new Map<number, string>();
  const kick = async () => {
    lastKick = Date.now();
    await Promise.all(cluster.devices.map((d) => d.client!.call('syncNow', {})));
  };
  await kick();
  while (Date.now() < deadline) {
    const statuses = await Promise.all(cluster.devices.map((d) => d.client!.call('getStatus', {})));
    for (const [i, s] of statuses.entries()) {
      const client = cluster.devices[i]!.client!;
      if (s.counts.failed > 0) {
        const page = await client.call('listQueue', { state: 'failed', limit: 20 });
        failedSeen.set(i, `${cluster.devices[i]!.name} retried ${s.counts.failed} failed: ${page.items.map((q) => `${q.path} (${q.error?.code}: ${q.error?.message})`).join(', ')}`);
        vlog(`  settle: ${failedSeen.get(i)}`);
        retried += (await client.call('retry', { all: true })).retried;
      }
      for (const f of s.folders) if (f.state === 'paused_mass_delete') await client.call('confirmMassDelete', { folderId: f.id });
      // A conflict is looked at again after a minute; past 20 s of settling, do it now (Retry).
      if (s.counts.retry_wait > 0 && Date.now() - start > 20_000) {
        const page = await client.call('listQueue', { state: 'retry_wait', limit: 20 });
        const due = (q: { id: number; nextAttemptAt: string | null }) =>
          q.nextAttemptAt !== null && Date.parse(q.nextAttemptAt) - Date.now() > 5_000 && Date.now() - (recheckedAt.get(`${i}:${q.id}`) ?? 0) > 15_000;
        for (const q of page.items.filter(due)) {
          recheckedAt.set(`${i}:${q.id}`, Date.now());
          const note: RecheckNote = { device: cluster.devices[i]!.name, path: q.path, code: q.error?.code ?? null, message: q.error?.message ?? null };
          notes.push(note);
          vlog(`  settle: recheck now: ${describeRecheck(note)}`);
          rechecks += (await client.call('retry', { id: q.id })).retried;
        }
      }
    }
    const quiet = statuses.every((s) => s.state === 'idle' && busy(s) === 0);
    if (quiet) {
      const server = await serverTree(cluster.api, FOLDER_ID);
      // A file can go between listing a folder and reading it while the agents still work:
      // that round only says "not settled yet".
      const trees = await Promise.all(cluster.devices.map((d) => localTree(d.root))).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
        throw error;
      });
      if (!trees) {
        equalRounds = 0;
        last = [`a folder changed while it was read (${new Date().toISOString()})`];
        await delay(200);
        continue;
      }
      last = cluster.devices.flatMap((d, i) => diffTrees(d.name, trees[i]!, server, COMPARE_EMPTY_DIRECTORIES));
      if (last.length === 0) {
        if (++equalRounds >= 2) return { ok: true, retried, rechecks, notes, last };
        // A Sync now in between; the agents show "syncing" until it settles, which is not a
        // difference: only a round that compares unequal starts the count again.
        await kick();
        continue;
      }
      equalRounds = 0;
    } else {
      last = statuses.map((s, i) => `${cluster.devices[i]!.name}: ${s.state}${s.reason ? ` (${s.reason})` : ''}, ${JSON.stringify(s.counts)}${s.folders.map((f) => ` ${f.id}=${f.state}${f.error ? ` (${f.error})` : ''}`).join('')}`);
      last.push(...failedSeen.values());
    }
    if (Date.now() - lastKick > 3000) await kick();
    await delay(200);
  }
  return { ok: false, retried, rechecks, notes, last };
}

/** The lines of every log (server processes' or agents') that hold `text`. */
const logLines = (serverLogs: string[], text: string): string[] =>
  serverLogs.flatMap((log) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(text)) : []));

/** What the server logs (one per process) say their garbage collections did, summed. */
function gcFigures(serverLogs: string[]): { gcRuns: number; gcPrunedVersions: number } {
  const lines = logLines(serverLogs, 'garbage collected');
  const pruned = lines.reduce((n, l) => n + Number(/prunedVersions=(\d+)/.exec(l)?.[1] ?? 0), 0);
  return { gcRuns: lines.length, gcPrunedVersions: pruned };
}
