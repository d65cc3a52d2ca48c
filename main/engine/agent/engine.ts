import { FerryError, asFerryError } from '../../../protocol/errors';
import type { Settings } from '../../../shared/settings';
import type { Logger } from '../../logging';
import { SyncApiClient } from '../../remote';
import { clientTransport } from '../../remote/transport';
import type { Store } from '../../store';
import { ActivityBatch } from '../activity-batch';
import { DISK_FULL } from '../disk-full';
import type { FolderSet } from '../folder/folders';
import { DEFAULT_MASS_DELETE, type MassDeleteOptions } from '../folder/mass-delete';
import { createPuller, onlyWaitedOnThisDevice, type Puller, type PullerEvents, type PullerOptions } from '../pull';
import { createPusher, FOLDER_NOT_MADE, type CurrentPusher, type ItemEvent, type Pusher, type PusherOptions } from '../push';
import { classify } from '../push/retry-policy';
import { ConnectionWatch, linkProblemOf, type Link } from './connection';
import type { DeviceReporter } from './device-report';
import type { AgentEventBus } from './events';
import type { EngineNow, StatusBoard } from './status';
import { renamedAwayTo } from '../scanner';

/** Pushes and pulls bound to one server and token; rebuilt when those change. */
export interface EngineParts {
  remote: SyncApiClient;
  pusher: Pusher;
  puller: Puller;
  /** Online, offline or refused token, from every request the engine makes. */
  watch: ConnectionWatch;
}

export interface EngineHostOptions {
  store: Store;
  deviceId: string;
  deviceName: string;
  /** Another device's name from its id, for the pull's Activity lines; `know` looks up those not known yet. */
  deviceNames?: { label: (id: string) => string; know: (ids: readonly string[]) => Promise<void> };
  log: Logger;
  settings: () => Settings;
  folders: FolderSet;
  status: StatusBoard;
  reporter: DeviceReporter;
  bus: AgentEventBus;
  /** The folders' handle on the pusher: pointed at each one this builds. */
  pushWake: CurrentPusher;
  tuning?: { push?: Partial<PusherOptions>; pull?: Partial<PullerOptions> };
}

const PAUSED_KEY = 'paused';

/** The pusher's share of the settings the user controls; applied in place (setOptions). */
export function pushOptionsOf(settings: Settings): Partial<PusherOptions> {
  return {
    concurrency: settings.concurrency,
    retryLimit: settings.retryLimit,
    bandwidthLimit: settings.bandwidthLimit,
    asyncThreshold: settings.asyncThreshold,
  };
}

/**
 * An engine as the host runs it. `setup` ends the start's wait for the server when the engine
 * is stopped; `unmade` are the remote folders the server has not made yet because it could not
 * be reached: made as soon as it answers, then their pushes and pulls go again. `madeLate` says
 * when each of those was made: an upload sent before that may still be answered `not_found`.
 * A folder the server refused to make (another account's id) is not waited for: its uploads
 * fail with the server's reason. `refused` names those, and folders whose uploads failed as not
 * found: once a pull of one gets through (the folder shared with this user since), what failed
 * there is retried.
 */
type Running = EngineParts & { offs: Array<() => void>; setup: AbortController; unmade: Set<string>; refused: Set<string>; madeLate: Map<string, number>; making: Promise<void> | null };

/** How long after a late folder was made an upload answered `not_found` is still taken for one sent before. */
const MADE_LATE_GRACE_MS = 30_000;

/**
 * The engine of the moment (pusher, puller, connection watch) and what runs it: start and
 * stop, Pause and Resume (kept across restarts), Sync now, new options applied in place.
 * It wires the two sides together (a conflict pulls the path, a pull wakes the pusher) and
 * hands their events to the folders, the status, the device reporter and the UI's events.
 */
export class EngineHost {
  private current: Running | null = null;
  private pausedNow: boolean;
  /** Pushes stopping or starting for Pause and Resume, one after the other. */
  private pauseWork: Promise<void> = Promise.resolve();
  /** Pulls the UI asked for and that have not settled yet ("Sync now" shows as syncing). */
  private pullsRunning = 0;
  /** Conflicted queue items (id:generation) already looked at again right after their pull. */
  private readonly recheckedConflicts = new Set<string>();

  constructor(private readonly o: EngineHostOptions) {
    this.pausedNow = o.store.settings.get(PAUSED_KEY) === '1';
  }

  get parts(): EngineParts | null {
    return this.current;
  }

