import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FerryError, asFerryError } from '../../../protocol/errors';
import { Settings, fieldErrors } from '../../../shared/settings';
import { createLogger, type Logger } from '../../logging';
import { SyncApiClient } from '../../remote';
import { openStore, type Store } from '../../store';
import { LocalSide, type LocalSideOptions } from '../local-side';
import { createPuller, type Puller, type PullerOptions } from '../pull';
import { createPusher, type Pusher, type PusherOptions, type RunProgressEvent } from '../push';
import type { AgentApi, AgentEvent, AgentHandlers, AgentStatus, FolderStatus, SettingsUpdate, SettingsView } from './api';
import { AgentEventBus } from './events';
import { validateFolders } from './folder-rules';
import { RateMeter } from './rate-meter';

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
  /** better-sqlite3 built for Electron's ABI, when hosted by Electron. */
  nativeBinding?: string;
  log?: Logger;
  /** Test and benchmark tuning of the parts; defaults serve users. */
  tuning?: {
    push?: Partial<PusherOptions>;
    pull?: Partial<PullerOptions>;
    local?: Partial<Pick<LocalSideOptions, 'watch' | 'watcher' | 'settleMs' | 'maxDelayMs' | 'retryDelayMs' | 'rootCheckMs'>>;
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
  offs: Array<() => void>;
}

const STATE_DB = 'state.db';
/** A tiny folder losing one or two files is not a mass delete, whatever the share. */
const MASS_DELETE_MIN_COUNT = 3;
const DEVICE_ID_KEY = 'device_id';
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

