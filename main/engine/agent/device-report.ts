import { MAX_REPORTED_FAILURES, asFerryError, checkSyncPath, type DeviceReport, type DeviceState } from '../../../protocol';
import type { Logger } from '../../logging';
import type { Store } from '../../store';
import type { Timers } from '../timers';
import type { FolderDevices } from './api';

/**
 * Report keys a server from before them refuses (its report schema takes no unknown key): once one
 * is refused, reports go without them to that server until the agent starts again (review: the
 * report kept its key and was refused for as long as the state lasted, "last seen" going stale).
 */
const LATER_KEYS = ['unsyncableCount', 'massDeleteHeld', 'stopped'] as const;

/** At most one report per folder this often: a busy sync sends one, not one per file. */
export const REPORT_INTERVAL_MS = 1000;
/** An idle device still reports this often, so "last seen" stays true. */
export const HEARTBEAT_MS = 60_000;
/**
 * How long a clean stop waits, at most, for its last report ("stopped") to get through: a server
 * that does not answer by then is left, and the others fall back to the silence rule.
 */
export const STOP_REPORT_MS = 1500;

/** A report's request, cut off when the stop's deadline passes. */
interface ReportCall {
  signal?: AbortSignal;
}

type ReportRemote = { reportDevice(remoteId: string, report: DeviceReport, call?: ReportCall): Promise<{ wantedBlocks?: string[] | undefined }> };

export interface DeviceReporterOptions {
  store: Pick<Store, 'folders' | 'tokens' | 'queue'>;
  /** The Sync API client of the moment (null while the engine is stopped). */
  remote: () => ReportRemote | null;
  /** The reply named blocks of the folder the server lost (docs/sync-api.md, "Lost blocks"). */
  onWanted?: (folderId: string, hashes: string[]) => void;
  device: { name: string; version: string };
  /** Paths the pulls refused for good (an unsafe path, a local entry in the way): failing here too. */
  pullRefusals?: (folderId: string) => ReadonlyArray<{ path: string; code: string }>;
  /** The folder's names here that cannot be synced: they never reach the others, so failing too. */
  unsyncable?: (folderId: string) => ReadonlyArray<{ path: string }>;
  /** The user paused syncing here: the others see it paused. */
  paused?: () => boolean;
  timers: Timers;
  log: Logger;
  intervalMs?: number;
}

/**
 * Tells the server this device's digest of a folder after its pulls and push runs
 * (docs/sync-api.md, "Devices"): the sync token it applied, what it has not sent, what fails.
 * Best effort: a report that fails is logged and sent again with the next one.
 */
export class DeviceReporter {
  private readonly due = new Map<string, { timer: unknown | null; sending: boolean; again: boolean; lastAt: number }>();
  private stopped = false;
  private heartbeat: unknown = null;
  /** Reports on their way: the last one of a clean stop goes after them, so that none lands after it. */
  private readonly inFlight = new Set<Promise<void>>();
  /** The server refused a later key: reports go without them. */
  private withoutLaterKeys = false;

  constructor(private readonly o: DeviceReporterOptions) {}

  /** Reports every folder now and then every HEARTBEAT_MS. */
  start(folderIds: () => string[], everyMs = HEARTBEAT_MS): void {
    const beat = () => {
      for (const id of folderIds()) this.schedule(id);
      if (!this.stopped) this.heartbeat = this.o.timers.setTimeout(beat, everyMs);
    };
    beat();
  }

  /** Something changed in this folder: a report goes out soon (coalesced with others). */
  schedule(folderId: string): void {
    if (this.stopped) return;
    const state = this.due.get(folderId) ?? { timer: null, sending: false, again: false, lastAt: -Infinity };
    this.due.set(folderId, state);
    if (state.sending) return void (state.again = true);
    if (state.timer !== null) return;
    const wait = Math.max(0, state.lastAt + (this.o.intervalMs ?? REPORT_INTERVAL_MS) - this.o.timers.now());
    state.timer = this.o.timers.setTimeout(() => {
      const sending = this.send(folderId);
      this.inFlight.add(sending);
      void sending.finally(() => this.inFlight.delete(sending));
    }, wait);
  }

  stop(): void {
    this.stopped = true;
    if (this.heartbeat !== null) this.o.timers.clearTimeout(this.heartbeat);
    for (const state of this.due.values()) if (state.timer !== null) this.o.timers.clearTimeout(state.timer);
    this.due.clear();
  }

  /**
   * The agent stops cleanly: each folder's last report says so (`stopped`, docs/sync-api.md,
   * "Devices"), so the other devices read this one as quit at once, not after three minutes of
   * silence. Best effort within `deadlineMs` in all, reports already on their way first: what has
   * not got through by then is cut off and left (a killed agent sends nothing either). Never throws.
   */
  async reportStopped(folderIds: readonly string[], deadlineMs = STOP_REPORT_MS): Promise<void> {
    this.stop();
    const remote = this.o.remote();
    if (!remote || folderIds.length === 0) return;
    const abort = new AbortController();
    let timer: unknown = null;
    const deadline = new Promise<null>((resolve) => {
      timer = this.o.timers.setTimeout(() => resolve(null), deadlineMs);
    });
    const work = (async () => {
      await Promise.allSettled([...this.inFlight]);
      const sent = await Promise.allSettled(
        folderIds.map(async (folderId) => {
          const folder = this.o.store.folders.get(folderId);
          if (!folder) return;
          await this.put(remote, folder.remoteId, { ...this.build(folderId), stopped: true }, { signal: abort.signal });
        }),
      );
      return sent.filter((r) => r.status === 'rejected').map((r) => asFerryError((r as PromiseRejectedResult).reason));
    })();
    try {
      const failed = await Promise.race([work, deadline]);
      if (failed === null) this.o.log.info('the server did not take the report that this device stopped in time: the others read it as not reporting', { afterMs: deadlineMs });
      else if (failed.length > 0) this.o.log.info('the report that this device stopped was not sent', { code: failed[0]!.code, error: failed[0]!.message });
    } finally {
      this.o.timers.clearTimeout(timer);
      // Whatever is still on its way is cut off: the stop goes on.
      abort.abort();
      void work.catch(() => undefined);
    }
  }

