import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FerryError, asFerryError } from '../../../protocol/errors';
import { Settings, fieldErrors } from '../../../shared/settings';
import { createLogger, type Logger } from '../../logging';
import { SyncApiClient } from '../../remote';
import { clientTransport } from '../../remote/transport';
import { openStore, type Store } from '../../store';
import { DISK_FULL } from '../disk-full';
import { FolderCoordinator } from '../folder/coordinator';
import type { MassDeleteOptions } from '../folder/mass-delete';
import { readDeleted, readHistory } from '../history/listings';
import { restore as restoreOnServer } from '../history/restore-batch';
import { LocalSide, type LocalSideOptions } from '../local-side';
import { realTimers } from '../timers';
import { createPuller, type Puller, type PullerOptions } from '../pull';
import { createPusher, type Pusher, type PusherOptions, type RunProgressEvent } from '../push';
import { ConnectionWatch, observeRemote } from './connection';
import { DeviceReporter, listFolderDevices } from './device-report';
import { explainPath, locatePath } from './why';
import type { AgentApi, AgentEvent, AgentHandlers, AgentStatus, FolderStatus, SettingsUpdate, SettingsView } from './api';
import { AgentEventBus } from './events';
import { validateFolders, validateTransport } from './folder-rules';
import { RateMeter } from './rate-meter';
import { agentStateOf, loadLastSync, saveLastSync, settingsWarnings } from './status-parts';

/**
 * The agent: one engine (local side per folder → durable queue → pusher; puller) behind its
 * own API (./api). The Electron shell and the headless control API host it through
 * main/ui-adapter, which turns that API into the UI contract.
 */
export interface AgentOptions {
  dataDir: string;
  settings: Settings;
  /** Persists settings changed through the UI (the token included: the host decides how). */
  saveSettings: (settings: Settings) => void | Promise<void>;
  tokenProtection: 'os' | 'plaintext';
  deviceName?: string;
  /** The client's name and version the server's device list shows (e.g. `ferry/0.1.0`). */
  clientVersion?: string;
  /** better-sqlite3 built for Electron's ABI, when hosted by Electron. */
  nativeBinding?: string;
  log?: Logger;
  /** Test and benchmark tuning of the parts; defaults serve users. */
  tuning?: {
    push?: Partial<PusherOptions>;
    pull?: Partial<PullerOptions>;
    local?: Partial<
      Pick<LocalSideOptions, 'watch' | 'watcher' | 'nativeWatch' | 'settleMs' | 'maxDelayMs' | 'retryDelayMs' | 'rootCheckMs' | 'deleteQuietMs' | 'deleteMaxHoldMs'>
    >;
    /** How far back local deletes count together for the mass-delete guard. */
    deleteWindowMs?: number;
  };
}

export interface Agent extends AgentApi {
  readonly deviceId: string;
  readonly deviceName: string;
  readonly dataDir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): AgentStatus;
}

/** Pushes and pulls bound to one server and token; rebuilt when those change. */
interface Engine {
  remote: SyncApiClient;
  pusher: Pusher;
  puller: Puller;
  /** Online, offline or refused token, from every request the engine makes. */
  watch: ConnectionWatch;
  offs: Array<() => void>;
}

const STATE_DB = 'state.db';
/** A tiny folder losing one or two files is not a mass delete, whatever the share. */
const MASS_DELETE_MIN_COUNT = 3;
const DEVICE_ID_KEY = 'device_id';
/** How old the folders' file and byte totals may be in a status. */
const TOTALS_MAX_AGE_MS = 2000;
const PAUSED_KEY = 'paused';

function ensureDeviceId(store: Store): string {
  const existing = store.settings.get(DEVICE_ID_KEY);
  if (existing) return existing;
  const id = randomUUID();
  store.settings.set(DEVICE_ID_KEY, id);
  return id;
}

/** Relative tuning the pusher reads from the settings the user controls. */
function pushOptionsOf(settings: Settings): Partial<PusherOptions> {
  return {
    concurrency: settings.concurrency,
    retryLimit: settings.retryLimit,
    bandwidthLimit: settings.bandwidthLimit,
    asyncThreshold: settings.asyncThreshold,
  };
}

