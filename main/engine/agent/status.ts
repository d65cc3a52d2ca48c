import { agoWords } from '../../../shared/ago';
import { asFerryError } from '../../../protocol/errors';
import type { Logger } from '../../logging';
import type { Store } from '../../store';
import { ROOT_PROBLEMS } from '../folder-marker';
import type { FolderSet } from '../folder/folders';
import type { ItemEvent, PusherStatus, RunProgressEvent } from '../push';
import { WAITS_FOR_RENAME, withLinkReason, type PullFailure } from '../pull';
import { UNSYNCABLE_SHOWN, type AgentStatus, type FolderStatus } from './api';
import type { PairedAs } from './pairing';
import type { Link } from './connection';
import { openConflictCopies } from './conflict-copies';
import { RateMeter } from './rate-meter';
import { agentStateOf, busyReason, loadLastSync, saveLastSync } from './status-parts';

/** How old the folders' file and byte totals may be in a status. */
const TOTALS_MAX_AGE_MS = 2000;

/** What the status reads of the engine of the moment. */
export interface EngineNow {
  paused: boolean;
  link: Link;
  push: PusherStatus | null;
  /** Pulls the UI asked for that have not settled yet ("Sync now" shows as syncing), and pulls applying what they found. */
  pullsRunning: number;
  /** Each folder's failing pull, while its pulls fail (the puller's). */
  pullFailure: (folderId: string) => PullFailure | null;
  /** The paths each folder's pulls left as they are for good (a local entry in the way, an unsafe path). */
  pullRefusals: (folderId: string) => ReadonlyArray<{ path: string; message: string }>;
  /** How many changes from the server each folder's pull is applying now. */
  incoming: (folderId: string) => number;
}

export interface StatusBoardOptions {
  store: Store;
  folders: FolderSet;
  engine: () => EngineNow;
  deviceId: string;
  deviceName: string;
  log: Logger;
  /** Whom the stored token signs this device in as (settings-apply.ts). */
  pairedAs?: () => PairedAs | null;
}

/** A folder's counts that a status may show a little late (TOTALS_MAX_AGE_MS). */
interface Totals {
  files: number;
  bytes: number;
  conflicts: number;
  ignoredOnServer: number;
}

/** Idle, a rate reads zero once nothing has moved for this long. */
const RATE_QUIET_MS = 1000;

/**
 * The agent's status: its one-word state and reason, the folders' states, the queue counts,
 * the last sync times (kept across restarts), the transfer rates and the run in progress.
 * It owns the rates and last-sync times, fed by the pusher's and puller's events.
 */
export class StatusBoard {
  private readonly lastSync: Map<string, number>;
  private lastSyncAt: number | null;
  private lastSyncSaved = 0;
  private run: RunProgressEvent | null = null;
  /** Bytes of each in-flight upload seen so far, so progress events add only the difference. */
  private readonly progressSeen = new Map<number, number>();
  private readonly rates = { upload: new RateMeter(), download: new RateMeter(), items: new RateMeter() };
  private readonly totals = new Map<string, Totals & { at: number }>();
  private ticker: NodeJS.Timeout | null = null;

  constructor(private readonly o: StatusBoardOptions) {
    this.lastSync = loadLastSync(o.store.settings);
    this.lastSyncAt = Math.max(0, ...this.lastSync.values()) || null;
  }

  /** A push or pull of the folder completed. */
  markSynced(folderId: string): void {
    const now = Date.now();
    this.lastSync.set(folderId, now);
    this.lastSyncAt = now;
    // Kept across restarts; written at most once a second (a run completes thousands a second).
    if (now - this.lastSyncSaved >= 1000) {
      this.lastSyncSaved = now;
      this.keepLastSync();
    }
  }

  /** A pushed item moved on: done items count in the rates. */
  pushItem(event: ItemEvent): void {
    if (event.state === 'done') {
      this.markSynced(event.folderId);
      this.rates.items.add(1);
      // Small files may finish without a progress event: count what was not seen yet.
      const total = event.op === 'upsert' ? (event.bytesTotal ?? 0) : 0;
      this.rates.upload.add(Math.max(0, total - (this.progressSeen.get(event.id) ?? 0)));
    }
    if (event.state !== 'uploading' && event.state !== 'committing') this.progressSeen.delete(event.id);
  }

  pushProgress(id: number, bytesDone: number): void {
    const seen = this.progressSeen.get(id) ?? 0;
    if (bytesDone > seen) this.rates.upload.add(bytesDone - seen);
    this.progressSeen.set(id, bytesDone);
  }

  pushRun(event: RunProgressEvent): void {
    this.run = event.active ? event : null;
  }

