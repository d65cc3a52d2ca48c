import { FerryError } from '../../protocol/errors';
import { pairAndSave } from '../../main/engine/agent/pairing';
import type {
  ActivityEntry,
  AgentEvent,
  AgentService,
  ContractHandlers,
  FolderStatus,
  QueueItem,
  QueueState,
  SettingsView,
  Status,
} from '../../shared/ui-contract';

/**
 * A faithful in-memory stand-in for the agent behind the UI contract: a queue, folders,
 * activity and settings, with the events the real agent emits after each change. It lets the
 * real control server and the real renderer be tested without the engine.
 */
export interface FakeAgent extends AgentService {
  readonly queue: QueueItem[];
  readonly folders: FolderStatus[];
  readonly calls: Array<{ method: string; input: unknown }>;
  paused: boolean;
  emit(event: AgentEvent): void;
  listenerCount(): number;
  /**
   * Puts a folder in the "mass delete waits for you" state and tells the UI: a pull-side hold, or
   * with `sent` a scan-side one whose first `sent` deletes had gone to the server before it.
   */
  pauseForMassDelete(folderId: string, count: number, total: number, sent?: number): void;
}

export interface FakeAgentOptions {
  /** Queue items to start with (see makeQueueItems). */
  items?: QueueItem[];
  now?: () => Date;
}

const FOLDERS: FolderStatus[] = [
  { id: 'docs', localPath: '/home/ada/Documents', remoteId: 'docs', state: 'ok', error: null, lastSyncAt: null, pendingDelete: null },
  { id: 'photos', localPath: '/home/ada/Pictures', remoteId: 'photos-2024', state: 'ok', error: null, lastSyncAt: null, pendingDelete: null },
];

/** `count` items spread over the fake's folders; every `failedEvery`-th one failed. */
export function makeQueueItems(count: number, options: { failedEvery?: number; start?: Date } = {}): QueueItem[] {
  const failedEvery = options.failedEvery ?? 0;
  const at = (options.start ?? new Date('2025-01-02T03:04:05Z')).toISOString();
  const states: QueueState[] = ['pending', 'in_flight', 'retry_wait', 'done'];
  return Array.from({ length: count }, (_, index) => {
    const id = index + 1;
    const failed = failedEvery > 0 && id % failedEvery === 0;
    const state: QueueState = failed ? 'failed' : (states[index % states.length] ?? 'pending');
    return {
      id,
      folderId: index % 2 === 0 ? 'docs' : 'photos',
      path: `dir-${Math.floor(index / 100)}/file-${id}.txt`,
      op: index % 7 === 3 ? 'delete' : 'upsert',
      state,
      attempts: failed ? 4 : state === 'retry_wait' ? 1 : 0,
      nextAttemptAt: state === 'retry_wait' ? at : null,
      bytesDone: state === 'in_flight' ? 512 * 1024 : 0,
      bytesTotal: 1024 * 1024,
      error: failed ? { code: 'unavailable', message: 'server unavailable (503)' } : null,
      updatedAt: at,
    };
  });
}

