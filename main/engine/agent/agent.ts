import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { FerryError, asFerryError, isFerryError } from '../../../protocol/errors';
import type { Settings } from '../../../shared/settings';
import { createLogger, type Logger } from '../../logging';
import { openStore } from '../../store';
import { FolderSet, type LocalTuning } from '../folder/folders';
import { readDeleted, readHistory } from '../history/listings';
import { nameNow, nameOfRevisionOnServer, restore as restoreOnServer } from '../history/restore-batch';
import { previewVersion } from '../history/preview';
import { untrustedCertificate } from '../../remote/transport';
import { realTimers } from '../timers';
import type { PullerOptions } from '../pull';
import { CurrentPusher, type PusherOptions } from '../push';
import { LostBlockResender } from '../push/resend-lost';
import { openConflictCopies } from './conflict-copies';
import { DeviceReporter, listFolderDevices } from './device-report';
import { DeviceNames } from './device-names';
import { deviceIdentity } from './identity';
import { explainPath, locatePath } from './why';
import { withServerState } from './why-server';
import type { AgentApi, AgentEvent, AgentHandlers, AgentStatus } from './api';
import { EngineHost, settingsMassDelete, type EngineParts } from './engine';
import { AgentEventBus } from './events';
import { validateFolders, validateTransport } from './folder-rules';
import { pairAndSave, pairedAs, rememberPairing } from './pairing';
import { SettingsKeeper } from './settings-apply';
import { StatusBoard } from './status';

/** The credential whose pairing Activity said last: a pairing made while the agent was stopped is said at its start. */
const PAIRING_SAID_KEY = 'pairing_said';
/** How long "Sync now" waits for its probe of the link before it answers with the link's state. */
const SYNC_NOW_PROBE_MS = 3000;
/** How long a restore asked while the server seemed unreachable waits for one probe of the link. */
const LINK_RECHECK_MS = 3000;

/**
 * The agent: the composition root of one engine (local side per folder → durable queue →
 * pusher; puller) behind its own API (./api). The Electron shell and the headless control API
 * host it through main/ui-adapter, which turns that API into the UI contract. Who owns what:
 * the folders (folder/folders.ts), the engine of the moment and Pause (./engine.ts), the
 * status and rates (./status.ts), the settings (./settings-apply.ts); docs/architecture.md.
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
    local?: LocalTuning;
    /** How far back local deletes count together for the mass-delete guard. */
    deleteWindowMs?: number;
    /** How long a clean stop waits at most for its report that this device stopped (STOP_REPORT_MS). */
    stopReportMs?: number;
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

/** The agent's state database in its data directory. */
export const STATE_DB = 'state.db';