  /** The report as of now; exported for tests through the class. */
  build(folderId: string): DeviceReport {
    const { store } = this.o;
    const counts = store.queue.countsByState(folderId);
    const failed = store.queue.page({ state: 'failed', folderId, offset: 0, limit: MAX_REPORTED_FAILURES }).items;
    const token = store.tokens.get(folderId);
    const pushed = new Set(failed.map((item) => item.path));
    const refused = (this.o.pullRefusals?.(folderId) ?? []).filter((r) => !pushed.has(r.path)).map(({ path, code }) => ({ path, code }));
    // A new-user try: a device with names that cannot be synced read "up to date" to the others.
    const unsyncable = (this.o.unsyncable?.(folderId) ?? []).map((n) => ({ path: n.path, code: 'unsyncable' }));
    const failures = [...failed.map((item) => ({ path: item.path, code: errorCodeOf(item.lastErrorCode) })), ...refused, ...unsyncable];
    // Nothing syncs in a folder in error here: the other devices say so, not "up to date" (a new-user try).
    const folder = store.folders.get(folderId);
    const folderError = folder?.state === 'error' ? errorCodeOf(folder.errorCode) : undefined;
    return {
      name: this.o.device.name,
      version: this.o.device.version,
      ...(token !== undefined ? { syncToken: token } : {}),
      pending: counts.pending + counts.in_flight + counts.retry_wait,
      failedCount: counts.failed + refused.length + unsyncable.length,
      // A local name the server would refuse as a path is not sent (the count still has it).
      failures: failures.filter((f) => checkSyncPath(f.path).ok).slice(0, MAX_REPORTED_FAILURES),
      ...(folderError !== undefined ? { folderError } : {}),
      ...(this.o.paused?.() ? { paused: true } : {}),
      // Told apart from the failing ones: most such names never pass the wire's checks, so the
      // others could not tell them in the list (a new-user try read "1 failing" there).
      ...(unsyncable.length > 0 ? { unsyncableCount: unsyncable.length } : {}),
      // Its unsent deletes (or the others' it has not applied) wait on its user: not lag (a new-user try).
      ...(folder?.state === 'paused_mass_delete' ? { massDeleteHeld: true } : {}),
    };
  }

  private async send(folderId: string): Promise<void> {
    const state = this.due.get(folderId);
    if (!state || this.stopped) return;
    state.timer = null;
    const folder = this.o.store.folders.get(folderId);
    const remote = this.o.remote();
    if (!folder || !remote) return;
    state.sending = true;
    state.lastAt = this.o.timers.now();
    try {
      const reply = await this.put(remote, folder.remoteId, this.build(folderId));
      if (reply.wantedBlocks?.length) this.o.onWanted?.(folderId, reply.wantedBlocks);
    } catch (error) {
      const e = asFerryError(error);
      this.o.log.debug('device report not sent', { folder: folderId, code: e.code, error: e.message });
    } finally {
      state.sending = false;
    }
    if (state.again) {
      state.again = false;
      this.schedule(folderId);
    }
  }

  /** One report, sent again without the later keys when a server from before them refuses one. */
  private put(remote: ReportRemote, remoteId: string, report: DeviceReport, call: ReportCall = {}): ReturnType<ReportRemote['reportDevice']> {
    return remote.reportDevice(remoteId, this.withoutLaterKeys ? withoutLaterKeys(report) : report, call).catch((error: unknown) => {
      const e = asFerryError(error);
      const refused = LATER_KEYS.filter((key) => report[key] !== undefined && e.message.includes(key));
      if (this.withoutLaterKeys || e.code !== 'invalid_request' || refused.length === 0) throw error;
      this.withoutLaterKeys = true;
      this.o.log.info('the server takes no later keys in device reports (a server from before them): reported without them', { keys: refused.join(', ') });
      return remote.reportDevice(remoteId, withoutLaterKeys(report), call);
    });
  }
}

/** Queue error codes are the engine's own; anything that is not a plain code is reported as `failed`. */
function withoutLaterKeys(report: DeviceReport): DeviceReport {
  const plain = { ...report };
  for (const key of LATER_KEYS) delete plain[key];
  return plain;
}

function errorCodeOf(code: string | null): string {
  return code !== null && /^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : 'failed';
}

/** Every device's state of each folder (or one), marked where it is this agent; a folder the server cannot answer for says why. */
export async function listFolderDevices(
  store: Pick<Store, 'folders'>,
  remote: { listDevices(remoteId: string): Promise<DeviceState[]> } | null,
  selfId: string,
  folderId?: string,
): Promise<FolderDevices[]> {
  const folders = store.folders.list().filter((f) => folderId === undefined || f.id === folderId);
  return Promise.all(
    folders.map(async (folder) => {
      if (!remote) return { folderId: folder.id, devices: [], error: 'The agent is not connected to a server' };
      try {
        const devices = await remote.listDevices(folder.remoteId);
        return { folderId: folder.id, devices: devices.map((d) => ({ ...d, self: d.device === selfId })), error: null };
      } catch (error) {
        return { folderId: folder.id, devices: [], error: asFerryError(error).message };
      }
    }),
  );
}
