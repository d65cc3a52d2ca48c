import path from 'node:path';
import { asFerryError, FerryError } from '../../../protocol/errors';
import type { Logger } from '../../logging';
import type { Folder, Store } from '../../store';
import type { FolderStateName } from '../agent/api';
import { LocalSide, queuedWork, type LocalSideOptions, type PushWake } from '../local-side';
import { goneOf, notMadeYet } from '../folder-marker';
import type { ScanResult, UnsyncableNameView } from '../scanner';
import { FolderCoordinator, type AnswerPorts, type PendingDelete } from './coordinator';
import type { UndoOffer } from './undo';
import type { MassDeleteOptions } from './mass-delete';

/** The local side's tuning the agent passes through (tests and benchmarks). */
export type LocalTuning = Partial<
  Pick<LocalSideOptions, 'watch' | 'watcher' | 'nativeWatch' | 'hashFile' | 'settleMs' | 'maxDelayMs' | 'retryDelayMs' | 'rootCheckMs' | 'deleteQuietMs' | 'deleteMaxHoldMs'>
>;

export interface FolderSetOptions {
  store: Store;
  deviceName: string;
  log: Logger;
  local?: LocalTuning;
  /** How far back local deletes count together for the mass-delete guard (tests). */
  deleteWindowMs?: number;
  /** The thresholds, read at each check: settings change them live. */
  massDelete: () => MassDeleteOptions;
  /** The ignore rules of the settings, read when a folder starts. */
  ignoreRules: () => readonly string[];
  /** A scan ended (`queued`: it queued changes to send) or a folder started (`queued` true). */
  onScanned: (folderId: string, queued: boolean) => void;
  /** The pusher, which each folder's local side wakes itself when a scan queued work. */
  push?: PushWake;
  /** Any change the status shows. */
  onChange: () => void;
  /** A folder's root came back (or was made after the folder was added): pull it now. */
  onRecovered?: (folderId: string) => void;
  /** A folder went into error or out of it: its device digest says so to the other devices. */
  onStateChanged?: (folderId: string) => void;
  /** Names the deleting devices of a held mass delete, or of its Undo offer (their ids are what the feed says). */
  labelDevices?: <T extends { devices: string[] }>(deletes: T) => T;
}

/** The push failure that says the server's disk is full (docs/sync-api.md, 507). */
const SERVER_FULL_CODE = 'insufficient_storage';
const SERVER_FULL_MESSAGE = "The sync server's disk is full: uploads wait there and go up by themselves once it has room";

/** What the status shows of one folder's state. */
export interface FolderStateView {
  state: FolderStateName;
  error: string | null;
  pendingDelete: PendingDelete | null;
  /** A confirmed mass delete that Undo can still bring back. */
  undoDelete: UndoOffer | null;
  /** In error only because its folder does not exist yet: it waits to be created, then syncs. */
  notMadeYet?: true;
  /** In error because the folder or its marker is gone: syncAfresh may take it up as new. */
  gone?: 'marker' | 'folder';
}

/**
 * The synced folders' lifecycle: the store's folder rows following the settings, and per
 * folder its coordinator (state, scans and pulls in turn, answers to a held mass delete,
 * waits for disk space on this device or the server) and its local side (watcher and scans).
 * Folder state is set here and in the coordinator, nowhere else (docs/architecture.md).
 */
export class FolderSet {
  private readonly locals = new Map<string, LocalSide>();
  private readonly coordinators = new Map<string, FolderCoordinator>();

  constructor(private readonly o: FolderSetOptions) {}