export async function createAgent(options: AgentOptions): Promise<Agent> {
  validateFolders(options.settings.folders);
  validateTransport(options.settings);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const log = options.log ?? createLogger('agent');
  const store = openStore(path.join(options.dataDir, STATE_DB), {
    ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
    onActivity: (entry) => bus.emit({ type: 'activity', entry }),
  });
  const { deviceId, deviceName } = deviceIdentity(store, options.deviceName);
  let started = false;

  const bus: AgentEventBus = new AgentEventBus({
    status: () => status.status(),
    queueItems: (ids) =>
      ids.flatMap((id) => {
        const item = store.queue.get(id);
        return item ? [item] : [];
      }),
    onListenerError: (error) => log.warn('event listener failed', { error: asFerryError(error).message }),
  });
  // Blocks the server lost, named in its replies to this device's reports, go up again from here.
  const resender = new LostBlockResender({ store, remote: () => engine.parts?.remote ?? null, timers: realTimers, log: createLogger('engine:lost-blocks') });
  const reporter: DeviceReporter = new DeviceReporter({
    store,
    remote: () => engine.parts?.remote ?? null,
    onWanted: (folderId, hashes) => resender.wanted(folderId, hashes),
    device: { name: deviceName, version: options.clientVersion ?? 'ferry' },
    pullRefusals: (folderId) => engine.parts?.puller.health.refusals(folderId) ?? [],
    unsyncable: (folderId) => folders.unsyncableOf(folderId),
    paused: () => engine.paused,
    timers: realTimers,
    log: createLogger('engine:devices'),
  });
  const deviceNames: DeviceNames = new DeviceNames({
    self: { id: deviceId, name: deviceName },
    list: async () => (await listFolderDevices(store, engine.parts?.remote ?? null, deviceId)).flatMap((f) => f.devices),
    // A held delete's devices named at last: the terminal's state line and open windows say it again.
    onLearned: () => bus.statusChanged(),
  });
  // Each folder's local side wakes the pusher of the moment through this, not through the engine.
  const pushWake = new CurrentPusher();
  /** Per folder, the names that cannot be synced as the last scan left them (the digest reports them). */
  const reportedNames = new Map<string, number>();
  const folders: FolderSet = new FolderSet({
    store,
    deviceName,
    log,
    labelDevices: (deletes) => deviceNames.hold(deletes) ?? deletes,
    ...(options.tuning?.local ? { local: options.tuning.local } : {}),
    ...(options.tuning?.deleteWindowMs !== undefined ? { deleteWindowMs: options.tuning.deleteWindowMs } : {}),
    massDelete: () => settingsMassDelete(settings.current),
    ignoreRules: () => settings.current.ignoreRules,
    // What this device has not sent yet is part of its digest, and so are its names that cannot
    // be synced (a new-user try: the others read "up to date" for a minute after one was made).
    onScanned: (folderId, queued) => {
      const names = folders.unsyncableVersionOf(folderId);
      if (queued || reportedNames.get(folderId) !== names) reporter.schedule(folderId);
      reportedNames.set(folderId, names);
      status.recount(folderId);
      bus.statusChanged();
    },
    push: pushWake,
    onChange: () => bus.statusChanged(),
    onRecovered: (folderId) => engine.pullRecovered(folderId),
    onStateChanged: (folderId) => reporter.schedule(folderId),
  });
  const status: StatusBoard = new StatusBoard({ store, folders, engine: () => engine.now(), deviceId, deviceName, log, pairedAs: () => settings.pairedAs() });
  const engine: EngineHost = new EngineHost({
    store,
    deviceId,
    deviceName,
    deviceNames: { label: (id) => deviceNames.label(id), know: (ids) => deviceNames.know(ids) },
    log,
    settings: () => settings.current,
    folders,
    status,
    reporter,
    bus,
    pushWake,
    tuning: { ...(options.tuning?.push ? { push: options.tuning.push } : {}), ...(options.tuning?.pull ? { pull: options.tuning.pull } : {}) },
  });
  const settings: SettingsKeeper = new SettingsKeeper({
    initial: options.settings,
    save: options.saveSettings,
    tokenProtection: options.tokenProtection,
    folders,
    engine,
    running: () => started,
    log,
    pairedAs: (current) => pairedAs(options.dataDir, current.serverUrl, current.token),
    certificateRefused: (next) => untrustedCertificate(next.serverUrl, next),
  });

  const remoteIdOf = (folderId: string) => folders.require(folderId).remoteId;
  const ok = { ok: true as const };

  /**
   * A restore or Undo while the server is known unreachable is refused at once, not after the
   * restore's retries of every call (a new-user try waited about 15 s for the error). Looked at
   * again first, with one probe of at most LINK_RECHECK_MS: the server may be back before the
   * watch's next scheduled probe.
   */
  const reachable = async (current: EngineParts, what: 'restore' | 'undo'): Promise<void> => {
    let link = engine.link();
    if (link.state === 'online') return;
    let timer: unknown;
    await new Promise<void>((resolve) => {
      timer = realTimers.setTimeout(resolve, LINK_RECHECK_MS);
      void current.watch.checkNow().then(resolve);
    }).finally(() => realTimers.clearTimeout(timer));
    link = engine.link();
    if (link.state === 'online') return;
    if (link.state === 'offline') throw new FerryError('offline', `Cannot ${what} while the server cannot be reached (${link.reason}). Try again once Ferry is back online.`, { retryable: true });
    throw new FerryError('unauthorized', `Cannot ${what}: the server refuses this device's credentials (${link.reason}).`, { retryable: false });
  };

  const handlers: AgentHandlers = {
    getStatus: async () => status.status(),
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
      // Asked while nothing can sync, the answer says so, as a pause's does (a new-user try read
      // "Sync requested." while signed out). The link is probed first: the server may be back.
      const probed = engine.syncNow(folderId);
      await Promise.race([probed, new Promise((resolve) => setTimeout(resolve, SYNC_NOW_PROBE_MS).unref())]);
      const link = engine.link();
      if (link.state === 'auth_failed') throw new FerryError('auth_failed', `Nothing can sync: ${link.reason}`, { status: 409 });
      if (link.state === 'offline') throw new FerryError('offline', `The sync server cannot be reached (${link.reason}): Ferry syncs by itself as soon as it answers`, { status: 409, retryable: true });
      return ok;
    },
    pause: async () => {
      engine.setPaused(true);
      return ok;
    },
    resume: async () => {
      engine.setPaused(false);
      return ok;
    },
    retry: async (input) => {
      const current = engine.require();
      const retried = 'all' in input ? current.pusher.retryAll() : current.pusher.retry(input.id) ? 1 : 0;
      if ('id' in input && retried === 0 && !store.queue.get(input.id)) {
        throw new FerryError('not_found', `No queue item ${input.id}`, { status: 404 });
      }
      bus.statusChanged();
      return { retried };
    },
    confirmMassDelete: async ({ folderId }) => {
      await folders.answerMassDelete(folderId, 'confirm', () => engine.require());
      engine.kick();
      return ok;
    },
    cancelMassDelete: async ({ folderId }) => {
      await folders.answerMassDelete(folderId, 'cancel', () => engine.require());
      engine.kick();
      return ok;
    },
    undoMassDelete: async ({ folderId }) => {
      folders.require(folderId);
      const current = engine.require();
      const outcome = await folders.coordinator(folderId).undo({ ...current, reachable: () => reachable(current, 'undo') });
      bus.statusChanged();
      return outcome;
    },
    dismissUndo: async ({ folderId }) => {
      folders.require(folderId);
      folders.coordinator(folderId).dismissUndo();
      bus.statusChanged();
      return ok;
    },
    syncAfresh: async ({ folderId }) => {
      await settings.syncAfresh(folderId);
      bus.statusChanged();
      return ok;
    },
    explainPath: async (input) => {
      const found = locatePath(store, input);
      if (!found) {
        const where = input.folderId !== undefined ? `folder '${input.folderId}'` : 'any synced folder';
        throw new FerryError('not_found', `${input.path} is not in ${where}`, { status: 404 });
      }
      // The folder itself has no entry to explain: its state is the folder's (a new-user try got
      // "not in any synced folder" for its path, and "not known here" for it with --folder).
      if (found.key === '') {
        throw new FerryError('folder_root', `${input.path} is the synced folder '${found.folderId}' itself: \`ferry status\` says how it syncs; give a path inside it`, { status: 400 });
      }
      const link = engine.link();
      const linkProblem = link.state === 'online' ? null : link.reason;
      const diskFull = (id: string) => folders.coordinator(id).diskFullMessage();
      await deviceNames.refreshWithin(500);
      const label = (id: string) => deviceNames.label(id);
      const pull = engine.parts?.puller.health;
      const unsyncable = (id: string) => folders.unsyncableOf(id);
      const pulling = (id: string, key: string) => folders.coordinator(id).applying.has(key);
      const facts = { store, ignoreRules: settings.current.ignoreRules, paused: engine.paused, linkProblem, ...(link.state !== 'online' ? { linkState: link.state } : {}), diskFull, deviceName: label, unsyncable, pulling, ...(pull ? { pull } : {}), now: Date.now() };
      const local = explainPath(facts, found.folderId, found.key);
      return withServerState(local, linkProblem === null ? (engine.parts?.remote ?? null) : null, remoteIdOf(found.folderId), (id) => deviceNames.resolve(id, 500), { paused: engine.paused });
    },
    listDevices: async ({ folderId }) => {
      if (folderId !== undefined) folders.require(folderId);
      const listed = await listFolderDevices(store, engine.parts?.remote ?? null, deviceId, folderId);
      deviceNames.learn(listed.flatMap((f) => f.devices));
      return listed;
    },
    // ── history and restore (main/engine/history) ──
    getHistory: async ({ folderId, path }) => {
      const { remote } = engine.require();
      const items = await readHistory(remote, remoteIdOf(folderId), path);
      // Renamed more than once since: the hint names where the file is now, not the first step.
      const now = items[0]?.movedTo !== undefined ? await nameNow(remote, remoteIdOf(folderId), path, items) : path;
      return { items: await deviceNames.history(items), ...(now !== path ? { nameNow: now } : {}) };
    },
    previewVersion: async ({ folderId, path, revision }) => {
      const { remote } = engine.require();
      const remoteId = remoteIdOf(folderId);
      try {
        return await previewVersion(remote, remoteId, path, revision);
      } catch (error) {
        // A revision of an earlier name (renamed since) is found back through the moves, as a
        // restore by --revision finds it (a new-user try: --show refused what restore took).
        if (!isFerryError(error) || error.code !== 'unknown_revision') throw error;
        const name = await nameOfRevisionOnServer(remote, remoteId, path, revision);
        if (name === undefined || name === path) throw error;
        return previewVersion(remote, remoteId, name, revision);
      }
    },
    listDeleted: async ({ folderId, prefix, since, limit }) =>
      deviceNames.deleted(await readDeleted(engine.require().remote, remoteIdOf(folderId), { ...(prefix ? { prefix } : {}), ...(since ? { since } : {}) }, limit)),
    restore: async ({ folderId, request }) => {
      const current = engine.require();
      await reachable(current, 'restore');
      const outcome = await restoreOnServer(current.remote, remoteIdOf(folderId), request);
      if (outcome.wouldRestore) {
        log.info('restore planned (dry run, nothing sent)', { folder: folderId, would: outcome.wouldRestore.length, failed: outcome.failed.length, skipped: outcome.skipped.length });
        return outcome;
      }
      log.info('restored on the server', { folder: folderId, restored: outcome.restored.length, failed: outcome.failed.length, skipped: outcome.skipped.length });
      // The files come back through the normal pull.
      if (outcome.restored.length > 0 && !engine.paused) engine.syncNow(folderId);
      return outcome;
    },
    listConflicts: async ({ folderId }) => {
      const shown = folderId !== undefined ? [folders.require(folderId)] : folders.list();
      await deviceNames.refreshWithin(500);
      return shown.flatMap((folder) => openConflictCopies(store, folder).map((c) => ({ ...c, deviceName: c.madeBy ?? deviceNames.label(c.device) })));
    },
    getSettings: async () => settings.view(),
    updateSettings: async (update) => {
      const view = await settings.update(update);
      bus.emit({ type: 'settings', settings: settings.view() });
      bus.statusChanged();
      return view;
    },
    // Paired again (Settings, or `ferry agent --pair` to this running agent): the credential is
    // named as this device is, not after the host (a new-user try found two "vm" rows).
    pairDevice: (input) => {
      const before = settings.current;
      // A credential an earlier pairing gave on that server is revoked by this one (docs/sync-api.md, "Pairing again").
      const again = before.serverUrl === input.serverUrl && pairedAs(options.dataDir, before.serverUrl, before.token) !== null;
      return pairAndSave({ ...input, deviceName: input.deviceName ?? deviceName }, (update) => handlers.updateSettings(update), before, (reply) => {
        rememberPairing(options.dataDir, input.serverUrl, reply);
        // Said in Activity too: who this computer syncs as now (a new-user try found no line of it).
        store.activity.add({ kind: 'paired', message: `Paired with ${input.serverUrl} as ${reply.user}${again ? "; the credential this computer used there before is signed out" : ''}` });
        store.settings.set(PAIRING_SAID_KEY, reply.deviceId);
      });
    },
  };

  /** A pairing made while the agent was stopped (`ferry agent --pair`, `ferry start`): said in Activity at its start. */
  function sayPairingMadeWhileStopped(): void {
    const { serverUrl, token } = settings.current;
    const paired = pairedAs(options.dataDir, serverUrl, token);
    if (paired === null || store.settings.get(PAIRING_SAID_KEY) === paired.credential) return;
    store.activity.add({ kind: 'paired', message: `Paired with ${serverUrl} as ${paired.user}` });
    store.settings.set(PAIRING_SAID_KEY, paired.credential);
  }

  return {
    deviceId,
    deviceName,
    dataDir: options.dataDir,
    handlers,
    subscribe: (listener: (event: AgentEvent) => void, types?: ReadonlyArray<AgentEvent['type']>) => bus.subscribe(listener, types),
    status: () => status.status(),
    async start() {
      if (started) return;
      started = true;
      folders.syncRows(settings.current.folders);
      sayPairingMadeWhileStopped();
      await engine.start();
      for (const id of folders.ids()) folders.start(id);
      status.startTicker(() => bus.statusChanged());
      reporter.start(() => folders.ids());
      log.info('agent started', { device: deviceId, folders: settings.current.folders.length, paused: engine.paused });
      bus.statusChanged();
    },
    async stop() {
      if (!started) return store.close();
      started = false;
      // Its last report says it stopped: the others read it as quit at once, not after three
      // minutes of silence (a new-user try). Best effort, STOP_REPORT_MS at most, never failing the stop.
      await reporter.reportStopped(folders.ids(), options.tuning?.stopReportMs).catch(() => undefined);
      // Together: a scan waiting for its folder's turn behind a pull ends once the pull is aborted.
      await Promise.allSettled([folders.stopAll(), engine.stop(), resender.idle()]);
      bus.close();
      status.stop();
      store.close();
      log.info('agent stopped');
    },
  };
}