export function createFakeAgent(options: FakeAgentOptions = {}): FakeAgent {
  const now = options.now ?? (() => new Date());
  const queue = options.items ?? makeQueueItems(20, { failedEvery: 5 });
  const folders = FOLDERS.map((folder) => ({ ...folder }));
  const activity: ActivityEntry[] = [];
  const listeners = new Set<(event: AgentEvent) => void>();
  const calls: Array<{ method: string; input: unknown }> = [];
  let settings: SettingsView = {
    serverUrl: 'http://127.0.0.1:8080',
    folders: folders.map(({ localPath, remoteId }) => ({ localPath, remoteId })),
    concurrency: 4,
    retryLimit: 3,
    bandwidthLimit: 0,
    ignoreRules: ['*.tmp'],
    startAtLogin: false,
    notifications: true,
    massDeletePercent: 50,
    massDeleteCount: 1000,
    asyncThreshold: 1000,
    hasToken: true,
    tokenProtection: 'plaintext',
  };
  let lastSyncAt: string | null = null;

  const emit = (event: AgentEvent) => {
    for (const listener of [...listeners]) listener(event);
  };
  const status = (): Status => {
    const counts = { pending: 0, in_flight: 0, retry_wait: 0, failed: 0, done: 0 };
    for (const item of queue) counts[item.state] += 1;
    return {
      // A mass delete pauses its folder, not the agent.
      state: agent.paused ? 'paused' : counts.in_flight > 0 ? 'syncing' : 'idle',
      counts,
      folders: folders.map((folder) => ({ ...folder })),
      lastSyncAt,
      rates: { uploadBytesPerSec: counts.in_flight ? 1_250_000 : 0, downloadBytesPerSec: 0, itemsPerSec: counts.in_flight ? 3 : 0 },
      run: counts.in_flight ? { name: 'run-1', itemsLeft: counts.pending + counts.in_flight, bytesLeft: 5_000_000 } : null,
      deviceId: 'device-0001',
      deviceName: 'test-laptop',
    };
  };
  const record = (kind: ActivityEntry['kind'], message: string, folderId: string | null = null, path: string | null = null) => {
    const entry: ActivityEntry = { id: activity.length + 1, at: now().toISOString(), folderId, kind, path, message };
    activity.unshift(entry);
    emit({ type: 'activity', entry });
  };
  const retryItems = (items: QueueItem[]) => {
    const at = now().toISOString();
    for (const item of items) Object.assign(item, { state: 'pending', attempts: 0, error: null, nextAttemptAt: null, updatedAt: at });
    if (items.length) emit({ type: 'queue', items: items.map((item) => ({ ...item })) });
    emit({ type: 'status', status: status() });
    return { retried: items.length };
  };
  const folderWaiting = (folderId: string) => {
    const folder = folders.find((candidate) => candidate.id === folderId);
    if (!folder?.pendingDelete) throw new FerryError('no_pending_delete', `folder ${folderId} has no mass delete waiting`, { status: 409 });
    return folder;
  };
  const track = <I, O>(method: string, body: (input: I) => O) => async (input: I): Promise<O> => {
    calls.push({ method, input });
    return body(input);
  };

  const handlers: ContractHandlers = {
    getStatus: track('getStatus', () => status()),
    listQueue: track('listQueue', (query) => {
      const matching = queue.filter((item) => (!query.state || item.state === query.state) && (!query.folderId || item.folderId === query.folderId));
      return { items: matching.slice(query.offset, query.offset + query.limit).map((item) => ({ ...item })), total: matching.length };
    }),
    listActivity: track('listActivity', ({ limit }) => activity.slice(0, limit)),
    syncNow: track('syncNow', ({ folderId }) => {
      lastSyncAt = now().toISOString();
      record('sync', folderId ? `sync requested for ${folderId}` : 'sync requested', folderId ?? null);
      emit({ type: 'status', status: status() });
      return { ok: true as const };
    }),
    pause: track('pause', () => {
      agent.paused = true;
      emit({ type: 'status', status: status() });
      return { ok: true as const };
    }),
    resume: track('resume', () => {
      agent.paused = false;
      emit({ type: 'status', status: status() });
      return { ok: true as const };
    }),
    retry: track('retry', (input) => {
      if ('all' in input) return retryItems(queue.filter((item) => item.state === 'failed'));
      const item = queue.find((candidate) => candidate.id === input.id);
      if (!item) throw new FerryError('not_found', `no queue item ${input.id}`);
      if (item.state !== 'failed') throw new FerryError('not_failed', `item ${input.id} is ${item.state}, not failed`, { status: 409 });
      return retryItems([item]);
    }),
    explainPath: track('explainPath', ({ path, folderId }) => {
      const item = queue.find((candidate) => candidate.path === path && (!folderId || candidate.folderId === folderId));
      if (!item) throw new FerryError('not_found', `${path} is not in any synced folder`, { status: 404 });
      const failed = item.state === 'failed';
      return {
        folderId: item.folderId,
        path,
        inSync: item.state === 'done',
        reasons: [failed ? { code: 'failed' as const, message: `Its upload failed: ${item.error?.message ?? ''}` } : { code: 'in_sync' as const, message: 'In sync' }],
        local: { exists: true, kind: 'file' as const, size: item.bytesTotal, modifiedAt: item.updatedAt },
        synced: null,
      };
    }),
    listDevices: track('listDevices', ({ folderId }) =>
      folders
        .filter((folder) => !folderId || folder.id === folderId)
        .map((folder) => ({
          folderId: folder.id,
          error: null,
          devices: [
            { device: 'd-self', name: 'laptop', version: 'ferry/0.1.0', self: true, lastSeen: now().toISOString(), behind: 0, upToDate: true, pending: 0, failedCount: 0, failures: [] },
            { device: 'd-2', name: 'desktop', version: 'ferry/0.1.0', self: false, lastSeen: now().toISOString(), behind: 3, upToDate: false, pending: 1, failedCount: 0, failures: [] },
          ],
        })),
    ),
    confirmMassDelete: track('confirmMassDelete', ({ folderId }) => {
      const folder = folderWaiting(folderId);
      record('deleted', `deleted ${folder.pendingDelete?.count ?? 0} files after confirmation`, folderId);
      Object.assign(folder, { pendingDelete: null, state: 'ok' });
      emit({ type: 'status', status: status() });
      return { ok: true as const };
    }),
    cancelMassDelete: track('cancelMassDelete', ({ folderId }) => {
      const folder = folderWaiting(folderId);
      record('info', 'mass delete cancelled; files will be restored', folderId);
      Object.assign(folder, { pendingDelete: null, state: 'ok' });
      emit({ type: 'status', status: status() });
      return { ok: true as const };
    }),
    // Undo needs the server's history, which this fake does not keep (the real path: test/integration/agent-undo.test.ts).
    undoMassDelete: track('undoMassDelete', () => {
      throw new FerryError('nothing_to_undo', 'Nothing to undo in this folder', { status: 409 });
    }),
    dismissUndo: track('dismissUndo', () => ({ ok: true as const })),
    // Forgetting a folder's records needs the real store (the real path: test/integration/agent-sync-afresh.test.ts).
    syncAfresh: track('syncAfresh', () => {
      throw new FerryError('not_detached', 'This fake keeps no folder records', { status: 409 });
    }),
    // History and restore: this fake keeps no server history (the real path is tested in test/integration).
    getHistory: track('getHistory', () => ({ items: [] })),
    previewVersion: track('previewVersion', () => {
      throw new FerryError('unknown_revision', 'This fake keeps no versions', { status: 404 });
    }),
    listDeleted: track('listDeleted', () => ({ items: [] })),
    listConflicts: track('listConflicts', () => ({ items: [] })),
    restore: track('restore', () => ({ restored: 0, folders: 0, failed: [], skipped: [] })),
    getSettings: track('getSettings', () => settings),
    updateSettings: track('updateSettings', (update) => {
      // What only the agent can check: the schema cannot know the file system.
      const fields: Record<string, string> = {};
      update.folders.forEach((folder, index) => {
        if (!folder.localPath.startsWith('/')) fields[`folders.${index}.localPath`] = 'use an absolute path';
      });
      if (Object.keys(fields).length) throw new FerryError('invalid_settings', 'some settings were refused', { status: 400, details: { fields } });
      const { token, ...rest } = update;
      settings = { ...settings, ...rest, hasToken: settings.hasToken || Boolean(token) };
      emit({ type: 'settings', settings });
      return settings;
    }),
    // The real exchange against whatever server the form names, then this fake's save.
    pairDevice: async (input) => {
      calls.push({ method: 'pairDevice', input: { ...input, pairingCode: '(redacted)' } });
      return pairAndSave(input, (update) => handlers.updateSettings(update));
    },
  };

  const agent: FakeAgent = {
    handlers,
    queue,
    folders,
    calls,
    paused: false,
    emit,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    listenerCount: () => listeners.size,
    pauseForMassDelete(folderId, count, total, sent) {
      const folder = folders.find((candidate) => candidate.id === folderId);
      if (!folder) throw new Error(`unknown folder ${folderId}`);
      const name = (i: number) => `IMG_${String(i + 1).padStart(4, '0')}.jpg`;
      const sample = Array.from({ length: Math.min(count - (sent ?? 0), 10) }, (_, i) => name(i + (sent ?? 0)));
      const pendingDelete =
        sent === undefined
          ? { count, total, side: 'pull', sample, devices: ['laptop'] }
          : { count, total, side: 'scan', sample, devices: [], sent: { count: sent, sample: Array.from({ length: Math.min(sent, 10) }, (_, i) => name(i)) } };
      Object.assign(folder, { pendingDelete, state: 'paused_mass_delete' });
      emit({ type: 'status', status: status() });
    },
  };
  return agent;
}