/** `~/Second` typed in the browser (which has no folder picker) means the home folder's Second. */
function expandHome<F extends { localPath: string }>(folder: F): F {
  const m = /^~(?=$|[\\/])/.exec(folder.localPath);
  return m ? { ...folder, localPath: path.join(os.homedir(), folder.localPath.slice(1)) } : folder;
}

export async function createAgent(options: AgentOptions): Promise<Agent> {
  validateFolders(options.settings.folders);
  validateTransport(options.settings);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const log = options.log ?? createLogger('agent');
  const store = openStore(path.join(options.dataDir, STATE_DB), {
    ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
    onActivity: (entry) => bus.emit({ type: 'activity', entry }),
  });
  const deviceId = ensureDeviceId(store);
  const deviceName = options.deviceName ?? os.hostname();
  let settings = options.settings;
  let engine: Engine | null = null;
  let paused = store.settings.get(PAUSED_KEY) === '1';
  let started = false;
  const locals = new Map<string, LocalSide>();
  const coordinators = new Map<string, FolderCoordinator>();
  const lastSync = loadLastSync(store.settings);
  const reporter = new DeviceReporter({
    store,
    remote: () => engine?.remote ?? null,
    device: { name: deviceName, version: options.clientVersion ?? 'ferry' },
    timers: realTimers,
    log: createLogger('engine:devices'),
  });
  /** Pulls the UI asked for and that have not settled yet ("Sync now" shows as syncing). */
  let pullsRunning = 0;
  /** Conflicted queue items (id:generation) already looked at again right after their pull. */
  const recheckedConflicts = new Set<string>();
  /** Bytes of each in-flight upload seen so far, so progress events add only the difference. */
  const progressSeen = new Map<number, number>();
  let lastSyncAt: number | null = Math.max(0, ...lastSync.values()) || null;
  let lastSyncSaved = 0;
  let run: RunProgressEvent | null = null;
  let rateTicker: NodeJS.Timeout | null = null;
  const rates = { upload: new RateMeter(), download: new RateMeter(), items: new RateMeter() };

  const bus = new AgentEventBus({
    status: () => status(),
    queueItems: (ids) =>
      ids.flatMap((id) => {
        const item = store.queue.get(id);
        return item ? [item] : [];
      }),
    onListenerError: (error) => log.warn('event listener failed', { error: asFerryError(error).message }),
  });

  /** A nicety only: a state database that cannot grow (a full disk) must not stop the work. */
  const keepLastSync = () => {
    try {
      saveLastSync(store.settings, lastSync);
    } catch (error) {
      log.warn('could not save the last sync times', { error: asFerryError(error).message });
    }
  };

  const markSynced = (folderId: string) => {
    const now = Date.now();
    lastSync.set(folderId, now);
    lastSyncAt = now;
    // Kept across restarts; written at most once a second (a run completes thousands a second).
    if (now - lastSyncSaved >= 1000) {
      lastSyncSaved = now;
      keepLastSync();
    }
  };

  // ── folders ──

  function folderLookup(folderId: string) {
    const folder = store.folders.get(folderId);
    return folder ? { localRoot: folder.localRoot, remoteId: folder.remoteId } : undefined;
  }

  /** Store folders follow the settings: the remote id is the folder's id. */
  function syncFolderRows(): { added: string[]; removed: string[] } {
    const wanted = new Map(settings.folders.map((f) => [f.remoteId, path.resolve(f.localPath)]));
    const added: string[] = [];
    const removed: string[] = [];
    for (const folder of store.folders.list()) {
      if (wanted.get(folder.id) !== folder.localRoot) {
        store.folders.remove(folder.id);
        removed.push(folder.id);
      }
    }
    for (const [remoteId, localRoot] of wanted) {
      if (!store.folders.get(remoteId)) {
        store.folders.add({ id: remoteId, localRoot, remoteId });
        added.push(remoteId);
      }
    }
    return { added, removed };
  }

  const massDelete = (): MassDeleteOptions => ({
    massDeletePercent: settings.massDeletePercent,
    massDeleteCount: settings.massDeleteCount,
    massDeleteMinCount: MASS_DELETE_MIN_COUNT,
  });

  /** The folder's owner: its state, its scans and pulls in turn, the answer to a held mass delete. */
  function coordinatorOf(folderId: string): FolderCoordinator {
    let coordinator = coordinators.get(folderId);
    if (!coordinator) {
      coordinator = new FolderCoordinator({
        store,
        folderId,
        massDelete,
        onChange: () => bus.statusChanged(),
        ...(options.tuning?.deleteWindowMs !== undefined ? { deleteWindowMs: options.tuning.deleteWindowMs } : {}),
      });
      coordinators.set(folderId, coordinator);
    }
    return coordinator;
  }

  function startLocal(folderId: string): void {
    if (locals.has(folderId)) return;
    const local = new LocalSide({
      store,
      folderId,
      ...options.tuning?.local,
      ignoreRules: settings.ignoreRules,
      deviceName,
      coordinator: coordinatorOf(folderId),
      isApplying: (relPath) => engine?.puller.isApplying(folderId, relPath) ?? false,
      onScanned: (result) => {
        if ((result.outcomes.queued ?? 0) + (result.outcomes.deleted ?? 0) > 0) {
          engine?.pusher.kick();
          // What this device has not sent yet is part of its digest.
          reporter.schedule(folderId);
        }
        bus.statusChanged();
      },
      onError: (error) => {
        log.warn('folder problem', { folder: folderId, code: error.code, error: error.message });
        bus.statusChanged();
      },
    });
    locals.set(folderId, local);
    local.start().then(
      () => {
        engine?.pusher.kick();
        bus.statusChanged();
      },
      (error) => log.error('folder failed to start', { folder: folderId, error: asFerryError(error).message }),
    );
  }

  async function stopLocal(folderId: string): Promise<void> {
    const local = locals.get(folderId);
    locals.delete(folderId);
    await local?.stop();
    if (!store.folders.get(folderId)) coordinators.delete(folderId);
  }

  /** Creates the remote folders (idempotent); offline is fine: the pusher retries later. */
  async function ensureRemoteFolders(remote: SyncApiClient, folderIds: string[]): Promise<void> {
    for (const id of folderIds) {
      try {
        await remote.createFolder(id);
      } catch (error) {
        const e = asFerryError(error);
        log.warn('could not create the remote folder yet', { folder: id, code: e.code, error: e.message });
      }
    }
  }

  // ── engine (push + pull) ──

  function buildEngine(): Engine {
    const watch: ConnectionWatch = new ConnectionWatch({
      probe: () => remote.probe(),
      onChange: (link) => {
        log.info('sync server link', { state: link.state, reason: 'reason' in link ? link.reason : undefined });
        if (link.state === 'online') {
          // Back: uploads waiting on the pusher's own probe and pulls in backoff go now.
          pusher.kick();
          if (pusher.status().connectivity === 'online' && !paused) puller.setOnline(true);
        }
        bus.statusChanged();
      },
    });
    const remote = observeRemote(new SyncApiClient({ baseUrl: settings.serverUrl, token: settings.token, deviceId, ...clientTransport(settings.serverUrl, settings) }), watch);
    const pusher = createPusher({
      store,
      remote,
      folders: folderLookup,
      // docs/conflict-rules.md: a conflict pulls that path (keep both versions); then the parked upload is looked
      // at again at once instead of at the next recheck: dropped, or sent on the new base.
      onConflict: ({ folderId, path: relPath }) =>
        void puller
          .pullNow(folderId)
          .then(() => {
            const item = store.queue.getByPath(folderId, relPath);
            if (item?.state !== 'retry_wait' || item.lastErrorCode !== 'conflict') return;
            // Once per change: a conflict the pull cannot settle (a folder that still holds
            // files on the server) waits for the regular recheck instead of looping.
            const key = `${item.id}:${item.generation}`;
            if (recheckedConflicts.has(key)) return;
            recheckedConflicts.add(key);
            pusher.retry(item.id);
          })
          .catch((error) => log.warn('conflict pull failed', { folder: folderId, error: asFerryError(error).message })),
      options: { ...pushOptionsOf(settings), ...options.tuning?.push },
    });
    const puller = createPuller({
      store,
      remote,
      device: { id: deviceId, name: deviceName },
      options: { ...massDelete(), ...options.tuning?.pull },
      exclusive: (folderId, pull) => (store.folders.get(folderId) ? coordinatorOf(folderId).run('pull', pull) : pull()),
    });
    const offs: Array<() => void> = [
      pusher.on('item', (event) => {
        bus.itemChanged(event.id);
        if (event.state === 'done') {
          markSynced(event.folderId);
          rates.items.add(1);
          // Small files may finish without a progress event: count what was not seen yet.
          const total = event.op === 'upsert' ? (store.queue.get(event.id)?.bytesTotal ?? 0) : 0;
          rates.upload.add(Math.max(0, total - (progressSeen.get(event.id) ?? 0)));
        }
        if (event.state !== 'uploading' && event.state !== 'committing') progressSeen.delete(event.id);
        if (event.state === 'done' || event.state === 'failed') recordPushActivity(event);
        if (event.state === 'failed') reporter.schedule(event.folderId);
        bus.statusChanged();
      }),
      pusher.on('itemProgress', (event) => {
        const item = progressSeen.get(event.id) ?? 0;
        if (event.bytesDone > item) rates.upload.add(event.bytesDone - item);
        progressSeen.set(event.id, event.bytesDone);
        bus.itemChanged(event.id);
      }),
      pusher.on('run', (event) => {
        run = event.active ? event : null;
        if (!event.active) for (const folder of store.folders.list()) reporter.schedule(folder.id);
        bus.statusChanged();
      }),
      pusher.on('connectivity', ({ state }) => {
        puller.setOnline(state === 'online');
        bus.statusChanged();
      }),
    ];
    const onPulled = (summary: { folderId: string; paused: boolean }) => {
      if (!summary.paused) markSynced(summary.folderId);
      reporter.schedule(summary.folderId);
      // Conflict copies and re-uploads the pull queued go up now.
      pusher.kick();
      bus.statusChanged();
    };
    const onPaused = () => bus.statusChanged();
    // A full disk holds the folder in disk_full until a pull gets through again.
    const onPullError = ({ folderId, error }: { folderId: string; error: FerryError }) => {
      if (error.code === DISK_FULL && store.folders.get(folderId)) coordinatorOf(folderId).diskFull('pull', error.message);
    };
    const onPullDone = ({ folderId, paused }: { folderId: string; paused: boolean }) => {
      if (!paused) coordinators.get(folderId)?.diskFreed('pull');
    };
    puller.events.on('error', onPullError);
    puller.events.on('pulled', onPullDone);
    offs.push(() => puller.events.off('error', onPullError), () => puller.events.off('pulled', onPullDone));
    const onApplied = (event: { folderId: string; path: string; action: string }) => {
      if (event.action !== 'downloaded') return;
      rates.items.add(1);
      rates.download.add(store.index.get(event.folderId, event.path)?.size ?? 0);
    };
    puller.events.on('applied', onApplied);
    offs.push(() => puller.events.off('applied', onApplied));
    puller.events.on('pulled', onPulled);
    puller.events.on('paused', onPaused);
    offs.push(() => puller.events.off('pulled', onPulled), () => puller.events.off('paused', onPaused));
    return { remote, pusher, puller, watch, offs };
  }

  function recordPushActivity(event: { folderId: string; path: string; op: 'upsert' | 'delete'; state: string; message?: string; code?: string }) {
    if (event.state === 'failed') {
      store.activity.add({ folderId: event.folderId, kind: 'failed', path: event.path, message: event.message ?? event.code ?? 'failed' });
    } else {
      store.activity.add({
        folderId: event.folderId,
        kind: event.op === 'delete' ? 'deleted_local' : 'uploaded',
        path: event.path,
        message: event.op === 'delete' ? 'Deleted on the server' : 'Uploaded',
      });
    }
  }

  async function startEngine(): Promise<void> {
    engine = buildEngine();
    await ensureRemoteFolders(engine.remote, settings.folders.map((f) => f.remoteId));
    // Paused, nothing is sent: the pusher starts at Resume.
    if (!paused) {
      await engine.pusher.start();
      engine.puller.start();
    }
  }

  async function stopEngine(): Promise<void> {
    const current = engine;
    engine = null;
    if (!current) return;
    for (const off of current.offs) off();
    current.watch.stop();
    await pauseWork;
    await Promise.allSettled([current.pusher.stop(), current.puller.stop()]);
    current.remote.close();
  }

  // ── status ──

  function folderStatuses(): FolderStatus[] {
    return store.folders.list().map((folder) => {
      const local = locals.get(folder.id);
      const full = folder.state === 'ok' ? (coordinators.get(folder.id)?.diskFullMessage() ?? null) : null;
      const scanning = folder.state === 'ok' && local !== undefined && !local.idle;
      const synced = lastSync.get(folder.id);
      return {
        id: folder.id,
        localPath: folder.localRoot,
        remoteId: folder.remoteId,
        state: full !== null ? 'disk_full' : scanning ? 'scanning' : folder.state,
        error: folder.state === 'error' ? (folder.errorMessage ?? folder.errorCode) : full,
        lastSyncAt: synced ? new Date(synced).toISOString() : null,
        // Counted only for a held folder: status goes out several times a second.
        pendingDelete: folder.state === 'paused_mass_delete' ? coordinatorOf(folder.id).pendingDelete() : null,
        counts: store.queue.countsByState(folder.id),
        ...folderTotals(folder.id),
      };
    });
  }

  /** Files and bytes per folder, counted at most every TOTALS_MAX_AGE_MS: status goes out several times a second. */
  const totals = new Map<string, { at: number; files: number; bytes: number }>();
  function folderTotals(folderId: string): { files: number; bytes: number } {
    const cached = totals.get(folderId);
    const now = Date.now();
    if (cached && now - cached.at < TOTALS_MAX_AGE_MS) return { files: cached.files, bytes: cached.bytes };
    const fresh = store.index.totals(folderId);
    totals.set(folderId, { at: now, ...fresh });
    return fresh;
  }

  function status(): AgentStatus {
    const counts = store.queue.countsByState();
    const folders = folderStatuses();
    const push = engine?.pusher.status();
    const busy =
      counts.pending + counts.in_flight > 0 ||
      (push?.inFlight ?? 0) > 0 ||
      pullsRunning > 0 ||
      folders.some((f) => f.state === 'scanning');
    const { state, reason } = agentStateOf({ paused, link: engine?.watch.current ?? { state: 'online' }, folders, busy });
    // Paused, nothing moves: the rates say so at once rather than fading over the window.
    const rate = (meter: RateMeter) => (paused ? 0 : meter.perSecond());
    return {
      state,
      reason,
      counts,
      folders,
      lastSyncAt: lastSyncAt ? new Date(lastSyncAt).toISOString() : null,
      rates: {
        uploadBytesPerSec: rate(rates.upload),
        downloadBytesPerSec: rate(rates.download),
        itemsPerSec: rate(rates.items),
      },
      run: run ? { name: run.run, itemsLeft: counts.pending + counts.in_flight, bytesLeft: store.queue.pendingBytes() } : null,
      deviceId,
      deviceName,
    };
  }

  // ── settings ──

  function settingsView(): SettingsView {
    const { token, ...rest } = settings;
    return { ...rest, hasToken: token.length > 0, tokenProtection: options.tokenProtection };
  }

  async function updateSettings(update: SettingsUpdate): Promise<SettingsView> {
    // The stored token belongs to the stored server: a new address gets no token but the one
    // sent with it (none is 'enter the server token'), so it never reaches another host.
    const keptToken = update.serverUrl === settings.serverUrl ? settings.token : '';
    const candidate = Settings.safeParse({ ...update, folders: update.folders.map(expandHome), token: update.token ? update.token : keptToken });
    if (!candidate.success) {
      const fields = fieldErrors(candidate.error);
      throw new FerryError('invalid_settings', 'The settings are not valid', { details: { fields } });
    }
    const next = candidate.data;
    validateFolders(next.folders);
    validateTransport(next);
    const previous = settings;
    await options.saveSettings(next);
    settings = next;
    // Only a new server or token needs a new engine; thresholds and limits apply in place, so
    // uploads in flight carry on.
    const engineChanged = previous.serverUrl !== next.serverUrl || previous.token !== next.token || previous.caFile !== next.caFile || previous.allowInsecureHttp !== next.allowInsecureHttp;
    const { added, removed } = syncFolderRows();
    if (started) {
      for (const id of removed) await stopLocal(id);
      if (engineChanged || added.length || removed.length) {
        await stopEngine();
        await startEngine();
      } else {
        engine?.pusher.setOptions(pushOptionsOf(next));
        engine?.puller.setOptions({ massDeletePercent: next.massDeletePercent, massDeleteCount: next.massDeleteCount });
      }
      for (const id of added) startLocal(id);
      if (previous.ignoreRules.join('\n') !== next.ignoreRules.join('\n')) {
        for (const [id, local] of locals) if (!added.includes(id)) void local.setIgnoreRules(next.ignoreRules);
      }
      // New settings may be what a failed item needed (see SETTINGS_THAT_RETRY in push/options.ts).
      engine?.pusher.retryAll();
    }
    log.info('settings changed', { folders: next.folders.length, engineRestarted: engineChanged });
    const view = settingsView();
    bus.emit({ type: 'settings', settings: view });
    bus.statusChanged();
    const warnings = settingsWarnings(next);
    return warnings.length ? { ...view, warnings } : view;
  }

  // ── actions ──

  function requireEngine(): Engine {
    if (!engine) throw new FerryError('not_running', 'The agent is not running', { retryable: true });
    return engine;
  }

  function requireFolder(folderId: string): void {
    if (!store.folders.get(folderId)) throw new FerryError('not_found', `No folder '${folderId}'`, { status: 404 });
  }

  function remoteIdOf(folderId: string): string {
    const folder = store.folders.get(folderId);
    if (!folder) throw new FerryError('not_found', `No folder '${folderId}'`, { status: 404 });
    return folder.remoteId;
  }

  function syncNow(folderId?: string): void {
    const current = requireEngine();
    if (folderId !== undefined) requireFolder(folderId);
    if (paused) throw new FerryError('paused', 'Ferry is paused: resume it to sync', { status: 409 });
    void current.watch.checkNow();
    const ids = folderId ? [folderId] : store.folders.list().map((f) => f.id);
    for (const id of ids) {
      void locals.get(id)?.rescan().then(() => current.pusher.kick());
      pullsRunning++;
      current.puller
        .pullNow(id)
        .catch((error) => log.warn('pull failed', { folder: id, error: asFerryError(error).message }))
        .finally(() => {
          pullsRunning--;
          bus.statusChanged();
        });
    }
    current.pusher.kick();
    bus.statusChanged();
  }

  /** Pushes stopping or starting for Pause and Resume, one after the other. */
  let pauseWork: Promise<void> = Promise.resolve();

  function setPaused(value: boolean): void {
    if (paused === value) return;
    paused = value;
    store.settings.set(PAUSED_KEY, value ? '1' : '0');
    const current = engine;
    if (current) {
      pauseWork = pauseWork
        .then(async () => {
          if (value) {
            // Nothing more is sent: uploads and downloads in flight are aborted, and what
            // they held goes back to pending. Blocks already on the server are not sent again.
            await Promise.all([current.pusher.stop(), current.puller.stop()]);
            store.queue.recoverInFlight();
          } else if (engine === current) {
            await current.pusher.start();
            current.puller.start();
            await current.watch.checkNow();
          }
        })
        .catch((error) => log.error('pause or resume failed', { error: asFerryError(error).message }))
        .finally(() => bus.statusChanged());
    }
    bus.statusChanged();
  }

  const handlers: AgentHandlers = {
    getStatus: async () => status(),
    listQueue: async (query) => {
      const page = store.queue.page({
        ...(query.state ? { state: query.state } : {}),
        ...(query.folderId ? { folderId: query.folderId } : {}),
        offset: query.offset,
        limit: query.limit,
      });
      return { items: page.items, total: page.total };
    },
    listActivity: async ({ limit }) => store.activity.recent({ limit }),
    syncNow: async ({ folderId }) => {
      syncNow(folderId);
      return { ok: true as const };
    },
    pause: async () => {
      setPaused(true);
      return { ok: true as const };
    },
    resume: async () => {
      setPaused(false);
      return { ok: true as const };
    },
    retry: async (input) => {
      const current = requireEngine();
      const retried = 'all' in input ? current.pusher.retryAll() : current.pusher.retry(input.id) ? 1 : 0;
      if ('id' in input && retried === 0 && !store.queue.get(input.id)) {
        throw new FerryError('not_found', `No queue item ${input.id}`, { status: 404 });
      }
      bus.statusChanged();
      return { retried };
    },
    confirmMassDelete: async ({ folderId }) => {
      requireFolder(folderId);
      const current = requireEngine();
      await coordinatorOf(folderId).confirm(current);
      current.pusher.kick();
      bus.statusChanged();
      return { ok: true as const };
    },
    cancelMassDelete: async ({ folderId }) => {
      requireFolder(folderId);
      const current = requireEngine();
      await coordinatorOf(folderId).cancel(current);
      current.pusher.kick();
      bus.statusChanged();
      return { ok: true as const };
    },
    explainPath: async (input) => {
      const found = locatePath(store, input);
      if (!found) {
        const where = input.folderId !== undefined ? `folder '${input.folderId}'` : 'any synced folder';
        throw new FerryError('not_found', `${input.path} is not in ${where}`, { status: 404 });
      }
      const link = engine?.watch.current ?? { state: 'online' as const };
      const linkProblem = link.state === 'online' ? null : link.reason;
      const diskFull = (id: string) => coordinatorOf(id).diskFullMessage();
      return explainPath({ store, ignoreRules: settings.ignoreRules, paused, linkProblem, diskFull, now: Date.now() }, found.folderId, found.key);
    },
    listDevices: async ({ folderId }) => {
      if (folderId !== undefined) requireFolder(folderId);
      return listFolderDevices(store, engine?.remote ?? null, deviceId, folderId);
    },
    // ── history and restore (main/engine/history) ──
    getHistory: async ({ folderId, path }) => readHistory(requireEngine().remote, remoteIdOf(folderId), path),
    listDeleted: async ({ folderId, prefix, since, limit }) =>
      readDeleted(requireEngine().remote, remoteIdOf(folderId), { ...(prefix ? { prefix } : {}), ...(since ? { since } : {}) }, limit),
    restore: async ({ folderId, request }) => {
      const current = requireEngine();
      const outcome = await restoreOnServer(current.remote, remoteIdOf(folderId), request);
      log.info('restored on the server', { folder: folderId, restored: outcome.restored.length, failed: outcome.failed.length, skipped: outcome.skipped.length });
      // The files come back through the normal pull.
      if (outcome.restored.length > 0 && !paused) syncNow(folderId);
      return outcome;
    },
    getSettings: async () => settingsView(),
    updateSettings,
  };

  return {
    deviceId,
    deviceName,
    dataDir: options.dataDir,
    handlers,
    subscribe: (listener: (event: AgentEvent) => void) => bus.subscribe(listener),
    status,
    async start() {
      if (started) return;
      started = true;
      syncFolderRows();
      await startEngine();
      for (const folder of store.folders.list()) startLocal(folder.id);
      // Rates fall to zero once nothing moves: the UI hears so while they fall, not only at the next change.
      let moving = false;
      rateTicker = setInterval(() => {
        const now = rates.upload.perSecond() + rates.download.perSecond() + rates.items.perSecond() > 0;
        if (now || moving) bus.statusChanged();
        moving = now;
      }, 1000);
      rateTicker.unref();
      reporter.start(() => store.folders.list().map((f) => f.id));
      log.info('agent started', { device: deviceId, folders: settings.folders.length, paused });
      bus.statusChanged();
    },
    async stop() {
      if (!started) return store.close();
      started = false;
      if (rateTicker) clearInterval(rateTicker);
      reporter.stop();
      // Together: a scan waiting for its folder's turn behind a pull ends once the pull is aborted.
      await Promise.allSettled([...[...locals.keys()].map((id) => stopLocal(id)), stopEngine()]);
      bus.close();
      keepLastSync();
      store.close();
      log.info('agent stopped');
    },
  };
}