  /** The store's folders follow the settings (the remote id is the folder's id). */
  syncRows(folders: ReadonlyArray<{ localPath: string; remoteId: string }>): { added: string[]; removed: string[] } {
    const store = this.o.store;
    const wanted = new Map(folders.map((f) => [f.remoteId, path.resolve(f.localPath)]));
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

  /**
   * Drops the folder's row and everything recorded under it (the store cascades; stopped first),
   * and says why in Activity (whose lines are not the folder's: they stay).
   */
  forget(folderId: string, why: string): void {
    this.o.store.transaction(() => {
      this.o.store.folders.remove(folderId);
      this.o.store.activity.add({ folderId, kind: 'info', path: null, message: why });
    });
    this.coordinators.delete(folderId);
  }

  list(): Folder[] {
    return this.o.store.folders.list();
  }

  ids(): string[] {
    return this.list().map((f) => f.id);
  }

  require(folderId: string): Folder {
    const folder = this.o.store.folders.get(folderId);
    if (!folder) throw new FerryError('not_found', `No folder '${folderId}'`, { status: 404 });
    return folder;
  }

  /** The folder's owner: its state, its scans and pulls in turn, the answer to a held mass delete. */
  coordinator(folderId: string): FolderCoordinator {
    let coordinator = this.coordinators.get(folderId);
    if (!coordinator) {
      coordinator = new FolderCoordinator({
        store: this.o.store,
        folderId,
        massDelete: this.o.massDelete,
        onChange: () => this.o.onChange(),
        onRecovered: (id) => {
          this.o.onStateChanged?.(id);
          this.o.onRecovered?.(id);
        },
        ...(this.o.deleteWindowMs !== undefined ? { deleteWindowMs: this.o.deleteWindowMs } : {}),
      });
      this.coordinators.set(folderId, coordinator);
    }
    return coordinator;
  }

  /** A pull of the folder, in its turn with its scans (a folder no longer synced pulls alone). */
  exclusive<T>(folderId: string, pull: () => Promise<T>): Promise<T> {
    return this.o.store.folders.get(folderId) ? this.coordinator(folderId).run('pull', pull) : pull();
  }

  /** Starts watching and scanning a folder. */
  start(folderId: string): void {
    if (this.locals.has(folderId)) return;
    const local = new LocalSide({
      store: this.o.store,
      folderId,
      ...this.o.local,
      ignoreRules: this.o.ignoreRules(),
      deviceName: this.o.deviceName,
      coordinator: this.coordinator(folderId),
      onScanned: (result: ScanResult) => this.o.onScanned(folderId, queuedWork(result)),
      // What the old rules kept out was never pulled: the next pull lists the whole folder
      // (docs/conflict-rules.md, "Ignored paths"), and runs now.
      onIgnoreChanged: () => {
        this.o.store.tokens.clear(folderId);
        this.o.onRecovered?.(folderId);
      },
      ...(this.o.push ? { push: this.o.push } : {}),
      onError: (error) => {
        // A folder not made yet waits, said by its state (state.ts) and the agent's start: no warning.
        (notMadeYet(error.message) ? this.o.log.info : this.o.log.warn).call(this.o.log, 'folder problem', { folder: folderId, code: error.code, error: error.message });
        this.o.onStateChanged?.(folderId);
        this.o.onChange();
      },
    });
    this.locals.set(folderId, local);
    local.start().then(
      () => {
        this.o.push?.kick();
        this.o.onScanned(folderId, true);
      },
      (error) => this.o.log.error('folder failed to start', { folder: folderId, error: asFerryError(error).message }),
    );
  }

  async stop(folderId: string): Promise<void> {
    const local = this.locals.get(folderId);
    this.locals.delete(folderId);
    await local?.stop();
    if (!this.o.store.folders.get(folderId)) this.coordinators.delete(folderId);
  }

  stopAll(): Promise<unknown> {
    return Promise.allSettled([...this.locals.keys()].map((id) => this.stop(id)));
  }

  /** Sync now: the folder's disk looked at again (nothing when it is not running). */
  rescan(folderId: string): Promise<unknown> | undefined {
    return this.locals.get(folderId)?.rescan();
  }

  /** New ignore rules for the running folders, but those just started with them. */
  setIgnoreRules(rules: readonly string[], except: readonly string[]): void {
    for (const [id, local] of this.locals) if (!except.includes(id)) void local.setIgnoreRules(rules);
  }

  /** A pull could not write for want of space here, or got through again. */
  pullDiskFull(folderId: string, message: string): void {
    if (this.o.store.folders.get(folderId)) this.coordinator(folderId).diskFull('pull', message);
  }

  /** The pull-side pause ended (answered, or withdrawn by the server): local deletes that waited are weighed. */
  pullHoldEnded(folderId: string): void {
    if (this.o.store.folders.get(folderId)) this.coordinator(folderId).pullHoldEnded();
  }

  pullDiskFreed(folderId: string): void {
    this.coordinators.get(folderId)?.diskFreed('pull');
  }

  /**
   * What a push of the folder met: the server's disk full (507) holds the folder in disk_full
   * until an upload of it gets through again (docs/conflict-rules.md, "Full disks").
   */
  pushOutcome(folderId: string, state: string, code: string | undefined): void {
    if (state === 'retry_wait' && code === SERVER_FULL_CODE) {
      if (this.o.store.folders.get(folderId)) this.coordinator(folderId).diskFull('push', SERVER_FULL_MESSAGE);
    } else if (state === 'done') {
      this.coordinators.get(folderId)?.diskFreed('push');
    }
  }

  /** The folder's state as the status shows it. */
  stateOf(folder: Folder): FolderStateView {
    const local = this.locals.get(folder.id);
    const full = folder.state === 'ok' ? (this.coordinators.get(folder.id)?.diskFullMessage() ?? null) : null;
    const scanning = folder.state === 'ok' && local !== undefined && !local.idle;
    const gone = goneOf(folder);
    return {
      state: full !== null ? 'disk_full' : scanning ? 'scanning' : folder.state,
      error: folder.state === 'error' ? (folder.errorMessage ?? folder.errorCode) : full,
      // Counted only for a held folder: status goes out several times a second.
      pendingDelete: folder.state === 'paused_mass_delete' ? this.labelDevices(this.coordinator(folder.id).pendingDelete()) : null,
      undoDelete: this.labelDevices(this.coordinator(folder.id).undoOffer()),
      // Never synced there yet, not a synced folder gone (unmounted, moved): that one is an error.
      ...(folder.state === 'error' && notMadeYet(folder.errorMessage) ? { notMadeYet: true as const } : {}),
      ...(gone !== undefined ? { gone } : {}),
    };
  }

  /** Whether the folder's ignore rules here take this path out of sync (false before its local side runs). */
  ignores(folderId: string, key: string, isDir?: boolean): boolean {
    return this.locals.get(folderId)?.ignores(key, isDir) ?? false;
  }

  /** The folder's names that cannot be synced, with why: none before its local side runs. */
  unsyncableOf(folderId: string): UnsyncableNameView[] {
    return this.locals.get(folderId)?.unsyncableNames() ?? [];
  }

  /** Changes whenever `unsyncableOf` does; -1 before the folder's local side runs. */
  unsyncableVersionOf(folderId: string): number {
    return this.locals.get(folderId)?.unsyncableVersion() ?? -1;
  }

  private labelDevices<T extends { devices: string[] }>(deletes: T | null): T | null {
    return deletes && this.o.labelDevices ? this.o.labelDevices(deletes) : deletes;
  }

  /** The user's answer to a held mass delete, whichever side held it. */
  async answerMassDelete(folderId: string, answer: 'confirm' | 'cancel', ports: () => AnswerPorts): Promise<void> {
    this.require(folderId);
    const coordinator = this.coordinator(folderId);
    await (answer === 'confirm' ? coordinator.confirm(ports(), this.labelDevices(coordinator.pendingDelete())) : coordinator.cancel(ports()));
    this.o.onChange();
  }
}