  get paused(): boolean {
    return this.pausedNow;
  }

  require(): EngineParts {
    if (!this.current) throw new FerryError('not_running', 'The agent is not running', { retryable: true });
    return this.current;
  }

  /** What the status reads of the engine. */
  now(): EngineNow {
    return {
      paused: this.pausedNow,
      link: this.link(),
      push: this.current?.pusher.status() ?? null,
      pullsRunning: this.pullsRunning + (this.current?.puller.applyingNow() ?? 0),
      pullFailure: (folderId) => this.current?.puller.health.failure(folderId) ?? null,
      pullRefusals: (folderId) => this.current?.puller.health.refusals(folderId) ?? [],
      incoming: (folderId) => this.current?.puller.incoming(folderId) ?? 0,
    };
  }

  link(): Link {
    return this.current?.watch.current ?? { state: 'online' };
  }

  /** New items may be due. */
  kick(): void {
    this.current?.pusher.kick();
  }

  async start(): Promise<void> {
    const engine = this.build();
    this.current = engine;
    this.o.pushWake.set(engine.pusher);
    const folders = this.o.settings().folders;
    // With no folder nothing asks the server anything: one probe, so that the state says whether
    // it answers (a new-user try read "idle" with nothing listening at the server's address).
    if (folders.length === 0) void engine.watch.checkNow();
    await this.makeRemoteFolders(engine, folders.map((f) => f.remoteId));
    // Stopped, or replaced by a newer start, while it waited for the server: that stop let it go.
    if (this.current !== engine) return;
    // Paused, nothing is sent: the pusher starts at Resume.
    if (!this.pausedNow) {
      await engine.pusher.start();
      engine.puller.start();
    }
  }

  async stop(): Promise<void> {
    const engine = this.current;
    this.current = null;
    this.o.pushWake.set(null);
    if (!engine) return;
    engine.setup.abort();
    for (const off of engine.offs) off();
    engine.watch.stop();
    await this.pauseWork;
    await Promise.allSettled([engine.pusher.stop(), engine.puller.stop()]);
    engine.remote.close();
  }

  /** Thresholds and limits apply in place: uploads in flight carry on. */
  applyOptions(settings: Settings): void {
    this.current?.pusher.setOptions(pushOptionsOf(settings));
    this.current?.puller.setOptions({ massDeletePercent: settings.massDeletePercent, massDeleteCount: settings.massDeleteCount });
  }

  /**
   * Folders added to the running engine: created on the server, and the puller starts again
   * with their long polls. The pusher looks folders up as it goes, so uploads in flight carry on.
   */
  async foldersAdded(folderIds: string[]): Promise<void> {
    const engine = this.current;
    if (!engine) return;
    await this.makeRemoteFolders(engine, folderIds);
    // In turn with Pause and Resume, which stop and start the same puller.
    this.pauseWork = this.pauseWork
      .then(async () => {
        await engine.puller.stop();
        if (!this.pausedNow && this.current === engine) engine.puller.start();
      })
      .catch((error) => this.o.log.error('could not start pulling the new folders', { error: asFerryError(error).message }));
    await this.pauseWork;
  }

  /**
   * A folder's root is back: its pull runs now, not when the backoff of its failed pulls ends
   * (minutes by then). A failure is the pull's own to report (its health), as any other.
   */
  pullRecovered(folderId: string): void {
    if (this.pausedNow || !this.current) return;
    // Its loop waited while the folder was not ok: it long-polls again from now on.
    this.current.puller.syncsAgain(folderId);
    void this.current.puller.pullNow(folderId).catch(() => undefined);
  }

  /**
   * The UI's Sync now: the link checked, the folders rescanned and pulled, the queue looked at.
   * Resolves once the link was probed again: its state is fresh then.
   */
  syncNow(folderId?: string): Promise<void> {
    const engine = this.require();
    if (folderId !== undefined) this.o.folders.require(folderId);
    if (this.pausedNow) throw new FerryError('paused', 'Ferry is paused: resume it to sync', { status: 409 });
    const probed = engine.watch.checkNow();
    for (const id of folderId ? [folderId] : this.o.folders.ids()) {
      void this.o.folders.rescan(id)?.then(() => engine.pusher.kick());
      this.pullsRunning++;
      engine.puller
        .pullNow(id)
        .catch((error) => this.logPullFailure('pull failed', id, error))
        .finally(() => {
          this.pullsRunning--;
          this.o.bus.statusChanged();
        });
    }
    engine.pusher.kick();
    this.o.bus.statusChanged();
    return probed;
  }

