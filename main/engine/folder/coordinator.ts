import { createLogger } from '../../logging';
import { asFerryError, FerryError } from '../../../protocol/errors';
import type { MassDeleteSide, Store } from '../../store';
import type { Timers } from '../timers';
import { realTimers } from '../timers';
import { LocalDeleteGuard } from './local-guard';
import { HOLD_SAMPLE_SIZE, type MassDeleteOptions } from './mass-delete';
import { deleteOrigin, type SentBeforeHold } from '../../../shared/pending-delete';
import { restoredWords } from '../../../shared/restore-words';
import { countOf } from '../../../shared/count-words';
import { passingPullError, waitsOnThisDevice } from '../pull/health';
import { restoreSentDeletes } from './restore';
import { folderStates, type FolderStates } from './state';
import { UNDO_KEEP_MS, UndoBatches, type AppliedEvents, type UndoOffer } from './undo';
import { restore, type RestoreOutcome, type RestoreRemote as HistoryRestoreRemote } from '../history/restore-batch';

/** What a folder is doing, as its coordinator sees it. */
export type FolderView =
  | { state: 'ok' | 'scanning' | 'pulling' }
  | { state: 'paused'; side: MassDeleteSide; deletes: number; files: number; reason: string; sample: string[]; devices: string[]; sent?: SentBeforeHold }
  | { state: 'error'; code: string; message: string }
  | { state: 'disk_full'; message: string };

/** The work that met a full disk: a scan or pull (this device's disk) or a push (the server's). */
export type DiskSide = 'scan' | 'pull' | 'push';

/** A held bulk delete, as the user is asked about it. */
export interface PendingDelete {
  count: number;
  total: number;
  /** scan: deleted on this computer; pull: deleted elsewhere, by `devices`. */
  side: 'scan' | 'pull';
  /** A few of the paths it deletes, sorted. */
  sample: string[];
  /** The devices that deleted them (pull side; empty when the server did not say). */
  devices: string[];
  /** Those of `count` not held back (not in `sample`): scan side, whose delete reached the server before the hold; pull side, deleted here by the pulls of its window. */
  sent?: SentBeforeHold;
}

/** What a scan-side hold counts now (LocalDeleteGuard.pending) and the first of its held paths. */
type ScanHoldCounts = ReturnType<LocalDeleteGuard['pending']> & { sample: string[] };

/** How old a scan-side hold's counts may be when a status reads them. */
const HELD_COUNTS_MAX_AGE_MS = 1000;

/** The engine parts an answer to a mass delete uses (the puller and client of the moment). */
export interface AnswerPorts {
  puller: {
    confirmMassDelete(folderId: string): Promise<unknown>;
    cancelMassDelete(folderId: string, first?: () => Promise<void>): Promise<unknown>;
    pullNow(folderId: string): Promise<unknown>;
    /** Which paths a confirmed pull deleted: the batch Undo brings back. */
    events: AppliedEvents;
  };
  /** A scan-side Cancel re-uploads what it sent; a pull-side one restores what the window deleted here (the restore operation). */
  remote: HistoryRestoreRemote;
}

/** An Undo also reads the server's deleted listing and may poll a restore task. */
export interface UndoPorts {
  puller: Pick<AnswerPorts['puller'], 'pullNow'>;
  remote: HistoryRestoreRemote;
  /** Refuses when the server is known unreachable; asked after the local refusals, before the server. */
  reachable?: () => Promise<void>;
}

export interface FolderCoordinatorOptions {
  store: Store;
  folderId: string;
  /** The thresholds, read at each check (settings change them live). */
  massDelete: () => MassDeleteOptions;
  /** Any change of the stored state (the host tells the UI). */
  onChange?: (folderId: string) => void;
  /** The root came back (FolderStates.recovered): the folder syncs again. */
  onRecovered?: (folderId: string) => void;
  timers?: Timers;
  /** The guard's window (tests). */
  deleteWindowMs?: number;
}