  /** A file the pull downloaded (its bytes counted as they came: received). */
  downloaded(): void {
    this.rates.items.add(1);
  }

  /**
   * Bytes of a download that came from the server, counted as each block arrives: a long download
   * shows its rate while it goes (a new-user try saw none until the file was placed). Blocks
   * found on this disk (a move, a copy) are no download.
   */
  received(bytes: number): void {
    this.rates.download.add(bytes);
  }

  /** Rates fall to zero once nothing moves: `onMoving` is told so while they fall, not only at the next change. */
  startTicker(onMoving: () => void): void {
    let moving = false;
    this.ticker = setInterval(() => {
      const now = this.rates.upload.perSecond() + this.rates.download.perSecond() + this.rates.items.perSecond() > 0;
      if (now || moving) onMoving();
      moving = now;
    }, 1000);
    this.ticker.unref();
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.keepLastSync();
  }

  status(): AgentStatus {
    const store = this.o.store;
    const engine = this.o.engine();
    const counts = store.queue.countsByState();
    const folders = this.folderStatuses(engine);
    const busy = busyReason({
      counts,
      pusherHolds: engine.push?.inFlight ?? 0,
      pullsRunning: engine.pullsRunning,
      incoming: folders.reduce((n, f) => n + (f.incoming ?? 0), 0),
      scanning: folders.filter((f) => f.state === 'scanning').map((f) => f.id),
    });
    const { state, reason } = agentStateOf({ paused: engine.paused, link: engine.link, folders, busy });
    // Paused, or idle with nothing moved for a second: the rates say so at once rather than fading
    // over the window (a new-user try read a download rate beside "idle" for 5 s). While busy a
    // slow link's blocks may come seconds apart, so the window's average stands.
    // Nor does anything move while the server is out of reach or refuses this device (a new-user try read "up 104.9 KB/s" beside offline).
    const rate = (meter: RateMeter) => (engine.paused || engine.link.state !== 'online' || (busy === null && meter.quietForMs() > RATE_QUIET_MS) ? 0 : meter.perSecond());
    return {
      state,
      reason,
      counts,
      folders,
      lastSyncAt: this.lastSyncAt ? new Date(this.lastSyncAt).toISOString() : null,
      rates: {
        uploadBytesPerSec: rate(this.rates.upload),
        downloadBytesPerSec: rate(this.rates.download),
        itemsPerSec: rate(this.rates.items),
      },
      run: this.run ? { name: this.run.run, itemsLeft: counts.pending + counts.in_flight, bytesLeft: store.queue.pendingBytes() } : null,
      deviceId: this.o.deviceId,
      deviceName: this.o.deviceName,
      pairedAs: this.o.pairedAs?.() ?? null,
    };
  }

  private folderStatuses(engine: EngineNow): FolderStatus[] {
    return this.o.folders.list().map((folder) => {
      const synced = this.lastSync.get(folder.id);
      const failure = engine.pullFailure(folder.id);
      const incoming = engine.incoming(folder.id);
      return {
        id: folder.id,
        localPath: folder.localRoot,
        remoteId: folder.remoteId,
        ...withPullsRefused(whileIncoming(this.o.folders.stateOf(folder), incoming), failure),
        // A pull waiting for the server while it is out of reach says the link's newest reason (a
        // new-user try read an old "unreachable (ECONNREFUSED)" here beside the certificate's).
        pullError: failure?.code === WAITS_FOR_RENAME ? null : pullErrorLine(withLinkReason(failure, engine.link.state === 'online' ? null : engine.link), Date.now()),
        ...(failure?.code === WAITS_FOR_RENAME ? { pullWait: failure.message } : {}),
        ...incomingOf(incoming),
        lastSyncAt: synced ? new Date(synced).toISOString() : null,
        counts: this.o.store.queue.countsByState(folder.id),
        ...this.folderTotals(folder),
        // What another device has that the pull cannot place here is not in sync either (a new-user
        // try read "everything in sync" beside a file a local link kept out).
        ...unsyncableOf([...this.o.folders.unsyncableOf(folder.id), ...engine.pullRefusals(folder.id).map((r) => ({ path: r.path, reason: `the pull left it as it is: ${r.message}` }))]),
      };
    });
  }

  /**
   * A scan or pull of the folder ended: its totals are counted afresh in the next status. Else a
   * status sent right after the one that counted them kept the old totals until the next
   * change, which may be minutes away (found by a new-user try: "23 files" for 20 s after a
   * confirmed delete of 20 of them, with nothing moving to send another status).
   */
  recount(folderId: string): void {
    this.totals.delete(folderId);
  }