  setPaused(value: boolean): void {
    if (this.pausedNow === value) return;
    this.pausedNow = value;
    this.o.store.settings.set(PAUSED_KEY, value ? '1' : '0');
    // The other devices see it paused, and no longer once it resumes.
    for (const id of this.o.folders.ids()) this.o.reporter.schedule(id);
    const engine = this.current;
    if (engine) {
      this.pauseWork = this.pauseWork
        .then(async () => {
          if (value) {
            // Nothing more is sent: uploads and downloads in flight are aborted, and what
            // they held goes back to pending. Blocks already on the server are not sent again.
            await Promise.all([engine.pusher.stop(), engine.puller.stop()]);
            this.o.store.queue.recoverInFlight();
          } else if (this.current === engine) {
            await engine.pusher.start();
            engine.puller.start();
            await engine.watch.checkNow();
          }
        })
        .catch((error) => this.o.log.error('pause or resume failed', { error: asFerryError(error).message }))
        .finally(() => this.o.bus.statusChanged());
    }
    this.o.bus.statusChanged();
  }

  private build(): Running {
    const { store, folders, status, reporter, bus, log } = this.o;
    const settings = this.o.settings();
    let linkWas: Link['state'] = 'online';
    const watch: ConnectionWatch = new ConnectionWatch({
      probe: () => remote.probe(),
      onChange: (link) => {
        log.info('sync server link', { state: link.state, reason: 'reason' in link ? link.reason : undefined });
        // Signed out, and back: said in Activity, whose lines outlive the state (a new-user try).
        if (link.state === 'auth_failed' && linkWas !== 'auth_failed') store.activity.add({ kind: 'signed_out', message: `Signed out: ${link.reason}` });
        if (link.state === 'online' && linkWas === 'auth_failed') store.activity.add({ kind: 'signed_in', message: 'The sync server accepts this computer again: syncing goes on' });
        // Gone and back, each said once (a new-user try read "Pull failed (offline)" and nothing after).
        if (link.state === 'offline' && linkWas !== 'offline') store.activity.add({ kind: 'offline', message: `The sync server cannot be reached (${link.reason}): Ferry syncs by itself as soon as it answers` });
        if (link.state === 'online' && linkWas === 'offline') store.activity.add({ kind: 'online', message: 'The sync server answers again: syncing goes on' });
        linkWas = link.state;
        if (link.state === 'online') {
          // Back: uploads waiting on the pusher's own probe and pulls in backoff go now.
          pusher.kick();
          this.remakeFolders(engine);
          if (pusher.status().connectivity === 'online' && !this.pausedNow) puller.setOnline(true);
        }
        bus.statusChanged();
      },
    });
    const remote = new SyncApiClient({ baseUrl: settings.serverUrl, token: settings.token, deviceId: this.o.deviceId, observer: watch, ...clientTransport(settings.serverUrl, settings) });
    const pusher = createPusher({
      store,
      remote,
      onConflict: ({ folderId, path }) => this.recheckAfterPull(puller, pusher, folderId, path),
      folderUnmade: (folderId) => engine.unmade.has(folderId) || Date.now() - (engine.madeLate.get(folderId) ?? -Infinity) < MADE_LATE_GRACE_MS,
      options: { ...pushOptionsOf(settings), ...this.o.tuning?.push },
    });
    const puller = createPuller({
      store,
      remote,
      device: { id: this.o.deviceId, name: this.o.deviceName },
      ...(this.o.deviceNames ? { deviceLabel: this.o.deviceNames.label, knowDevices: this.o.deviceNames.know } : {}),
      options: { ...settingsMassDelete(settings), ...this.o.tuning?.pull },
      exclusive: (folderId, pull) => folders.exclusive(folderId, pull),
      applying: (folderId) => folders.coordinator(folderId).applying,
      renamedUnsyncable: (folderId, relPath) => renamedAwayTo(folders.unsyncableOf(folderId), relPath),
      ignores: (folderId, relPath, isDir) => folders.ignores(folderId, relPath, isDir),
    });
    // A batch's uploads written to Activity in one commit, not one each.
    const pushLines = new ActivityBatch(store.activity, log);
    const offs: Array<() => void> = [
      () => pushLines.flush(),
      pusher.on('item', (event) => {
        bus.itemChanged(event.id);
        status.pushItem(event);
        folders.pushOutcome(event.folderId, event.state, event.code);
        if (event.state === 'done' || event.state === 'failed') recordPushActivity(pushLines, event);
        if (event.state === 'failed') reporter.schedule(event.folderId);
        // The server has not made the folder yet: it is made when it answers, then what waited goes.
        if ((event.state === 'failed' && event.code === 'not_found') || (event.state === 'retry_wait' && event.code === FOLDER_NOT_MADE)) this.remakeFolders(engine);
        if (event.state === 'failed' && event.code === 'not_found') engine.refused.add(event.folderId);
        bus.statusChanged();
      }),
      pusher.on('itemProgress', (event) => {
        status.pushProgress(event.id, event.bytesDone);
        bus.itemChanged(event.id);
      }),
      pusher.on('run', (event) => {
        status.pushRun(event);
        if (!event.active) for (const id of folders.ids()) reporter.schedule(id);
        bus.statusChanged();
      }),
      pusher.on('connectivity', ({ state }) => {
        puller.setOnline(state === 'online');
        bus.statusChanged();
      }),
    ];
    const on = <K extends keyof PullerEvents>(name: K, listener: (...args: PullerEvents[K]) => void) => {
      puller.events.on(name, listener as never);
      offs.push(() => puller.events.off(name, listener as never));
    };
    on('pulled', ({ folderId, paused }) => {
      // A folder the server refused (another user's, not shared with this one) is reachable now:
      // what failed there goes again (a new-user try: the upload stayed failed after the share).
      if (engine.refused.delete(folderId)) {
        const retried = pusher.retryAll(folderId);
        if (retried > 0) log.info('the folder is reachable now: retrying what failed there', { folder: folderId, items: retried });
      }
      if (!paused) {
        status.markSynced(folderId);
        // A full disk holds the folder in disk_full until a pull gets through again.
        folders.pullDiskFreed(folderId);
      }
      reporter.schedule(folderId);
      // Conflict copies and re-uploads the pull queued go up now.
      pusher.kick();
      status.recount(folderId);
      bus.statusChanged();
    });
    on('paused', () => bus.statusChanged());
    on('applying', () => bus.statusChanged());
    on('holdEnded', ({ folderId }) => folders.pullHoldEnded(folderId));
    on('error', ({ folderId, error }) => {
      if (error.code === DISK_FULL) folders.pullDiskFull(folderId, error.message);
      if (error.code === 'not_found') {
        // Removed on the server (`ferry server folder remove`) while this device syncs it: made
        // again, as a start makes it (a new-user try's device stayed in error until a restart).
        // One the server refused to make (another user's id) is not asked again here.
        if (!engine.refused.has(folderId)) engine.unmade.add(folderId);
        this.remakeFolders(engine);
      }
      // A failed pull can put the folder in error (refused: unshared, removed on the server): the
      // open UI and the terminal's state line follow (a new-user try read "Idle" after an unshare).
      // Not for a wait of a second on this device's own upload, which changes nothing shown.
      if (!onlyWaitedOnThisDevice(error)) bus.statusChanged();
    });
    on('applied', ({ action }) => {
      if (action === 'downloaded') status.downloaded();
    });
    on('received', ({ bytes }) => status.received(bytes));
    // Uploads an earlier run saw refused as not_found (the folder not shared with this user yet)
    // go once a pull gets through, as in the run that saw them (a restart in between left them failed).
    const refused = new Set(this.o.store.queue.foldersFailedWith('not_found'));
    const engine: Running = { remote, pusher, puller, watch, offs, setup: new AbortController(), unmade: new Set(), refused, madeLate: new Map(), making: null };
    return engine;
  }