/** How long a cancel waits for deletes already in flight to land before it undoes them. */
const IN_FLIGHT_WAIT_MS = 10_000;
/** How many times a confirmed pull runs while it waits a second for this device's own upload. */
const CONFIRM_TRIES = 10;

/**
 * One folder's owner: its state (ok, scanning, pulling, paused for a mass delete on either
 * side, error), its scans and pulls run one after the other, and the answer to a held mass
 * delete, whichever side held it (docs/conflict-rules.md, "Deletes and the mass-delete guard").
 */
export class FolderCoordinator {
  readonly folderId: string;
  readonly states: FolderStates;
  readonly guard: LocalDeleteGuard;
  /** The last confirmed mass delete, while Undo is offered. */
  readonly undoBatches: UndoBatches;
  /**
   * Paths the pull is placing right now (between a rename and its index commit): the scan looks
   * at them again later instead of queueing the pull's own bytes back. The puller adds and
   * removes them; the scanner reads them.
   */
  readonly applying = new Set<string>();
  private readonly store: Store;
  private readonly timers: Timers;
  private readonly log;
  private tail: Promise<unknown> = Promise.resolve();
  private active: 'scan' | 'pull' | null = null;
  private heldCounts: { at: number; value: ScanHoldCounts } | null = null;
  /**
   * Why a disk is full, per side that met it (in memory: the state database may be on that
   * disk): this device's for a scan or pull, the server's (507) for a push.
   */
  private readonly full = new Map<DiskSide, string>();
  private readonly onChange: (folderId: string) => void;

  constructor(options: FolderCoordinatorOptions) {
    this.store = options.store;
    this.folderId = options.folderId;
    this.timers = options.timers ?? realTimers;
    this.log = createLogger('engine:folder', { folder: options.folderId });
    this.onChange = options.onChange ?? (() => undefined);
    this.states = folderStates(this.store, options.onChange, options.onRecovered);
    this.undoBatches = new UndoBatches(this.store, this.folderId, UNDO_KEEP_MS, () => this.timers.now());
    this.guard = new LocalDeleteGuard({
      store: this.store,
      folderId: this.folderId,
      states: this.states,
      options: options.massDelete,
      now: () => this.timers.now(),
      ...(options.deleteWindowMs !== undefined ? { windowMs: options.deleteWindowMs } : {}),
    });
  }