  /**
   * Files, bytes and conflict copies still on disk per folder, and the paths the server has that
   * a rule keeps from here (docs/conflict-rules.md, "Ignored paths"), counted at most every
   * TOTALS_MAX_AGE_MS: status goes out several times a second.
   */
  private folderTotals(folder: { id: string; localRoot: string }): { files: number; bytes: number; conflicts: number; ignoredOnServer?: number } {
    const cached = this.totals.get(folder.id);
    const now = Date.now();
    const shown = (t: Totals) => ({ files: t.files, bytes: t.bytes, conflicts: t.conflicts, ...(t.ignoredOnServer > 0 ? { ignoredOnServer: t.ignoredOnServer } : {}) });
    if (cached && now - cached.at < TOTALS_MAX_AGE_MS) return shown(cached);
    const fresh = { ...this.o.store.index.totals(folder.id), conflicts: openConflictCopies(this.o.store, folder).length, ignoredOnServer: this.o.store.ignoredRemote.count(folder.id) };
    this.totals.set(folder.id, { at: now, ...fresh });
    return shown(fresh);
  }

  /** A nicety only: a state database that cannot grow (a full disk) must not stop the work. */
  private keepLastSync(): void {
    try {
      saveLastSync(this.o.store.settings, this.lastSync);
    } catch (error) {
      this.o.log.warn('could not save the last sync times', { error: asFerryError(error).message });
    }
  }
}

/** The folder's names that cannot be synced, a few by name; nothing when there are none. */
function unsyncableOf(names: ReadonlyArray<{ path: string; reason: string }>): Pick<FolderStatus, 'unsyncable'> {
  return names.length === 0 ? {} : { unsyncable: { count: names.length, shown: names.slice(0, UNSYNCABLE_SHOWN).map(({ path, reason }) => ({ path, reason })) } };
}

/**
 * A folder whose pulls the server refuses until something changes (no access to it, the folder
 * gone on the server) is in error, not "ok" beside a failing line: the user has something to do
 * (a new-user try, paired as a user the folder was not shared with, saw "idle" and "ok").
 */
export function withPullsRefused<S extends { state: FolderStatus['state']; error: string | null }>(folder: S, failure: PullFailure | null): S {
  // The server's refusal only (another user's folder looks absent: not_found): a path here the pull cannot write (unreadable, a name refused) is
  // that path's, said by `why` and the failing line, while the rest of the folder syncs.
  if (folder.state !== 'ok' || !failure || failure.retryable || failure.code !== 'not_found') return folder;
  // The server answers the same for a folder gone and one another user did not share: both said.
  const why = failure.code === 'not_found' ? `${failure.message} (removed there, or another user's folder not shared with this device's user; folder ids are one namespace on the server, so a folder of your own needs another remote id)` : failure.message;
  return { ...folder, state: 'error', error: `Pulls are refused: ${failure.code}: ${why}` };
}

/**
 * A folder whose pull is applying changes is not "scanning" for the hints that wait behind that
 * pull (its own downloads' among them): the state names the download (CI read "Looking through
 * folder" through a held download). A pull that only reads the feed leaves a waiting scan said.
 */
function whileIncoming<S extends { state: FolderStatus['state'] }>(folder: S, incoming: number): S {
  return incoming > 0 && folder.state === 'scanning' ? { ...folder, state: 'ok' } : folder;
}

/** The changes a pull applies in the folder now, said while it does (absent otherwise). */
function incomingOf(changes: number): { incoming?: number } {
  return changes > 0 ? { incoming: changes } : {};
}

/**
 * A failing pull in a line: code, message, since when, the next try (in seconds from now: an
 * instant already past read as stale; found by a new-user try). A folder whose root is missing,
 * not made yet or without its marker says so itself, in its error: its pulls' failure is not
 * said again (a new-user try read the marker's message four times on one page).
 */
export function pullErrorLine(failure: PullFailure | null, now: number): string | null {
  if (!failure || (ROOT_PROBLEMS as readonly string[]).includes(failure.code)) return null;
  const wait = failure.nextTryAt === null ? null : Math.round((failure.nextTryAt - now) / 1000);
  // Not retryable: it fails until its cause is fixed (access, a share), yet it is looked at again
  // (a new-user try read "not retryable, next try in 3 s").
  const next = failure.untilOnline
    ? ', tried again once the server answers'
    : wait === null
      ? ''
      : wait > 0
        ? `, ${failure.retryable ? 'next try' : 'looked at again'} in ${wait} s`
        : failure.retryable
          ? ', trying again now'
          : ', looked at again now';
  // "12 s ago" beside "next try in 5 s" (a new-user try read an ISO time there).
  return `${failure.code}: ${failure.message} (last failed ${agoWords(failure.at, now)}${failure.retryable ? '' : ', it fails until its cause is fixed'}${next})`;
}