  /**
   * docs/conflict-rules.md: a conflict pulls that path (keep both versions); then the parked
   * upload is looked at again at once instead of at the next recheck: dropped, or sent on the new base.
   */
  private recheckAfterPull(puller: Puller, pusher: Pusher, folderId: string, relPath: string): void {
    const store = this.o.store;
    const stillConflicting = () => {
      const item = store.queue.getByPath(folderId, relPath);
      return item?.state === 'retry_wait' && item.lastErrorCode === 'conflict' ? item : undefined;
    };
    void puller
      .pullNow(folderId)
      .then(async () => {
        const item = stillConflicting();
        if (!item) return;
        // Once per change: a conflict the pull cannot settle waits for the regular recheck
        // instead of looping.
        const key = `${item.id}:${item.generation}`;
        if (this.recheckedConflicts.has(key)) return;
        this.recheckedConflicts.add(key);
        // The pull did not settle it: the server holds something at or below the path that the
        // feed has passed (an entry an earlier pull refused). A full pull lists it again
        // (docs/conflict-rules.md, "Conflicts that wait"; chaos seed 60039).
        store.tokens.clear(folderId);
        await puller.pullNow(folderId);
        const after = stillConflicting();
        if (after) pusher.retry(after.id);
      })
      .catch((error) => this.logPullFailure('conflict pull failed', folderId, error));
  }