export async function createAgent(options: AgentOptions): Promise<Agent> {
  validateFolders(options.settings.folders);
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
  const lastSync = new Map<string, number>();
  /** Pulls the UI asked for and that have not settled yet ("Sync now" shows as syncing). */
  let pullsRunning = 0;
  /** Conflicted queue items (id:generation) already looked at again right after their pull. */
  const recheckedConflicts = new Set<string>();
  /** Bytes of each in-flight upload seen so far, so progress events add only the difference. */
  const progressSeen = new Map<number, number>();
  let lastSyncAt: number | null = null;
  let online = true;
  let run: RunProgressEvent | null = null;
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

  const markSynced = (folderId: string) => {
    const now = Date.now();
    lastSync.set(folderId, now);
    lastSyncAt = now;
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

  function startLocal(folderId: string): void {
    if (locals.has(folderId)) return;
    const local = new LocalSide({
      store,
      folderId,
      ...options.tuning?.local,
      ignoreRules: settings.ignoreRules,
      massDelete: () => ({
        massDeletePercent: settings.massDeletePercent,
        massDeleteCount: settings.massDeleteCount,
        massDeleteMinCount: MASS_DELETE_MIN_COUNT,
      }),
      isApplying: (relPath) => engine?.puller.isApplying(folderId, relPath) ?? false,
      onScanned: (result) => {
        if ((result.outcomes.queued ?? 0) + (result.outcomes.deleted ?? 0) > 0) engine?.pusher.kick();
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
    const remote = new SyncApiClient({ baseUrl: settings.serverUrl, token: settings.token, deviceId });
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
      options: {
        massDeletePercent: settings.massDeletePercent,
        massDeleteCount: settings.massDeleteCount,
        massDeleteMinCount: MASS_DELETE_MIN_COUNT,
        ...options.tuning?.pull,
      },
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
        bus.statusChanged();
      }),
      pusher.on('connectivity', ({ state }) => {
        online = state === 'online';
        puller.setOnline(online);
        bus.statusChanged();
      }),
    ];
    const onPulled = (summary: { folderId: string; paused: boolean }) => {
      if (!summary.paused) markSynced(summary.folderId);
      // Conflict copies and re-uploads the pull queued go up now.
      pusher.kick();
      bus.statusChanged();
    };
    const onPaused = () => bus.statusChanged();
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
    return { remote, pusher, puller, offs };
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
    await engine.pusher.start();
    if (paused) {
      engine.pusher.pause();
    } else {
      engine.puller.start();
    }
  }

  async function stopEngine(): Promise<void> {
    const current = engine;
    engine = null;
    if (!current) return;
    for (const off of current.offs) off();
    await Promise.allSettled([current.pusher.stop(), current.puller.stop()]);
    current.remote.close();
  }

  // ── status ──

  /** A held mass delete: the puller's (the server's deletes) or the scanner's (this disk's). */
  function pendingDeleteOf(folderId: string): { count: number; total: number } {
    const pulled = engine?.puller.pendingMassDelete(folderId);
    if (pulled) return { count: pulled.deletes, total: pulled.files };
    const deletes = store.queue.countPendingDeletes(folderId);
    return { count: deletes, total: store.index.count(folderId) + deletes };
  }

  function folderStatuses(): FolderStatus[] {
    return store.folders.list().map((folder) => {
      const local = locals.get(folder.id);
      const scanning = folder.state === 'ok' && local !== undefined && !local.idle;
      const synced = lastSync.get(folder.id);
      return {
        id: folder.id,
        localPath: folder.localRoot,
        remoteId: folder.remoteId,
        state: scanning ? 'scanning' : folder.state,
        error: folder.state === 'error' ? (folder.errorMessage ?? folder.errorCode) : null,
        lastSyncAt: synced ? new Date(synced).toISOString() : null,
        // Counted only for a held folder: status goes out several times a second.
        pendingDelete: folder.state === 'paused_mass_delete' ? pendingDeleteOf(folder.id) : null,
      };
    });
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
    const state = paused
      ? 'paused'
      : !online
        ? 'offline'
        : folders.some((f) => f.state === 'error' || f.state === 'paused_mass_delete')
          ? 'error'
          : busy
            ? 'syncing'
            : 'idle';
    return {
      state,
      counts,
      folders,
      lastSyncAt: lastSyncAt ? new Date(lastSyncAt).toISOString() : null,
      rates: {
        uploadBytesPerSec: rates.upload.perSecond(),
        downloadBytesPerSec: rates.download.perSecond(),
        itemsPerSec: rates.items.perSecond(),
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
    const candidate = Settings.safeParse({ ...update, token: update.token ? update.token : settings.token });
    if (!candidate.success) {
      const fields = fieldErrors(candidate.error);
      throw new FerryError('invalid_settings', 'The settings are not valid', { details: { fields } });
    }
    const next = candidate.data;
    validateFolders(next.folders);
    const previous = settings;
    await options.saveSettings(next);
    settings = next;
    // Only a new server or token needs a new engine; thresholds and limits apply in place, so
    // uploads in flight carry on.
    const engineChanged = previous.serverUrl !== next.serverUrl || previous.token !== next.token;
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
    return view;
  }

  // ── actions ──

  function requireEngine(): Engine {
    if (!engine) throw new FerryError('not_running', 'The agent is not running', { retryable: true });
    return engine;
  }

  function requireFolder(folderId: string): void {
    if (!store.folders.get(folderId)) throw new FerryError('not_found', `No folder '${folderId}'`, { status: 404 });
  }

  function syncNow(folderId?: string): void {
    const current = requireEngine();
    if (folderId !== undefined) requireFolder(folderId);
    const ids = folderId ? [folderId] : store.folders.list().map((f) => f.id);
    for (const id of ids) {
      void locals.get(id)?.rescan().then(() => current.pusher.kick());
      if (!paused) {
        pullsRunning++;
        current.puller
          .pullNow(id)
          .catch((error) => log.warn('pull failed', { folder: id, error: asFerryError(error).message }))
          .finally(() => {
            pullsRunning--;
            bus.statusChanged();
          });
      }
    }
    current.pusher.kick();
    bus.statusChanged();
  }

  function setPaused(value: boolean): void {
    paused = value;
    store.settings.set(PAUSED_KEY, value ? '1' : '0');
    const current = engine;
    if (current) {
      if (value) {
        current.pusher.pause();
        void current.puller.stop();
      } else {
        current.pusher.resume();
        current.puller.start();
      }
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
      if (current.puller.pendingMassDelete(folderId)) {
        await current.puller.confirmMassDelete(folderId);
      } else if (store.folders.require(folderId).state === 'paused_mass_delete') {
        // This disk's deletes: let them go to the server.
        locals.get(folderId)?.approveMassDelete();
        store.folders.setOk(folderId);
        store.activity.add({ folderId, kind: 'info', message: 'Mass delete confirmed: deleting on the server' });
      }
      current.pusher.kick();
      bus.statusChanged();
      return { ok: true as const };
    },
    cancelMassDelete: async ({ folderId }) => {
      requireFolder(folderId);
      const current = requireEngine();
      if (current.puller.pendingMassDelete(folderId)) {
        await current.puller.cancelMassDelete(folderId);
      } else if (store.folders.require(folderId).state === 'paused_mass_delete') {
        // This disk's deletes: drop them and bring the files back with a full pull.
        const restored = store.transaction(() => {
          const paths = store.queue.dropPendingDeletes(folderId);
          store.tokens.clear(folderId);
          store.folders.setOk(folderId);
          return paths.length;
        });
        store.activity.add({ folderId, kind: 'info', message: `Mass delete cancelled: restoring ${restored} items from the server` });
        await current.puller.pullNow(folderId);
      }
      current.pusher.kick();
      bus.statusChanged();
      return { ok: true as const };
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
      log.info('agent started', { device: deviceId, folders: settings.folders.length, paused });
      bus.statusChanged();
    },
    async stop() {
      if (!started) return store.close();
      started = false;
      await Promise.allSettled([...locals.keys()].map((id) => stopLocal(id)));
      await stopEngine();
      bus.close();
      store.close();
      log.info('agent stopped');
    },
  };
}