  /** Runs a scan or a pull of this folder once everything queued before it has finished. */
  run<T>(kind: 'scan' | 'pull', job: () => Promise<T>): Promise<T> {
    const run = this.tail.then(async () => {
      this.active = kind;
      try {
        return await job();
      } finally {
        this.active = null;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  view(): FolderView {
    const folder = this.store.folders.require(this.folderId);
    if (folder.state !== 'paused_mass_delete') this.heldCounts = null;
    if (folder.state === 'error') return { state: 'error', code: folder.errorCode ?? 'error', message: folder.errorMessage ?? '' };
    if (folder.state === 'paused_mass_delete') {
      const hold = folder.pausedHold;
      const side = hold?.side ?? 'scan';
      const reason = folder.pausedReason ?? '';
      if (side === 'pull' && hold) {
        // Deleted here by the pulls of its window (docs/conflict-rules.md): not held back, Cancel brings them back.
        const before = hold.removedHere ?? [];
        const sent = before.length > 0 ? { sent: { count: before.length, sample: [...before].sort().slice(0, 3) } } : {};
        return { state: 'paused', side, deletes: hold.deletes, files: hold.files, reason, sample: hold.sample ?? [], devices: hold.devices ?? [], ...sent };
      }
      // This disk's: what the pause weighed (its deletes are queued a batch at a time just
      // after), or more when further deletes joined while it waits.
      const now = this.scanHoldCounts();
      const deletes = Math.max(now.count, hold?.deletes ?? 0);
      return { state: 'paused', side, deletes, files: Math.max(now.total, hold?.files ?? 0), reason, sample: now.sample, devices: [], ...(now.sent.count > 0 ? { sent: now.sent } : {}) };
    }
    const full = this.diskFullMessage();
    if (full !== null) return { state: 'disk_full', message: full };
    return { state: this.active === 'scan' ? 'scanning' : this.active === 'pull' ? 'pulling' : 'ok' };
  }

  /**
   * A scan-side hold's counts and paths, read afresh at most once a second: the view is read for
   * every status, several a second, and counting a hold of 100,000 deletes takes a tenth of a
   * second or more (found by review).
   */
  private scanHoldCounts(): ScanHoldCounts {
    const at = this.timers.now();
    if (this.heldCounts && at - this.heldCounts.at < HELD_COUNTS_MAX_AGE_MS) return this.heldCounts.value;
    const value = { ...this.guard.pending(), sample: this.store.recentDeletes.samplePaths(this.folderId, 0, HOLD_SAMPLE_SIZE) };
    this.heldCounts = { at, value };
    return value;
  }

  /**
   * A pull or scan could not write, or the server refused an upload for want of space: the
   * folder waits in disk_full, and the same work runs again (the puller's retry, the queue's
   * Retry-After, Sync now) until one gets through (docs/conflict-rules.md, "Full disks").
   */
  diskFull(side: DiskSide, message: string): void {
    if (this.full.get(side) === message) return;
    if (this.full.size === 0) this.log.warn('disk full: the folder waits for space', { side, message });
    this.full.set(side, message);
    this.onChange(this.folderId);
  }

  /** That side's work got through again (the other may still wait for space). */
  diskFreed(side: DiskSide): void {
    if (!this.full.delete(side)) return;
    if (this.full.size === 0) this.log.info('disk has room again: the folder syncs');
    this.onChange(this.folderId);
  }

  /** The disk-full message while the folder waits for space, else null. */
  diskFullMessage(): string | null {
    return this.full.values().next().value ?? null;
  }

  /** A held mass delete: how many files it deletes, of how many, which, and from where. */
  pendingDelete(): PendingDelete | null {
    const view = this.view();
    if (view.state !== 'paused') return null;
    return { count: view.deletes, total: view.files, side: view.side, sample: view.sample, devices: view.devices, ...(view.sent ? { sent: view.sent } : {}) };
  }

  /**
   * Yes to the held deletes: the server's are applied here, or this disk's go to the server.
   * `named`: the question with its devices named (FolderSet labels them), for the Activity line.
   */
  async confirm(ports: AnswerPorts, named?: PendingDelete | null): Promise<void> {
    const side = this.heldSide();
    // Said with its count, as Cancel's line is (a new-user try read "deleting on the server" with
    // none, and nothing at all on the device that confirmed another's delete).
    if (side === 'pull') {
      const asked = named ?? this.pendingDelete();
      let passing = false;
      const removedHere = this.store.folders.get(this.folderId)?.pausedHold?.removedHere ?? [];
      // The local deletes that waited are weighed when the pause ends (pullHoldEnded).
      await this.undoBatches.recordPull(ports.puller.events, this.pendingDelete()?.devices ?? [], async () => {
        try {
          await this.confirmPull(ports);
        } catch (error) {
          // Ended all the same when what failed is passing: the next pull applies the rest
          // (docs/conflict-rules.md, "confirm").
          if (this.heldSide() !== null || !asFerryError(error).retryable) throw error;
          passing = true;
          this.log.info('mass delete confirmed; what failed of its pull is applied by the next one', { error });
        }
      }, removedHere);
      if (asked) {
        const what = `the ${countOf(asked.count, 'file')} deleted ${deleteOrigin(asked)}`;
        const message = passing ? `Mass delete confirmed: deleting here ${what}; what failed of it is applied by the next pull` : `Mass delete confirmed: ${what} are deleted here too`;
        this.store.activity.add({ folderId: this.folderId, kind: 'info', message });
      }
      this.onChange(this.folderId);
      return;
    }
    if (side === null) return;
    // In the folder's turn: a burst still being queued is queued whole before the window ends.
    await this.run('scan', async () =>
      this.store.transaction(() => {
        // Counted now, in the folder's turn: the question's counts may be a second old.
        const held = this.store.recentDeletes.countFiles(this.folderId, 0) - this.store.recentDeletes.sentFiles(this.folderId, 0, 0).count;
        this.undoBatches.record('scan', this.store.recentDeletes.list(this.folderId, 0).map((r) => r.path));
        this.store.recentDeletes.clear(this.folderId);
        this.states.resume(this.folderId);
        this.store.activity.add({ folderId: this.folderId, kind: 'info', message: `Mass delete confirmed: deleting ${held > 0 ? `${countOf(held, 'file')} ` : ''}on the server` });
      }),
    );
  }

  /** No to the held deletes: every file they would remove stays, here and on the server. */
  async cancel(ports: AnswerPorts): Promise<void> {
    const side = this.heldSide();
    if (side === 'pull') {
      const folder = this.store.folders.require(this.folderId);
      const removedHere = folder.pausedHold?.removedHere ?? [];
      // What the pulls just before the hold deleted here comes back too: restored on the server
      // from its last version (as Undo restores) while the hold stands, so a failure leaves the
      // question to answer again (found by review), and in the pull's turn, so no look of the held
      // pull weighs the restored files as the deletes being undone and lets the held ones go; the
      // keep pull then brings them down with the rest (docs/conflict-rules.md).
      const bringBack = async () => {
        const here = new Set(this.store.index.present(this.folderId, removedHere));
        const gone = removedHere.filter((p) => !here.has(p));
        if (gone.length > 0) {
          const outcome = await restore(ports.remote, folder.remoteId, { kind: 'deleted', paths: gone });
          if (outcome.failed.length > 0) {
            const first = outcome.failed[0]!;
            throw new FerryError(first.code, `Cancel could not bring back ${countOf(outcome.failed.length, 'file')} deleted here before the question (${first.path}: ${first.message}); the question stays: answer it again`, { retryable: true });
          }
          const back = restoredWords({ restored: outcome.restored.length, folders: outcome.folders });
          const left = outcome.skipped.length;
          const message =
            `Mass delete cancelled: ${back ? `${back.what} deleted here by the pulls just before the question come back from the server` : 'nothing deleted before the question needed bringing back'}` +
            (left > 0 ? `; ${left.toLocaleString('en')} left as ${left === 1 ? 'it is' : 'they are'} (written again since)` : '');
          this.store.activity.add({ folderId: this.folderId, kind: 'info', message });
          this.log.info('mass delete cancelled: the window deleted before the hold restored', { restored: outcome.restored.length, left });
        }
      };
      await ports.puller.cancelMassDelete(this.folderId, bringBack);
      return;
    }
    if (side === null) return;
    // In the folder's turn: a burst still being queued is queued whole, so every delete of it
    // is dropped here, none left to go out once the folder syncs again.
    const { dropped, restored } = await this.run('scan', async () => {
      await this.inFlightDeletesLanded();
      const folder = this.store.folders.require(this.folderId);
      const restored = await restoreSentDeletes(this.store, this.folderId, folder.remoteId, ports.remote);
      const dropped = this.store.transaction(() => {
        const rows = this.store.queue.dropPendingDeletes(this.folderId);
        // A full pull brings back every file the index no longer holds.
        this.store.tokens.clear(this.folderId);
        this.store.recentDeletes.clear(this.folderId);
        this.states.resume(this.folderId);
        return { files: rows.filter((r) => r.kind === 'file').length, folders: rows.filter((r) => r.kind === 'dir').length };
      });
      return { dropped, restored };
    });
    // Files and folders counted apart, as the undo's line counts them ("21 entries" beside "20
    // files are kept" read as one too many; "files and folders" when all were files, untrue).
    const back = restoredWords({ restored: dropped.files + restored.files, folders: dropped.folders + restored.folders });
    // Nothing counted: nothing was deleted, or what was could not be restored (each said on its own line).
    const message = back ? `Mass delete cancelled: what it deleted comes back from the server (${back.what})` : 'Mass delete cancelled';
    this.store.activity.add({ folderId: this.folderId, kind: 'info', message });
    this.log.info('mass delete cancelled', { dropped, restored });
    await this.pullAfter(ports.puller, 'cancel');
  }

  /**
   * The pull that brings back what an answer restored. One that cannot run now (paused, offline)
   * runs once it can; the answer is done either way, and says so, not the pull's error (found by
   * a new-user try: an Undo while paused answered "Request aborted"; found by review: Cancel too).
   */
  private async pullAfter(puller: Pick<AnswerPorts['puller'], 'pullNow'>, answer: string): Promise<void> {
    await puller.pullNow(this.folderId).catch((error: unknown) => this.log.info(`pull after the ${answer} deferred`, { code: asFerryError(error).code }));
  }

  /** The last confirmed mass delete while it can be undone. */
  undoOffer(): UndoOffer | null {
    return this.undoBatches.offer();
  }

  /** Undo of the last confirmed mass delete: restored on the server, then pulled back here. */
  async undo(ports: UndoPorts): Promise<RestoreOutcome> {
    const folder = this.store.folders.require(this.folderId);
    const outcome = await this.undoBatches.undo(ports.remote, folder.remoteId, ports.reachable);
    this.log.info('mass delete undone', { restored: outcome.restored.length, skipped: outcome.skipped.length, failed: outcome.failed.length });
    this.onChange(this.folderId);
    await this.pullAfter(ports.puller, 'undo');
    return outcome;
  }

  /** The user closed the Undo offer. */
  dismissUndo(): void {
    this.undoBatches.dismiss();
    this.onChange(this.folderId);
  }

  private heldSide(): MassDeleteSide | null {
    const view = this.view();
    return view.state === 'paused' ? view.side : null;
  }

  /**
   * The pull-side pause ended, answered or withdrawn by the server (in the same turn as the
   * resume, before any claim): the local deletes that waited are weighed now.
   */
  pullHoldEnded(): void {
    this.weighWaitingDeletes();
  }

  /**
   * Local deletes seen while the pull waited were queued without a verdict: weigh them now, all
   * of them however long the question waited (docs/conflict-rules.md, "Local deletes while the
   * question waits").
   */
  private weighWaitingDeletes(): void {
    this.store.transaction(() => this.guard.judge(0, { wholeWindow: true }));
  }

  /**
   * The confirmed pull, run again a second later while it fails whole for a wait of a second on
   * this device's own upload (a full listing that lacks a create sent and not answered yet), up
   * to CONFIRM_TRIES times (docs/conflict-rules.md, "confirm"; chaos seed 40376).
   */
  private async confirmPull(ports: AnswerPorts): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await ports.puller.confirmMassDelete(this.folderId);
        return;
      } catch (error) {
        const e = asFerryError(error);
        if (attempt >= CONFIRM_TRIES || this.heldSide() !== 'pull' || !waitsOnThisDevice(e) || passingPullError(e)) throw error;
        await new Promise<void>((resolve) => this.timers.setTimeout(resolve, (e.retryAfterSeconds ?? 1) * 1000));
      }
    }
  }

  /** A paused folder sends nothing new, but a delete claimed before the pause may still be on its way. */
  private async inFlightDeletesLanded(): Promise<void> {
    const deadline = this.timers.now() + IN_FLIGHT_WAIT_MS;
    const inFlight = () => this.store.queue.page({ state: 'in_flight', folderId: this.folderId, offset: 0, limit: 1000 }).items.some((i) => i.op === 'delete');
    while (inFlight() && this.timers.now() < deadline) {
      await new Promise<void>((resolve) => this.timers.setTimeout(resolve, 50));
    }
  }
}