  /** A pull asked for here that failed: a warning, unless it only waited a second on this device's own upload. */
  private logPullFailure(what: string, folderId: string, error: unknown): void {
    (onlyWaitedOnThisDevice(error) ? this.o.log.debug : this.o.log.warn).call(this.o.log, what, { folder: folderId, error: asFerryError(error).message });
  }

  /**
   * Creates the remote folders (idempotent). One the server could not be asked to make (not
   * reached, or failing) is left in `unmade` and made again when it answers (remakeFolders); one
   * it refused (found by review: an id another account's folder has, answered 404) is not waited
   * for: its uploads fail with the server's reason. Returns the folders made.
   */
  private async makeRemoteFolders(engine: Running, folderIds: readonly string[]): Promise<string[]> {
    const made: string[] = [];
    for (const id of folderIds) {
      if (engine.setup.signal.aborted) break;
      try {
        await engine.remote.createFolder(id, {}, { signal: engine.setup.signal });
        engine.unmade.delete(id);
        made.push(id);
      } catch (error) {
        const e = asFerryError(error);
        const refused = e.code !== 'aborted' && classify(error).action === 'fail';
        if (refused) {
          engine.unmade.delete(id);
          engine.refused.add(id);
        } else engine.unmade.add(id);
        // A server out of reach or refusing this device is the agent's state line to say, once.
        // not_found to a make: the id is another user's folder, not shared with this device's user (a new-user try read "refused to make … not found").
        const said = !refused ? 'could not check the remote folder yet' : e.code === 'not_found' ? "the remote folder is another user's, not shared with this device's user (its owner or the server's admin can share it)" : 'the server refused to make the remote folder';
        if (e.code !== 'aborted') (refused ? this.o.log.warn : linkProblemOf(error) ? this.o.log.debug : this.o.log.warn).call(this.o.log, said, { folder: id, code: e.code, error: e.message });
      }
    }
    return made;
  }

  /**
   * The server answers again (or said a folder is not there): the remote folders not made yet
   * are made, and what failed or waited for them goes now. One round at a time.
   */
  private remakeFolders(engine: Running): void {
    if (engine.unmade.size === 0 || engine.making || this.current !== engine) return;
    engine.making = this.makeRemoteFolders(engine, [...engine.unmade])
      .then((made) => {
        if (this.current !== engine) return;
        for (const id of made) {
          this.o.log.info('remote folder made', { folder: id });
          engine.madeLate.set(id, Date.now());
          engine.pusher.retryAll(id);
          if (!this.pausedNow) this.pullRecovered(id);
        }
      })
      .finally(() => (engine.making = null));
  }
}

/**
 * The mass-delete thresholds of the settings, as the guard and the puller weigh them (a tiny
 * folder losing one or two files is not a mass delete, whatever the share: the default minimum).
 */
export function settingsMassDelete(settings: Settings): MassDeleteOptions {
  return { massDeletePercent: settings.massDeletePercent, massDeleteCount: settings.massDeleteCount, massDeleteMinCount: DEFAULT_MASS_DELETE.massDeleteMinCount };
}

/** What a push writes to Activity: uploads and deletes done, items failed for good. */
function recordPushActivity(lines: Pick<ActivityBatch, 'add'>, event: ItemEvent): void {
  if (event.state === 'failed') {
    lines.add({ folderId: event.folderId, kind: 'failed', path: event.path, message: event.message ?? event.code ?? 'failed' });
  } else {
    // A move says so: no bytes went (a new-user try read a rename as "Uploaded"). A delete says it
    // was made here (a new-user try read "Deleted on the server" as someone else's doing).
    lines.add({
      folderId: event.folderId,
      kind: event.op === 'delete' ? 'deleted_local' : event.movedFrom !== undefined ? 'moved_local' : 'uploaded',
      path: event.path,
      message: event.op === 'delete' ? 'Deleted here, and now on the server' : event.movedFrom !== undefined ? `Moved on the server from ${event.movedFrom}` : 'Uploaded',
    });
  }
}
